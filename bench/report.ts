/**
 * The results: a table on stdout (one row per scenario and system), the ratios between systems,
 * what scenarios 4 and 5 check, every note; and all of it as JSON.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunResult } from './measure';
import type { RunPlan, Scenario, ScenarioId } from './scenarios';
import { SYSTEMS, type SystemId } from './systems';

export interface FailedRun {
  plan: Pick<RunPlan, 'scenario' | 'system' | 'baseline' | 'metrics' | 'tls'>;
  error: string;
}

export type Row = RunResult | FailedRun;

const isFailed = (row: Row): row is FailedRun => 'error' in row;

/** Throughput and p99 of one system against another; batch rows compare with 1/f and 1/i, their only runs. */
const RATIOS: { label: string; of: [ScenarioId, SystemId]; to: [ScenarioId, SystemId] }[] = [
  { label: 'sendSync: pproxy->Kafka / stock thrift no-op', of: ['1', 'd'], to: ['1', 'b'] },
  { label: 'sendSync: pproxy->Kafka / kafkajs 1 msg/send', of: ['1', 'd'], to: ['1', 'e'] },
  { label: 'batch: pproxy->Kafka / stock thrift no-op', of: ['2', 'd'], to: ['2', 'b'] },
  { label: 'batch: pproxy->local / kafkajs 50 msgs/send', of: ['2', 'c'], to: ['1', 'f'] },
  { label: 'batch: pproxy->Kafka / kafkajs 50 msgs/send', of: ['2', 'd'], to: ['1', 'f'] },
  { label: 'sendSync: pproxy->real Kafka 4 / kafkajs 1 msg/send', of: ['1', 'g'], to: ['1', 'h'] },
  { label: 'batch: pproxy->real Kafka 4 / kafkajs 50 msgs/send', of: ['2', 'g'], to: ['1', 'i'] },
  { label: 'sendSync: pproxy->real Kafka 4 / ->Kafka mock', of: ['1', 'g'], to: ['1', 'd'] },
];

export interface Ratio {
  label: string;
  of: string;
  to: string;
  msgsPerSec: number;
  p99: number;
}

export function ratios(rows: Row[]): Ratio[] {
  const measured = ([scenario, system]: [ScenarioId, SystemId], baseline = false) =>
    rows.filter((r): r is RunResult => !isFailed(r) && r.plan.scenario === scenario && r.plan.system === system && !!r.plan.baseline === baseline);
  // the build's own runs with metrics and TLS off, unless it ran only with them on
  const find = (id: [ScenarioId, SystemId], baseline = false) => {
    const own = measured(id, baseline);
    return own.find((r) => !r.plan.metrics && !r.plan.tls) ?? own.find((r) => !r.plan.metrics) ?? own[0];
  };
  const ratio = (label: string, a: RunResult, b: RunResult, of: string, to: string): Ratio => ({
    label,
    of,
    to,
    msgsPerSec: a.msgsPerSec / b.msgsPerSec,
    p99: a.latencyMs.p99 / b.latencyMs.p99,
  });
  const between = RATIOS.flatMap(({ label, of, to }) => {
    const a = find(of);
    const b = find(to);
    return a && b ? [ratio(label, a, b, of.join('/'), to.join('/'))] : [];
  });
  return between;
}

/**
 * One variant of a pproxy run over another, pair by pair in the order run: metrics on over off
 * (--metrics on,off), TLS on over off (--tls on,off), or this build over the baseline's in the same
 * settings (--baseline); every other setting the same within a pair.
 */
export interface PairedRatios {
  /** scenario/system, `[m]` appended when the pair ran with metrics on, `[t]` with TLS on */
  id: string;
  pairs: { msgsPerSec: number; p99: number; cpuPerMessage: number }[];
  medianMsgsPerSec: number;
  medianP99: number;
  medianCpuPerMessage: number;
}

const runId = (r: RunResult, settings: { metrics?: boolean; tls?: boolean }) =>
  `${r.plan.scenario}/${r.plan.system}${settings.metrics && r.plan.metrics ? '[m]' : ''}${settings.tls && r.plan.tls ? '[t]' : ''}`;

export function metricsCost(rows: Row[]): PairedRatios[] {
  const own = rows.filter((r): r is RunResult => !isFailed(r) && !r.plan.baseline);
  return paired(own, (r) => runId(r, { tls: true }), (r) => !!r.plan.metrics);
}

