/**
 * docs/metrics.md's reference table, rendered from the catalog's registry (name, type, labels,
 * help): the doc says what the proxy exports because it is made from what the proxy registers.
 * Run as a script after a build to rewrite the table in the doc:
 * `node dist/test/docs/metrics-reference.js`; test/docs/metrics-reference.test.ts fails when the doc
 * and the catalog differ.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import { REPO_ROOT } from '../helpers/proxy';

export const METRICS_DOC = path.join(REPO_ROOT, 'docs/metrics.md');
export const TABLE_BEGIN = '<!-- metric table: generated from src/metrics/proxy-metrics.ts by `node dist/test/docs/metrics-reference.js`; do not edit -->';
export const TABLE_END = '<!-- end of metric table -->';

export interface MetricEntry {
  readonly name: string;
  readonly type: string;
  readonly labels: readonly string[];
  readonly help: string;
}

/** Every family registered with metrics on, in registration order. */
export async function catalogEntries(): Promise<MetricEntry[]> {
  const { registry } = new ProxyMetrics(true);
  return (await registry.getMetricsAsJSON()).map((family) => ({
    name: family.name,
    type: String(family.type),
    labels: labelNames(registry, family.name),
    help: family.help,
  }));
}

/** prom-client's metrics and the catalog's families both keep their label names in `labelNames`. */
function labelNames(registry: Registry, name: string): readonly string[] {
  const labels = (registry.getSingleMetric(name) as unknown as { labelNames?: unknown }).labelNames;
  if (!Array.isArray(labels)) throw new Error(`${name}: no labelNames on the registered metric`);
  return labels as string[];
}

export function renderTable(entries: readonly MetricEntry[]): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = entries.map((e) => `| \`${e.name}\` | ${e.type} | ${e.labels.map((l) => `\`${l}\``).join(', ')} | ${cell(e.help)} |`);
  return [TABLE_BEGIN, '', '| metric | type | labels | meaning |', '|---|---|---|---|', ...rows, '', TABLE_END].join('\n');
}

/** The doc's table as written, from its begin marker to its end marker. */
export function tableInDoc(doc: string): string {
  const begin = doc.indexOf(TABLE_BEGIN);
  const end = doc.indexOf(TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`${METRICS_DOC} has no generated metric table (markers missing)`);
  return doc.slice(begin, end + TABLE_END.length);
}

async function rewriteDoc(): Promise<void> {
  const doc = readFileSync(METRICS_DOC, 'utf8');
  writeFileSync(METRICS_DOC, doc.replace(tableInDoc(doc), renderTable(await catalogEntries())));
}

if (require.main === module) {
  rewriteDoc().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  });
}
