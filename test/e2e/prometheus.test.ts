/**
 * The proxy as Prometheus sees it: Debian's Prometheus server scrapes the admin listener while a
 * client sends a known number of messages of known sizes and outcomes, and its query API must
 * count exactly those; `promtool check metrics` passes on what the proxy exposes after the traffic.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { freePort } from '../helpers/ports';
import { PrometheusServer, promtoolCheckMetrics } from '../helpers/prometheus';
import { startProxy } from '../helpers/proxy';

const SIZES = [10, 200, 3000, 70_000];
const PER_SIZE = 25;
const BATCHES = 7;
const BATCH_SIZE = 4;
const UNKNOWN_TOPIC_SENDS = 9;
const EMPTY_BODY_SENDS = 5;

test('Prometheus scraping the proxy counts exactly the messages, bytes, sizes and result codes sent', { timeout: 120_000 }, async (t) => {
  const adminPort = await freePort();
  const proxy = await startProxy(t, { extra: { adminPort } });
  const prometheus = await PrometheusServer.start(t, `127.0.0.1:${adminPort}`);
  const client = await proxy.client();

  for (const size of SIZES) {
    for (let i = 0; i < PER_SIZE; i++) assert.equal((await client.sendSync({ topic: 'test', body: Buffer.alloc(size, 'x') })).code, 0);
  }
  for (let b = 0; b < BATCHES; b++) {
    const batch = Array.from({ length: BATCH_SIZE }, (_, i) => ({ topic: 'other', body: `batch ${b} message ${i}` }));
    assert.equal((await client.sendBatchSync(batch)).code, 0);
  }
  for (let i = 0; i < UNKNOWN_TOPIC_SENDS; i++) {
    assert.equal((await client.sendSync({ topic: `no-such-topic-${i}`, body: 'x' })).code, 13);
  }
  for (let i = 0; i < EMPTY_BODY_SENDS; i++) assert.equal((await client.sendSync({ topic: 'test', body: '' })).code, 11);
  const sentAt = Date.now();
  await prometheus.scrapedAfter(sentAt);

  const okSyncs = SIZES.length * PER_SIZE;
  assert.equal(await prometheus.sum('pproxy_requests_received_total{method="sendSync"}'), okSyncs + UNKNOWN_TOPIC_SENDS + EMPTY_BODY_SENDS);
  assert.equal(await prometheus.sum('pproxy_requests_received_total{method="sendBatchSync"}'), BATCHES);
  assert.equal(await prometheus.sum('pproxy_messages_received_total{method="sendSync",topic="test"}'), okSyncs + EMPTY_BODY_SENDS);
  assert.equal(await prometheus.sum('pproxy_messages_received_total{method="sendBatchSync",topic="other"}'), BATCHES * BATCH_SIZE);
  assert.equal(await prometheus.sum('pproxy_messages_answered_total{topic="test",code="0"}'), okSyncs);
  assert.equal(await prometheus.sum('pproxy_messages_answered_total{topic="test",code="11"}'), EMPTY_BODY_SENDS);
  assert.equal(await prometheus.sum('pproxy_messages_answered_total{topic="other",code="0"}'), BATCHES * BATCH_SIZE);
  // a topic nobody configured counts under one label value, whatever its name
  assert.equal(await prometheus.sum('pproxy_messages_answered_total{topic="_unserved",code="13"}'), UNKNOWN_TOPIC_SENDS);
  assert.equal((await prometheus.query('pproxy_messages_received_total{topic=~"no-such-topic.*"}')).length, 0);

  const bytes = SIZES.reduce((total, size) => total + size * PER_SIZE, 0);
  assert.equal(await prometheus.sum('pproxy_received_bytes_total{topic="test"}'), bytes);
  assert.equal(await prometheus.sum('pproxy_message_size_bytes_count{topic="test"}'), okSyncs + EMPTY_BODY_SENDS);
  // each size lands in its own bucket: 10 and the empty bodies <= 128, 200 <= 512, 3000 <= 4096, 70000 <= 262144
  assert.equal(await prometheus.sum('pproxy_message_size_bytes_bucket{topic="test",le="128"}'), PER_SIZE + EMPTY_BODY_SENDS);
  assert.equal(await prometheus.sum('pproxy_message_size_bytes_bucket{topic="test",le="512"}'), 2 * PER_SIZE + EMPTY_BODY_SENDS);
  assert.equal(await prometheus.sum('pproxy_message_size_bytes_bucket{topic="test",le="4096"}'), 3 * PER_SIZE + EMPTY_BODY_SENDS);
  assert.equal(await prometheus.sum('pproxy_message_size_bytes_bucket{topic="test",le="65536"}'), 3 * PER_SIZE + EMPTY_BODY_SENDS);
  assert.equal(await prometheus.sum('pproxy_message_size_bytes_bucket{topic="test",le="262144"}'), okSyncs + EMPTY_BODY_SENDS);

  assert.equal(await prometheus.sum('pproxy_request_duration_seconds_count{method="sendSync",topic="test"}'), okSyncs + EMPTY_BODY_SENDS);
  const p99 = await prometheus.sum('histogram_quantile(0.99, sum by (le) (pproxy_request_duration_seconds_bucket{topic="test"}))');
  assert.ok(p99 > 0 && p99 < 10, `p99 of ${p99} s is a latency in seconds`);
  assert.equal(await prometheus.sum('pproxy_storage_messages_stored_total{cluster="L_local"}'), okSyncs + BATCHES * BATCH_SIZE);
  assert.equal(await prometheus.sum('pproxy_ready'), 1);
  assert.equal(await prometheus.sum('up{job="pproxy"}'), 1);

  const exposition = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const lint = promtoolCheckMetrics(exposition);
  assert.equal(lint.output.trim(), '', 'promtool reports no problem');
  assert.equal(lint.status, 0);
});
