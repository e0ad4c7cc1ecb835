/**
 * The shipped Grafana dashboard: a well-formed Grafana 10/11 dashboard whose every query is valid
 * PromQL (Prometheus' own grammar) and names only metrics the proxy exports, as its catalog
 * registers them, so a renamed or removed metric cannot leave a dashboard panel silently empty.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/proxy';
import { exportedMetricNames } from './exported-metrics';

const DASHBOARD = path.join(REPO_ROOT, 'docs/grafana/pproxy-dashboard.json');

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface TemplateVariable {
  name: string;
  type: string;
  query?: string | { query: string };
  datasource?: { type?: string; uid?: string };
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: TemplateVariable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
/** Prometheus' PromQL grammar; an ES module, so imported rather than required. */
const promql = import('@prometheus-io/lezer-promql');
type PromqlParser = Awaited<typeof promql>['parser'];

/** Every panel, those nested in collapsed rows included. */
function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Grafana's variables as Prometheus would see them after interpolation: a regex, a range. */
function interpolate(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{\w+(:\w+)?\}|\$\w+/g, '.+');
}

/** The metric names an expression selects, histograms' _bucket/_sum/_count read as their family. */
function metricNames(parser: PromqlParser, expr: string): string[] {
  const source = interpolate(expr);
  const names: string[] = [];
  const errors: number[] = [];
  parser.parse(source).iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') names.push(source.slice(node.from, node.to));
    },
  });
  assert.deepEqual(errors, [], `not valid PromQL (error at ${errors.join(', ')}): ${expr}`);
  return names;
}

function familyOf(name: string, exported: ReadonlySet<string>): string {
  if (exported.has(name)) return name;
  const histogram = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  return histogram !== undefined && exported.has(histogram) ? histogram : name;
}

/** The metric of a Grafana `label_values(metric{...}, label)` variable query. */
function variableMetric(query: string): string {
  const m = /^label_values\((.+),\s*\w+\)$/.exec(query);
  assert.ok(m, `variable query is not label_values(selector, label): ${query}`);
  return m[1]!;
}

test('the dashboard is a Grafana 10/11 dashboard: panels with a Prometheus datasource, targets and unique ids, on the 24-column grid', () => {
  assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
  assert.ok(dashboard.uid && dashboard.title);
  const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
  assert.equal(variables.get('datasource')?.type, 'datasource');
  assert.equal(variables.get('datasource')?.query, 'prometheus');
  for (const name of ['instance', 'topic']) assert.equal(variables.get(name)?.type, 'query', `template variable ${name}`);

  const panels = allPanels(dashboard.panels);
  const ids = panels.map((p) => p.id);
  assert.ok(ids.every((id) => Number.isInteger(id)), 'every panel has an integer id');
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const queried = panels.filter((p) => p.type !== 'row');
  assert.ok(queried.length >= 20, `${queried.length} panels`);
  for (const panel of queried) {
    const where = `panel ${panel.id} "${panel.title}"`;
    assert.ok(panel.title, `${where} has a title`);
    assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' }, `${where} datasource`);
    assert.ok(panel.targets && panel.targets.length > 0, `${where} has targets`);
    const refIds = panel.targets.map((t) => t.refId);
    assert.equal(new Set(refIds).size, refIds.length, `${where} refIds are unique`);
    for (const target of panel.targets) {
      assert.ok(target.refId && target.expr, `${where} target has a refId and an expr`);
      assert.deepEqual(target.datasource ?? panel.datasource, panel.datasource, `${where} target datasource`);
    }
    const g = panel.gridPos!;
    assert.ok(g.w > 0 && g.h > 0 && g.x >= 0 && g.x + g.w <= 24, `${where} gridPos ${JSON.stringify(g)}`);
  }
  for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
    assert.deepEqual(v.datasource, { type: 'prometheus', uid: '${datasource}' }, `variable ${v.name} datasource`);
  }
});

test('every expression of the dashboard is valid PromQL naming a metric the proxy exports', async () => {
  const { parser } = await promql;
  const exported = await exportedMetricNames();
  const used = new Map<string, string[]>();
  const note = (name: string, where: string) => used.set(name, [...(used.get(name) ?? []), where]);
  for (const panel of allPanels(dashboard.panels)) {
    for (const target of panel.targets ?? []) {
      for (const name of metricNames(parser, target.expr!)) note(familyOf(name, exported), `panel "${panel.title}"`);
    }
  }
  for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
    const query = typeof v.query === 'string' ? v.query : v.query!.query;
    for (const name of metricNames(parser, variableMetric(query))) note(familyOf(name, exported), `variable ${v.name}`);
  }

  const requiredByTask = [
    'pproxy_messages_received_total',
    'pproxy_messages_answered_total',
    'pproxy_request_duration_seconds',
    'pproxy_storage_write_duration_seconds',
    'pproxy_storage_errors_total',
    'pproxy_batch_messages',
    'pproxy_batch_bytes',
    'pproxy_process_resident_memory_bytes',
  ];
  for (const name of requiredByTask) assert.ok(used.has(name), `the dashboard shows ${name}`);
  const unknown = [...used].filter(([name]) => !exported.has(name)).map(([name, where]) => `${name} (${[...new Set(where)].join(', ')})`);
  assert.deepEqual(unknown, [], 'metrics the dashboard queries that the proxy does not export');
});

test('the PromQL check rejects what it must: a misspelt metric, a syntax error', async () => {
  const { parser } = await promql;
  const exported = await exportedMetricNames();
  assert.deepEqual(
    metricNames(parser, 'sum by (topic) (rate(pproxy_mesages_received_total{topic=~"$topic"}[$__rate_interval]))').map((n) => familyOf(n, exported)),
    ['pproxy_mesages_received_total'],
  );
  assert.deepEqual(
    metricNames(parser, 'histogram_quantile(0.99, sum by (le) (rate(pproxy_request_duration_seconds_bucket[5m])))').map((n) => familyOf(n, exported)),
    ['pproxy_request_duration_seconds'],
  );
  assert.throws(() => metricNames(parser, 'sum(rate(pproxy_messages_received_total[5m]) by'), /not valid PromQL/);
});
