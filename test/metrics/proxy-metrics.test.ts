/**
 * The metric catalog: children count into the exposition prom-client renders, histograms are
 * cumulative with +Inf, series follow the configuration, and metrics off register nothing.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { ProxyMetrics, SIZE_BUCKETS, UNSERVED_TOPIC } from '../../src/metrics/proxy-metrics';
import { METHODS } from '../../src/metrics/methods';
import type { ServerSample } from '../../src/metrics/server-metrics';
import { ResultCode } from '../../src/protocol/result-codes';
import { PPROXY_VERSION } from '../../src/version';
import { stillAlive } from '../helpers/gc';
import { promtoolCheckMetrics } from '../helpers/prometheus';
import { sample } from '../helpers/metrics-exposition';

const emptyServerSample: ServerSample = {
  connections: 0,
  maxConnections: 0,
  pausedConnections: 0,
  inFlightRequests: 0,
  maxInFlightPerConnection: 0,
  inFlightBytes: 0,
  maxInFlightBytes: 0,
  overBudget: false,
  bufferedBytes: 0,
  unsentReplyBytes: 0,
};

test('a topic child counts into its own series; an unconfigured topic counts as the unserved one', async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure(['orders'], ['c1']);
  const orders = metrics.topic('orders');
  orders.received[0]!.inc();
  orders.received[0]!.inc();
  orders.answered(0, 0).inc();
  orders.answered(0, 15).inc(3);
  metrics.topic('random-name').received[0]!.inc();
  metrics.topic(undefined).received[0]!.inc();
  assert.equal(metrics.topic('random-name'), metrics.topic(UNSERVED_TOPIC));
  const text = await metrics.render();
  assert.equal(sample(text, 'pproxy_messages_received_total', { method: 'sendSync', topic: 'orders' }), 2);
  assert.equal(sample(text, 'pproxy_messages_received_total', { method: 'sendSync', topic: UNSERVED_TOPIC }), 2);
  assert.equal(sample(text, 'pproxy_messages_answered_total', { method: 'sendSync', topic: 'orders', code: '15' }), 3);
  assert.equal(sample(text, 'pproxy_messages_answered_total', { method: 'sendSync', topic: 'orders', code: '0' }), 1);
  assert.match(text, /# TYPE pproxy_messages_received_total counter/);
  assert.equal(sample(text, 'pproxy_build_info', { version: PPROXY_VERSION }), 1);
});

test('a histogram exports cumulative buckets, +Inf, sum and count', async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure(['t'], []);
  const size = metrics.topic('t').messageSize;
  for (const bytes of [100, 128, 129, 5000, 10_000_000]) size.observe(bytes);
  const text = await metrics.render();
  const bucket = (le: number | string) => sample(text, 'pproxy_message_size_bytes_bucket', { topic: 't', le });
  assert.equal(bucket(128), 2, '100 and 128 are at most 128');
  assert.equal(bucket(512), 3);
  assert.equal(bucket(4096), 3);
  assert.equal(bucket(16_384), 4);
  assert.equal(bucket(SIZE_BUCKETS.at(-1)!), 4);
  assert.equal(bucket('+Inf'), 5);
  assert.equal(sample(text, 'pproxy_message_size_bytes_count', { topic: 't' }), 5);
  assert.equal(sample(text, 'pproxy_message_size_bytes_sum', { topic: 't' }), 100 + 128 + 129 + 5000 + 10_000_000);
  assert.match(text, /# TYPE pproxy_message_size_bytes histogram/);
});

test('series of a topic or cluster leave with it; a child is the same object while it stays', async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure(['a', 'b'], ['c1', 'c2']);
  const a = metrics.topic('a');
  a.receivedBytes.inc(10);
  metrics.topic('b').receivedBytes.inc(20);
  metrics.cluster('c2').errors('TIMEOUT').inc();
  metrics.cluster('c1').messagesStored.inc(4);
  metrics.configure(['a'], ['c1']);
  assert.equal(metrics.topic('a'), a);
  assert.equal(metrics.topic('b'), metrics.topic(UNSERVED_TOPIC));
  const text = await metrics.render();
  assert.equal(sample(text, 'pproxy_received_bytes_total', { topic: 'a' }), 10);
  assert.equal(sample(text, 'pproxy_received_bytes_total', { topic: 'b' }), undefined);
  assert.equal(sample(text, 'pproxy_storage_errors_total', { cluster: 'c2', code: 'TIMEOUT' }), undefined);
  assert.equal(sample(text, 'pproxy_storage_messages_stored_total', { cluster: 'c1' }), 4);
});

test('metrics off: children count nothing and nothing is registered', async () => {
  const metrics = new ProxyMetrics(false);
  metrics.configure(['a'], ['c1']);
  metrics.topic('a').received[0]!.inc();
  metrics.cluster('c1').writeDuration.observe(0.1);
  assert.equal((await metrics.render()).trim(), '');
  assert.equal(metrics.messagesReceived.size, 0);
});

test('promtool check metrics passes on the exposition, histograms and labelled counters included', async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure(['t'], ['c1']);
  const topic = metrics.topic('t');
  topic.answered(0, 0).inc();
  topic.answered(2, 13).inc();
  metrics.cluster('c1').errors('TIMEOUT').inc();
  const exposition = await metrics.render();
  const { status, output } = promtoolCheckMetrics(exposition);
  assert.equal(output.trim(), '', 'promtool reports no problem');
  assert.equal(status, 0);
});

test('metrics off keep nothing they are given: a sampled source, the server sample, a cluster bundle', async () => {
  const metrics = new ProxyMetrics(false);
  const held = { sampled: { bytes: new Uint8Array(1024) }, server: { bytes: new Uint8Array(1024) } };
  const refs = [new WeakRef(held.sampled), new WeakRef(held.server), new WeakRef(metrics.cluster('c1'))];
  metrics.storageInFlightLimit.sample(((owner) => () => owner.bytes.length)(held.sampled));
  metrics.server.sample(((owner) => () => ({ ...emptyServerSample, connections: owner.bytes.length }))(held.server));
  metrics.configure(['t'], ['c1']);
  held.sampled = held.server = { bytes: new Uint8Array(0) };
  assert.equal(await stillAlive(refs), 0);
  assert.equal(metrics.storageInFlightLimit.read(), 0, 'a gauge nothing reads stays 0');
});

test('a topic counts each result code it answers into its own series, per method, however many codes', async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure(['t'], []);
  const topic = metrics.topic('t');
  const codes = Object.values(ResultCode);
  codes.forEach((code, i) => topic.answered(METHODS.indexOf('sendBatchSync'), code).inc(i + 1));
  topic.answered(METHODS.indexOf('sendSync'), ResultCode.OK).inc();
  assert.equal(topic.answered(0, ResultCode.FAIL_TIMEOUT), topic.answered(0, ResultCode.FAIL_TIMEOUT), 'one child per code');
  const text = await metrics.render();
  for (const [i, code] of codes.entries()) {
    assert.equal(sample(text, 'pproxy_messages_answered_total', { method: 'sendBatchSync', topic: 't', code: String(code) }), i + 1);
  }
  assert.equal(sample(text, 'pproxy_messages_answered_total', { method: 'sendSync', topic: 't', code: '0' }), 1);
});
