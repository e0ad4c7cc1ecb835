/**
 * The bench's report of the metrics' and TLS's cost: runs with metrics (or TLS) on paired with the
 * same runs off, in the order they were made, and the proxy's ratios to other systems taken from its
 * runs without.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import type { RunResult } from '../../bench/measure';
import { baselineCost, formatReport, metricsCost, ratios, tlsCost } from '../../bench/report';
import { SCENARIOS, type ScenarioId } from '../../bench/scenarios';
import type { SystemId } from '../../bench/systems';

function result(scenario: ScenarioId, system: SystemId, msgsPerSec: number, p99: number, metrics?: boolean, cpuUsPerMessage = 10): RunResult {
  return {
    plan: { scenario, system, workload: { batch: 1, bodyBytes: 200 }, load: { kind: 'closed', callers: 256 }, proxy: {}, durationMs: 5000, ...(metrics === undefined ? {} : { metrics }) },
    calls: msgsPerSec * 5,
    okMessages: msgsPerSec * 5,
    msgsPerSec,
    latencyMs: { p50: p99 / 2, p99, p999: p99 * 2, max: p99 * 3 },
    failures: {},
    unanswered: 0,
    okPerSecond: [],
    peakRssMiB: 100,
    cpuUsPerMessage,
    rssOf: 'server',
    notes: [],
  };
}

test('metrics on over off, pair by pair in the order run, with the median', () => {
  const rows = [
    result('1', 'c', 99, 2.2, true, 10.2),
    result('1', 'c', 100, 2.0, false, 10),
    result('1', 'c', 90, 2.0, false, 12),
    result('1', 'c', 93.6, 2.0, true, 12.6),
    result('1', 'c', 102, 2.0, true, 9.9),
    result('1', 'c', 100, 4.0, false, 10),
    result('1', 'd', 50, 1.0),
  ];
  const [cost, ...others] = metricsCost(rows);
  assert.deepEqual(others, [], 'd ran only one way: nothing to pair');
  assert.equal(cost!.id, '1/c');
  assert.deepEqual(
    cost!.pairs.map((p) => [Number(p.msgsPerSec.toFixed(3)), Number(p.p99.toFixed(3))]),
    [
      [0.99, 1.1],
      [1.04, 1],
      [1.02, 0.5],
    ],
  );
  assert.equal(cost!.medianMsgsPerSec.toFixed(3), '1.020');
  assert.equal(cost!.medianP99.toFixed(3), '1.000');
  assert.deepEqual(cost!.pairs.map((p) => p.cpuPerMessage.toFixed(3)), ['1.020', '1.050', '0.990']);
  assert.equal(cost!.medianCpuPerMessage.toFixed(3), '1.020');
  assert.match(formatReport(SCENARIOS, rows), /Metrics on \/ off[^\n]*\n {2}1\/c .*median 1\.020x msgs\/s, 1\.00x p99, 1\.020x CPU\/msg/);
  assert.match(formatReport(SCENARIOS, rows), /c\[m\] pproxy -> local storage/);
});

test('ratios to other systems take the proxy run without metrics', () => {
  const rows = [result('1', 'd', 80, 1, true), result('1', 'd', 100, 1, false), result('1', 'b', 50, 1)];
  const [ratio] = ratios(rows).filter((r) => r.of === '1/d' && r.to === '1/b');
  assert.equal(ratio!.msgsPerSec, 2);
});

test('this build over the baseline, pair by pair in each metrics setting, with the median', () => {
  const base = (r: RunResult): RunResult => ({ ...r, plan: { ...r.plan, baseline: '/before' } });
  const rows = [
    result('1', 'c', 100, 2, true, 10),
    result('1', 'c', 110, 2, false, 10),
    base(result('1', 'c', 50, 4, true, 20)),
    base(result('1', 'c', 100, 2, false, 11)),
    result('1', 'c', 90, 2, false, 9),
    base(result('1', 'c', 100, 1, false, 10)),
  ];
  const byId = new Map(baselineCost(rows).map((c) => [c.id, c]));
  assert.deepEqual([...byId.keys()].sort(), ['1/c', '1/c[m]']);
  assert.deepEqual(byId.get('1/c[m]')!.pairs.map((p) => [p.msgsPerSec, p.p99, p.cpuPerMessage]), [[2, 0.5, 0.5]]);
  assert.deepEqual(byId.get('1/c')!.pairs.map((p) => [p.msgsPerSec.toFixed(2), p.cpuPerMessage.toFixed(2)]), [['1.10', '0.91'], ['0.90', '0.90']]);
  assert.match(formatReport(SCENARIOS, rows), /This build \/ baseline[^\n]*\n {2}1\/c\[m\] .*median 2\.000x msgs\/s/);
});

test('TLS on over off, pair by pair in each metrics setting; the metrics cost is paired within each TLS setting', () => {
  const tls = (r: RunResult): RunResult => ({ ...r, plan: { ...r.plan, tls: true } });
  const rows = [
    result('1', 'c', 100, 2, false, 10),
    tls(result('1', 'c', 90, 3, false, 11)),
    result('1', 'c', 80, 2, true, 12),
    tls(result('1', 'c', 60, 4, true, 15)),
    tls(result('1', 'c', 95, 2, false, 10.5)),
    result('1', 'c', 100, 2, false, 10),
  ];
  const byId = new Map(tlsCost(rows).map((c) => [c.id, c]));
  assert.deepEqual([...byId.keys()].sort(), ['1/c', '1/c[m]']);
  assert.deepEqual(byId.get('1/c')!.pairs.map((p) => [p.msgsPerSec.toFixed(2), p.p99.toFixed(2), p.cpuPerMessage.toFixed(2)]), [['0.90', '1.50', '1.10'], ['0.95', '1.00', '1.05']]);
  assert.deepEqual(byId.get('1/c[m]')!.pairs.map((p) => [p.msgsPerSec, p.p99, p.cpuPerMessage]), [[0.75, 2, 1.25]]);
  const metrics = new Map(metricsCost(rows).map((c) => [c.id, c]));
  assert.deepEqual([...metrics.keys()].sort(), ['1/c', '1/c[t]']);
  assert.deepEqual(metrics.get('1/c[t]')!.pairs.map((p) => p.msgsPerSec.toFixed(3)), ['0.667']);
  const report = formatReport(SCENARIOS, rows);
  assert.match(report, /TLS on \/ off[^\n]*\n {2}1\/c .*median 0\.925x msgs\/s, 1\.25x p99, 1\.075x CPU\/msg/);
  assert.match(report, /c\[m\]\[t\] pproxy -> local storage/);
  assert.match(report, /\[t\]: the Thrift port over TLS/);
  const [ratio] = ratios([tls(result('1', 'd', 60, 1, false)), result('1', 'd', 100, 1, false), result('1', 'b', 50, 1)]).filter((r) => r.of === '1/d' && r.to === '1/b');
  assert.equal(ratio!.msgsPerSec, 2, 'ratios to other systems take the run over plain TCP');
});
