/**
 * The server's metrics through a real proxy: a known set of calls, of known sizes and codes, and
 * the exposition's counters and histogram counts equal to what was sent and answered.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import type { CallResult, MessageSpec, ProducerClient } from '../../src/client/producer-client';
import type { Method } from '../../src/metrics/methods';
import { SIZE_BUCKETS, UNSERVED_TOPIC } from '../../src/metrics/proxy-metrics';
import { parseExposition, valueOf, type Series } from '../helpers/metrics-exposition';
import { freePort } from '../helpers/ports';
import { startProxy, type InProcessProxy } from '../helpers/proxy';
import { lengthPrefix, rawExchange } from '../helpers/raw-socket';
import { T, writeRawCall } from '../helpers/stock-thrift';
import { eventually } from '../helpers/wait';

const TOPICS = [{ topic: 'orders' }, { topic: 'other' }, { topic: 'later', delayTopic: true }, { topic: 'R_test_chronos_inner_0' }];

const IN_FLIGHT_BUDGET = 8 * 1024 * 1024;

async function metricsProxy(t: TestContext): Promise<InProcessProxy> {
  return startProxy(t, { topics: TOPICS, thriftServer: { maxInFlightBytes: IN_FLIGHT_BUDGET }, extra: { adminPort: await freePort() } });
}

async function scrape(proxy: InProcessProxy): Promise<Series> {
  return parseExposition(await proxy.app.metrics.render());
}

/** What the test expects in the exposition, added up from the calls it made and their answers. */
class Expected {
  readonly requests = new Map<Method, number>();
  /** By `method topic`. */
  readonly messages = new Map<string, number>();
  readonly calls = new Map<string, number>();
  /** By `method topic code`. */
  readonly answered = new Map<string, number>();
  /** Body sizes by topic. */
  readonly sizes = new Map<string, number[]>();

  call(method: Method, bodies: { topic: string; bytes: number }[], code: number): void {
    add(this.requests, method, 1);
    if (bodies.length > 0) add(this.calls, `${method} ${bodies[0]!.topic}`, 1);
    for (const { topic, bytes } of bodies) {
      add(this.messages, `${method} ${topic}`, 1);
      add(this.answered, `${method} ${topic} ${code}`, 1);
      this.sizes.set(topic, [...(this.sizes.get(topic) ?? []), bytes]);
    }
  }
}