/** TLS on the Thrift port over plain TCP (--tls on,off), each metrics setting apart. */
export function tlsCost(rows: Row[]): PairedRatios[] {
  const own = rows.filter((r): r is RunResult => !isFailed(r) && !r.plan.baseline);
  return paired(own, (r) => runId(r, { metrics: true }), (r) => !!r.plan.tls);
}

/** This build over the baseline's (--baseline), each metrics and TLS setting apart. */
export function baselineCost(rows: Row[]): PairedRatios[] {
  const measured = rows.filter((r): r is RunResult => !isFailed(r));
  return paired(measured, (r) => runId(r, { metrics: true, tls: true }), (r) => !r.plan.baseline);
}

/** The runs grouped by `id`, the i-th run where `isA` holds over the i-th where it does not. */
function paired(rows: readonly RunResult[], id: (r: RunResult) => string, isA: (r: RunResult) => boolean): PairedRatios[] {
  const byRun = new Map<string, { a: RunResult[]; b: RunResult[] }>();
  for (const row of rows) {
    const runs = byRun.get(id(row)) ?? { a: [], b: [] };
    runs[isA(row) ? 'a' : 'b'].push(row);
    byRun.set(id(row), runs);
  }
  return [...byRun].flatMap(([key, { a, b }]) => {
    const pairs = a.slice(0, b.length).map((r, i) => ({
      msgsPerSec: r.msgsPerSec / b[i]!.msgsPerSec,
      p99: r.latencyMs.p99 / b[i]!.latencyMs.p99,
      cpuPerMessage: r.cpuUsPerMessage / b[i]!.cpuUsPerMessage,
    }));
    if (pairs.length === 0) return [];
    const of = (k: keyof (typeof pairs)[number]) => median(pairs.map((p) => p[k]));
    return [{ id: key, pairs, medianMsgsPerSec: of('msgsPerSec'), medianP99: of('p99'), medianCpuPerMessage: of('cpuPerMessage') }];
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
const failures = (f: Record<string, number>) =>
  Object.entries(f)
    .map(([k, n]) => `${/^\d+$/.test(k) ? `code ${k}` : k}: ${int(n)}`)
    .join(', ') || '-';
const loadOf = (plan: RunPlan) => (plan.load.kind === 'closed' ? `${int(plan.load.callers)} in flight` : `open ${int(plan.load.callsPerSec)}/s`);

const COLUMNS: [string, number][] = [
  ['system', 40],
  ['load', 15],
  ['msgs/s', 9],
  ['p50 ms', 8],
  ['p99 ms', 8],
  ['p99.9 ms', 9],
  ['RSS MiB', 8],
  ['CPU us/msg', 10],
  ['unanswered', 11],
  ['not OK', 0],
];

function line(cells: string[]): string {
  return cells.map((cell, i) => (i === 0 || i === 1 || i === cells.length - 1 ? cell.padEnd(COLUMNS[i]![1]) : cell.padStart(COLUMNS[i]![1]))).join('  ').trimEnd();
}

export function formatReport(scenarios: Scenario[], rows: Row[]): string {
  const out: string[] = [line(COLUMNS.map(([name]) => name))];
  for (const scenario of scenarios) {
    const own = rows.filter((r) => r.plan.scenario === scenario.id);
    if (own.length === 0) continue;
    out.push('', `${scenario.id}. ${scenario.title}`);
    for (const row of own) {
      const system = `${row.plan.system}${row.plan.baseline ? '[b]' : ''}${row.plan.metrics ? '[m]' : ''}${row.plan.tls ? '[t]' : ''} ${SYSTEMS[row.plan.system]}`;
      if (isFailed(row)) {
        out.push(`${system.padEnd(COLUMNS[0]![1])}  FAILED: ${row.error.replace(/\s*\n\s*/g, '; ')}`);
        continue;
      }
      out.push(
        line([
          system,
          loadOf(row.plan),
          int(row.msgsPerSec),
          ms(row.latencyMs.p50),
          ms(row.latencyMs.p99),
          ms(row.latencyMs.p999),
          Number.isNaN(row.peakRssMiB) ? 'gone' : `${row.peakRssMiB.toFixed(0)}${row.rssOf === 'server' ? '' : '*'}`,
          Number.isFinite(row.cpuUsPerMessage) ? row.cpuUsPerMessage.toFixed(2) : '-',
          int(row.unanswered),
          failures(row.failures),
        ]),
      );
    }
  }
  out.push(
    '',
    'msgs/s: messages answered OK per second of the measured window (a batch call counts its 50); latency: every answered call',
    '(open loop: from its scheduled time). RSS: peak of the server process; * = of the kafkajs application process (its load loop included).',
    'CPU: user + system time of the server process in the window, per message answered OK.',
    ...(rows.some((r) => r.plan.baseline) ? ['[b]: the same run of the --baseline build, in the same settings, after this build\'s (with --side-by-side, at the same time).'] : []),
    ...(rows.some((r) => r.plan.metrics) ? ['[m]: with the proxy\'s metrics on (its admin listener on); the same run without them next to it.'] : []),
    ...(rows.some((r) => r.plan.tls) ? ['[t]: the Thrift port over TLS 1.3 (a P-256 certificate), the load generator\'s connections too; the same run over plain TCP next to it.'] : []),
    `The load generator (one process), the servers, the Kafka mock and the real brokers' JVMs share this machine's ${os.cpus().length} cores.`,
  );

  const ratioRows = ratios(rows);
  if (ratioRows.length > 0) {
    out.push('', 'Ratios (msgs/s, p99 latency)');
    for (const r of ratioRows) out.push(`  ${`${r.of} / ${r.to}`.padEnd(13)} ${r.label.padEnd(52)} ${r.msgsPerSec.toFixed(2)}x msgs/s, ${r.p99.toFixed(2)}x p99`);
  }

  const pairedSection = (title: string, list: PairedRatios[]) => {
    if (list.length === 0) return;
    out.push('', `${title} (msgs/s, p99 latency, server CPU per message; each pair, then the median)`);
    for (const c of list) {
      const each = c.pairs.map((p) => `${p.msgsPerSec.toFixed(3)}x/${p.p99.toFixed(2)}x/${p.cpuPerMessage.toFixed(3)}x`).join('  ');
      out.push(`  ${c.id.padEnd(5)} ${each}   median ${c.medianMsgsPerSec.toFixed(3)}x msgs/s, ${c.medianP99.toFixed(2)}x p99, ${c.medianCpuPerMessage.toFixed(3)}x CPU/msg`);
    }
  };
  pairedSection('Metrics on / off', metricsCost(rows));
  pairedSection('TLS on / off', tlsCost(rows));
  pairedSection('This build / baseline', baselineCost(rows));

  for (const row of rows) {
    if (isFailed(row)) continue;
    if (row.plan.scenario === '4') {
      out.push('', `Overload (4/${row.plan.system}): peak RSS ${row.peakRssMiB.toFixed(0)} MiB; ${int(row.unanswered)} calls unanswered after the grace period -> ${row.unanswered === 0 ? 'every request answered' : 'NOT every request was answered'}`);
    }
    if (row.plan.scenario === '5' && row.plan.proxy.maxTps) {
      const perSecond = row.okPerSecond;
      const total = perSecond.reduce((a, b) => a + b, 0);
      const ideal = row.plan.proxy.maxTps * perSecond.length;
      out.push(
        '',
        `Rate limiter (5/${row.plan.system}): OK per second min ${int(Math.min(...perSecond))} / avg ${int(total / perSecond.length)} / max ${int(Math.max(...perSecond))};` +
          ` total OK ${int(total)} vs ideal ${int(ideal)} over ${perSecond.length} s; refused (15): ${int(row.failures['15'] ?? 0)}; other: ${failures(Object.fromEntries(Object.entries(row.failures).filter(([k]) => k !== '15')))}`,
        `  per second: ${perSecond.map(int).join(' ')}`,
      );
    }
  }

  const notes = rows.flatMap((row) => (isFailed(row) ? [] : row.notes.map((n) => `  ${row.plan.scenario}/${row.plan.system}: ${n}`)));
  if (notes.length > 0) out.push('', 'Notes', ...notes);
  return `${out.join('\n')}\n`;
}

export function writeJson(file: string, options: Record<string, unknown>, rows: Row[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const machine = { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryMiB: Math.round(os.totalmem() / 2 ** 20) };
  fs.writeFileSync(file, `${JSON.stringify({ finishedAt: new Date().toISOString(), machine, options, results: rows, ratios: ratios(rows), metricsCost: metricsCost(rows), tlsCost: tlsCost(rows), baselineCost: baselineCost(rows) }, null, 2)}\n`);
}
