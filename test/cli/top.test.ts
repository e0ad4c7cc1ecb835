/**
 * `pproxy top`: reading prom-client's exposition, rates and p99 from two readings, the snapshot a
 * pipe gets, the refresh loop on a terminal, and the command as a process over a pipe.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import { metricsUrl, runTop } from '../../src/cli/top';
import { parseExposition } from '../../src/cli/top/exposition';
import type { TopTerminal } from '../../src/cli/top/terminal';
import { buildView, quantile, type Scrape } from '../../src/cli/top/top-view';
import { FakeTimers } from '../helpers/fake-timers';
import { freePort } from '../helpers/ports';
import { CLI_JS } from '../helpers/proxy';
import { run } from '../helpers/run';
import { metricsServer } from './top-metrics-server';

const SEND_SYNC = 0;
const SEND_BATCH_SYNC = 2;

async function read(metrics: ProxyMetrics, at: number): Promise<Scrape> {
  return { at, samples: parseExposition(await metrics.render()) };
}

function configured(topics: string[]): ProxyMetrics {
  const metrics = new ProxyMetrics(true);
  metrics.configure(topics, ['K_main']);
  return metrics;
}

test('the exposition reader gets what prom-client renders: escaped label values, histogram buckets up to +Inf', async () => {
  const odd = 'a "quoted" \\ topic';
  const metrics = configured([odd]);
  metrics.topic(odd).received[SEND_SYNC]!.inc(7);
  for (const v of [0.0001, 0.02, 30]) metrics.topic(odd).duration[SEND_SYNC]!.observe(v);
  const samples = parseExposition(await metrics.render());

  const received = samples.find((s) => s.name === 'pproxy_messages_received_total' && s.labels['topic'] === odd && s.labels['method'] === 'sendSync');
  assert.equal(received?.value, 7);
  const buckets = samples.filter((s) => s.name === 'pproxy_request_duration_seconds_bucket' && s.labels['topic'] === odd && s.labels['method'] === 'sendSync');
  assert.deepEqual(
    buckets.filter((s) => ['0.0005', '0.025', '10', '+Inf'].includes(s.labels['le']!)).map((s) => [s.labels['le'], s.value]),
    [['0.0005', 1], ['0.025', 2], ['10', 2], ['+Inf', 3]],
  );
  assert.ok(samples.some((s) => s.name === 'pproxy_process_resident_memory_bytes' && s.value > 0));
  assert.throws(() => parseExposition('pproxy_x{topic="unterminated} 1\n'), /line 1: unterminated label value/);
});

test('quantile interpolates within the bucket holding the rank, as histogram_quantile does', () => {
  const buckets: [number, number][] = [[0.1, 50], [0.2, 100], [Infinity, 100]];
  assert.equal(quantile(0.5, buckets), 0.1);
  assert.ok(Math.abs(quantile(0.75, buckets)! - 0.15) < 1e-12);
  assert.equal(quantile(0.25, buckets), 0.05, 'the lowest bucket starts at 0');
  assert.equal(quantile(0.99, [[0.1, 1], [Infinity, 100]]), 0.1, "a rank in +Inf's bucket is the highest finite bound");
  assert.equal(quantile(0.99, [[0.1, 0], [Infinity, 0]]), undefined);
});

test('per topic: messages/s and errors/s by code from the counters gained between readings, in flight as received minus answered', async () => {
  const metrics = configured(['orders', 'payments']);
  const orders = metrics.topic('orders');
  orders.received[SEND_SYNC]!.inc(1000);
  orders.answered(SEND_SYNC, 0).inc(1000);
  const first = await read(metrics, 10_000);

  orders.received[SEND_SYNC]!.inc(300);
  orders.received[SEND_BATCH_SYNC]!.inc(100);
  orders.answered(SEND_SYNC, 0).inc(280);
  orders.answered(SEND_SYNC, 15).inc(40);
  orders.answered(SEND_BATCH_SYNC, 12).inc(60);
  metrics.topic('not-served').received[SEND_SYNC]!.inc(8);
  metrics.topic('not-served').answered(SEND_SYNC, 13).inc(8);
  const view = buildView(first, await read(metrics, 12_000));

  const row = (topic: string) => view.topics.find((t) => t.topic === topic)!;
  assert.deepEqual(view.topics.map((t) => t.topic), ['orders', '_unserved', 'payments'], 'busiest first');
  assert.equal(row('orders').messagesPerSecond, 200, '400 messages in 2 s');
  assert.deepEqual(row('orders').errorsPerSecond, [['12', 30], ['15', 20]]);
  assert.equal(row('orders').inFlight, 1400 - 1380);
  assert.equal(row('orders').received, 1400);
  assert.deepEqual(row('_unserved').errorsPerSecond, [['13', 4]]);
  assert.equal(row('payments').messagesPerSecond, 0);
  assert.equal(row('payments').p99, undefined, 'nothing answered: no latency');

  const firstOnly = buildView(undefined, first);
  assert.equal(firstOnly.topics.find((t) => t.topic === 'orders')!.messagesPerSecond, undefined, 'one reading has no rate');
});

test("p99 is the latency of what was answered between the readings, not since the proxy's start", async () => {
  const metrics = configured(['orders']);
  const duration = metrics.topic('orders').duration;
  for (let i = 0; i < 1000; i++) duration[SEND_SYNC]!.observe(4);
  const first = await read(metrics, 0);
  for (let i = 0; i < 100; i++) duration[i % 2 === 0 ? SEND_SYNC : SEND_BATCH_SYNC]!.observe(0.004);
  const p99 = buildView(first, await read(metrics, 1000)).topics[0]!.p99!;
  assert.ok(p99 > 0.0025 && p99 <= 0.005, `p99 ${p99}: in the bucket (2.5 ms, 5 ms] of the last second's answers, both methods`);
});

function fakeTerminal(interactive: boolean, rows = 40) {
  const writes: string[] = [];
  const state = { opened: 0, closed: 0, quit: undefined as (() => void) | undefined };
  const terminal: TopTerminal = {
    interactive,
    size: () => ({ columns: 160, rows }),
    write: (text) => void writes.push(text),
    open(onQuit) {
      state.opened++;
      state.quit = onQuit;
      return () => void state.closed++;
    },
  };
  return { terminal, writes, state };
}

test('through a pipe: two readings one interval apart, one snapshot with the rates, and done', async () => {
  const metrics = configured(['orders']);
  const timers = new FakeTimers();
  const { terminal, writes, state } = fakeTerminal(false);
  let reads = 0;
  const readMetrics = async () => {
    if (reads++ === 1) metrics.topic('orders').received[SEND_SYNC]!.inc(250);
    return metrics.render();
  };
  const done = runTop({ url: 'http://proxy/metrics', interval: 500 }, { terminal, timers, read: readMetrics });
  await timers.advance(499);
  assert.equal(reads, 1, 'the second reading waits for the interval');
  await timers.advance(1);
  assert.equal(await done, 0);
  assert.equal(reads, 2);
  assert.equal(state.opened, 0, 'no raw mode, no alternate screen over a pipe');
  const out = writes.join('');
  assert.doesNotMatch(out, /\x1b/, 'no escape sequences in a snapshot');
  assert.match(out, /^orders +500 +0\.0 +- +250 +250\b/m, '250 messages in 0.5 s, 250 in flight');
});

test('on a terminal: a frame per interval drawn in place, until quit, which gives the terminal back and stops reading', async () => {
  const metrics = configured(['orders']);
  const timers = new FakeTimers();
  const { terminal, writes, state } = fakeTerminal(true);
  let reads = 0;
  const readMetrics = async () => {
    reads++;
    metrics.topic('orders').received[SEND_SYNC]!.inc(100);
    metrics.topic('orders').answered(SEND_SYNC, 0).inc(100);
    return metrics.render();
  };
  const done = runTop({ admin: 'proxy:9614', interval: 1000 }, { terminal, timers, read: readMetrics });
  await timers.advance(0);
  assert.equal(state.opened, 1);
  assert.equal(writes.length, 1, 'the first frame at once');
  assert.match(writes[0]!, /^\x1b\[H/, 'drawn from the top left, in place');
  assert.match(writes[0]!, /http:\/\/proxy:9614\/metrics/);
  await timers.advance(3000);
  assert.equal(reads, 4);
  assert.equal(writes.length, 4);
  assert.match(writes.at(-1)!, /orders +100 +0\.0 +- +0 +400\b/);

  state.quit!();
  assert.equal(await done, 0);
  assert.equal(state.closed, 1);
  await timers.advance(5000);
  assert.equal(reads, 4, 'no reading after quit');
});

test('on a terminal, a failed reading is shown and the next one is tried', async () => {
  const timers = new FakeTimers();
  const { terminal, writes, state } = fakeTerminal(true);
  const done = runTop({ url: 'http://proxy/metrics', interval: 1000 }, { terminal, timers, read: () => Promise.reject(new Error('http://proxy/metrics: ECONNREFUSED')) });
  await timers.advance(1000);
  assert.equal(writes.length, 2);
  assert.match(writes.at(-1)!, /scrape failed: http:\/\/proxy\/metrics: ECONNREFUSED/);
  state.quit!();
  assert.equal(await done, 0);
});

test('metricsUrl: --url as given, --admin host:port, else the default admin address', () => {
  assert.equal(metricsUrl({ url: 'http://h:1/m' }), 'http://h:1/m');
  assert.equal(metricsUrl({ admin: '10.0.0.1:9700' }), 'http://10.0.0.1:9700/metrics');
  assert.equal(metricsUrl({}), 'http://127.0.0.1:9614/metrics');
});

test('pproxy top | cat prints one snapshot of a live /metrics and exits 0; an unreachable one exits 1', { timeout: 30_000 }, async (t) => {
  const server = await metricsServer(t, ['orders', 'payments']);
  server.metrics.topic('payments').received[SEND_SYNC]!.inc(5);
  const r = await run('/bin/bash', ['-c', 'set -o pipefail; "$0" "$1" top --url "$2" --interval 200 | cat', process.execPath, CLI_JS, server.url]);
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^pproxy \S+  http:\/\/127\.0\.0\.1:\d+\/metrics  .*\brss \d/);
  assert.match(r.stdout, /^TOPIC +MSG\/S +ERR\/S +P99 +IN FLIGHT +RECEIVED +ERRORS\/S BY CODE$/m);
  assert.match(r.stdout, /^payments +0\.0 +0\.0 +- +5 +5$/m);
  assert.match(r.stdout, /^orders +0\.0 /m);
  assert.equal(server.scrapes(), 2);

  const closed = await freePort();
  const down = await run(process.execPath, [CLI_JS, 'top', '--admin', `127.0.0.1:${closed}`, '--interval', '100']);
  assert.equal(down.status, 1);
  assert.equal(down.stderr, `pproxy: http://127.0.0.1:${closed}/metrics: ECONNREFUSED\n`);
});