function add<K>(map: Map<K, number>, key: K, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** The label the proxy counts a topic under: its own name when served, UNSERVED_TOPIC otherwise. */
const served = new Set(TOPICS.map((t) => t.topic));
const label = (topic: string) => (served.has(topic) ? topic : UNSERVED_TOPIC);

test('requests, messages, bytes, sizes, durations and answers per code count exactly what was sent', { timeout: 60_000 }, async (t) => {
  const proxy = await metricsProxy(t);
  const client = await proxy.client();
  const expected = new Expected();
  const body = (bytes: number) => Buffer.alloc(bytes, 'b');
  const sync = async (spec: MessageSpec & { body: Buffer }, code: number) => {
    const r = await client.sendSync(spec);
    assert.equal(r.code, code, `sendSync to ${spec.topic}: ${r.msg}`);
    expected.call('sendSync', [{ topic: label(spec.topic), bytes: spec.body.length }], r.code);
  };
  for (const bytes of [1, 100, 128, 129, 1000, 5000, 70_000, 600_000]) await sync({ topic: 'orders', body: body(bytes) }, 0);
  await sync({ topic: 'other', body: body(300) }, 0);
  await sync({ topic: 'orders', body: body(300), properties: { blank: ' ' } }, 11);
  await sync({ topic: 'orders', body: body(0) }, 11);
  for (let i = 0; i < 3; i++) await sync({ topic: `unknown-${i}`, body: body(50) }, 13);

  for (const bytes of [10, 20]) {
    const r = await client.sendAsync({ topic: 'orders', body: body(bytes) });
    assert.equal(r.code, 0);
    expected.call('sendAsync', [{ topic: 'orders', bytes }], r.code);
  }

  const batch = async (specs: (MessageSpec & { body: Buffer })[], code: number) => {
    const r: CallResult = await client.sendBatchSync(specs);
    assert.equal(r.code, code, r.msg);
    expected.call('sendBatchSync', specs.map((s) => ({ topic: label(s.topic), bytes: s.body.length })), r.code);
  };
  await batch([10, 20, 30, 40].map((bytes) => ({ topic: 'orders', body: body(bytes) })).concat([{ topic: 'other', body: body(500) }, { topic: 'other', body: body(600) }]), 0);
  await batch([{ topic: 'other', body: body(7) }, { topic: 'orders', body: body(8) }, { topic: 'orders', body: body(9), properties: { '': 'x' } }], 11);

  const delay = await client.sendDelaySync({ topic: 'later', action: 1, body: body(64), timestamp: BigInt(Math.ceil(Date.now() / 1000) + 3600), dmsgtype: 2, uuid: randomUUID() });
  assert.equal(delay.code, 0, delay.msg);
  expected.call('sendDelaySync', [{ topic: 'later', bytes: 64 }], delay.code);
  const notDelay = await client.sendDelaySync({ topic: 'orders', action: 1, body: body(32), timestamp: BigInt(Math.ceil(Date.now() / 1000) + 3600), dmsgtype: 2, uuid: randomUUID() });
  assert.equal(notDelay.code, 18, notDelay.msg);
  expected.call('sendDelaySync', [{ topic: 'orders', bytes: 32 }], notDelay.code);

  const series = await scrape(proxy);
  for (const [method, n] of expected.requests) assert.equal(valueOf(series, 'pproxy_requests_received_total', { method }), n, `requests of ${method}`);
  for (const [key, n] of expected.messages) {
    const [method, topic] = key.split(' ');
    assert.equal(valueOf(series, 'pproxy_messages_received_total', { method: method!, topic: topic! }), n, `messages ${key}`);
  }
  for (const [key, n] of expected.answered) {
    const [method, topic, code] = key.split(' ');
    assert.equal(valueOf(series, 'pproxy_messages_answered_total', { method: method!, topic: topic!, code: code! }), n, `answered ${key}`);
  }
  for (const [key, n] of expected.calls) {
    const [method, topic] = key.split(' ');
    assert.equal(valueOf(series, 'pproxy_request_duration_seconds_count', { method: method!, topic: topic! }), n, `durations ${key}`);
  }
  const answeredSeries = [...series.keys()].filter((k) => k.startsWith('pproxy_messages_answered_total{'));
  assert.equal(answeredSeries.length, expected.answered.size, 'no answer counted that was not made');

  for (const [topic, sizes] of expected.sizes) {
    const total = sizes.reduce((a, b) => a + b, 0);
    assert.equal(valueOf(series, 'pproxy_received_bytes_total', { topic }), total, `bytes of ${topic}`);
    assert.equal(valueOf(series, 'pproxy_message_size_bytes_count', { topic }), sizes.length, `sizes of ${topic}`);
    assert.equal(valueOf(series, 'pproxy_message_size_bytes_sum', { topic }), total);
    for (const le of SIZE_BUCKETS) {
      const within = sizes.filter((s) => s <= le).length;
      assert.equal(valueOf(series, 'pproxy_message_size_bytes_bucket', { topic, le }), within, `${topic} sizes <= ${le}`);
    }
  }
  assert.equal(valueOf(series, 'pproxy_server_connections_accepted_total'), 1);
  assert.equal(valueOf(series, 'pproxy_server_connections_open'), 1);
  assert.equal(valueOf(series, 'pproxy_server_in_flight_requests'), 0, 'every call answered');
  assert.equal(valueOf(series, 'pproxy_server_in_flight_bytes'), 0);
  assert.equal(valueOf(series, 'pproxy_server_in_flight_bytes_limit'), IN_FLIGHT_BUDGET);
});

test('connections: accepted, open, and closed by why, through a real proxy', { timeout: 30_000 }, async (t) => {
  const proxy = await metricsProxy(t);
  const clients: ProducerClient[] = [];
  for (let i = 0; i < 3; i++) clients.push(await proxy.client());
  for (const c of clients) assert.equal((await c.sendSync({ topic: 'orders', body: 'x' })).code, 0);
  assert.equal(valueOf(await scrape(proxy), 'pproxy_server_connections_open'), 3);
  clients[0]!.close();
  const series = await eventually(async () => {
    const s = await scrape(proxy);
    return valueOf(s, 'pproxy_server_connections_open') === 2 ? s : undefined;
  }, 5000, 'the closed connection to be counted');
  assert.equal(valueOf(series, 'pproxy_server_connections_accepted_total'), 3);
  const closed = ['client_closed', 'client_reset'].map((reason) => valueOf(series, 'pproxy_server_connections_closed_total', { reason }));
  assert.equal(closed[0]! + closed[1]!, 1, 'the client closed it');
  assert.equal(valueOf(series, 'pproxy_server_connections_closed_total', { reason: 'idle' }), 0);
});

test('unknown methods and undecodable arguments count as application exceptions, not as answers', { timeout: 30_000 }, async (t) => {
  const proxy = await metricsProxy(t);
  const unknown = await rawExchange(proxy.port, writeRawCall('sendNotifySync', () => undefined), 500);
  assert.ok(unknown.data.length > 0, 'answered');
  const broken = writeRawCall('sendSync', (p) => {
    p.writeFieldBegin('message', T.STRUCT, 1);
    p.writeStructBegin('Message');
    p.writeFieldBegin('topic', T.STRING, 1);
  });
  // cut inside the topic string's length: the arguments end early in a valid frame
  const body = broken.subarray(4, broken.length - 2);
  const exchange = await rawExchange(proxy.port, Buffer.concat([lengthPrefix(body.length), body]), 500);
  assert.ok(exchange.data.length > 0, 'answered');

  const series = await scrape(proxy);
  assert.equal(valueOf(series, 'pproxy_application_exceptions_total', { type: 'unknown_method' }), 1);
  assert.equal(valueOf(series, 'pproxy_application_exceptions_total', { type: 'protocol_error' }), 1);
  assert.equal(valueOf(series, 'pproxy_application_exceptions_total', { type: 'internal_error' }), 0);
  assert.equal(valueOf(series, 'pproxy_requests_received_total', { method: 'sendSync' }), 1);
  const total = (name: string) => [...series].reduce((sum, [key, value]) => (key.startsWith(`${name}{`) ? sum + value : sum), 0);
  assert.equal(total('pproxy_messages_received_total'), 0, 'no message was read');
  assert.equal(total('pproxy_messages_answered_total'), 0);
});
