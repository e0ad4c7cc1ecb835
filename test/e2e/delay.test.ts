/**
 * sendDelaySync over real Thrift: every delay code from the inputs that trigger it, and the inner
 * message exactly as DDMQ's rules make it (on local storage and on the mock Kafka cluster).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { DelaySpec } from '../../src/client/producer-client';
import { javaStringHashCode } from '../../src/core/java-string';
import { RESULT_MESSAGES } from '../../src/protocol/result-codes';
import { MockKafka, consumeAll } from '../helpers/kafka';
import { startProxy } from '../helpers/proxy';
import { storedMessages } from '../helpers/storage';

const PREFIX = 'R_test_chronos_inner_';
const INNER = `${PREFIX}0`;
const POSITIVE_UUID = '14f22520-ad72-11e7-91be-6ee54da579e3'; // String.hashCode 139185948
const NEGATIVE_UUID = '12345678-90ab-cdef-1234-567890abcdef'; // String.hashCode -1858541816
const now = () => Math.floor(Date.now() / 1000);

async function delayProxy(t: TestContext, extra: Parameters<typeof startProxy>[1] = {}) {
  const proxy = await startProxy(t, {
    topics: [{ topic: 'orders', delayTopic: true }, { topic: 'plain' }, { topic: INNER }],
    ...extra,
  });
  return { proxy, client: await proxy.client() };
}

/** The BodyExt JSON DDMQ's proxy writes: fastjson, keys in alphabetical order, nulls left out. */
function expectedBodyExt(action: number, body: string, topic: string, id: string, tags?: string, properties?: Record<string, string>): string {
  return JSON.stringify({ action, body, ...(properties && { properties }), ...(tags !== undefined && { tags }), topic, uniqDelayMsgId: id });
}

test('every delay validation code from a real Thrift call', { timeout: 30_000 }, async (t) => {
  const { client } = await delayProxy(t);
  const ts = BigInt(now() + 60);
  const add = (over: Partial<DelaySpec>): DelaySpec => ({ topic: 'orders', action: 1, body: 'b', timestamp: ts, dmsgtype: 2, uuid: POSITIVE_UUID, ...over });
  const cancel = (id: string): DelaySpec => ({ topic: 'orders', action: 2, body: 'c', uniqDelayMsgId: id });
  const goodId = `${ts}-2-${ts + 172800n}-0-0-0-0-${POSITIVE_UUID}`;
  const cases: [string, DelaySpec, number, string][] = [
    ['not a delay topic', add({ topic: 'plain' }), 18, ''],
    ['unknown topic', add({ topic: 'nowhere' }), 13, ''],
    ['an inner topic', add({ topic: INNER }), 11, ''],
    ['empty body', add({ body: '' }), 11, ''],
    ['reserved property', add({ properties: { KEYS: 'x' } }), 11, ''],
    ['cancel without id', cancel(''), 30, ''],
    ['cancel with a malformed id', cancel('not-an-id'), 30, 'not-an-id'],
    ['cancel of an unknown type', cancel(goodId.replace(`${ts}-2-`, `${ts}-5-`)), 31, goodId.replace(`${ts}-2-`, `${ts}-5-`)],
    ['cancel of another inner topic', cancel(goodId.replace(`-0-0-0-0-${POSITIVE_UUID}`, `-0-0-0-1-${POSITIVE_UUID}`)), 34, goodId.replace(`-0-0-0-0-${POSITIVE_UUID}`, `-0-0-0-1-${POSITIVE_UUID}`)],
    ['unknown action', add({ action: 3 }), 32, ''],
    ['timestamp in milliseconds? no: too small', add({ timestamp: 999_999_999n }), 33, ''],
    ['more than 62 days ahead', add({ timestamp: BigInt(now() + 63 * 24 * 3600) }), 33, ''],
    ['unknown type', add({ dmsgtype: 1 }), 31, ''],
    ['a delay that loops', add({ times: 1n }), 35, ''],
    ['a loop that does not', add({ dmsgtype: 3, times: 0n, interval: 5n, expire: ts + 100n }), 35, ''],
    ['a loop that expires before it starts', add({ dmsgtype: 3, times: 3n, interval: 5n, expire: ts }), 36, ''],
    ['a loop faster than 3 s', add({ dmsgtype: 3, times: 3n, interval: 2n, expire: ts + 100n }), 37, ''],
    ['an exponent below 2', add({ dmsgtype: 4, times: 3n, interval: 1n, expire: ts + 100n }), 38, ''],
  ];
  for (const [name, spec, code, id] of cases) {
    const r = await client.sendDelaySync(spec);
    assert.deepEqual([r.code, r.msg, r.uniqDelayMsgId], [code, RESULT_MESSAGES[code as keyof typeof RESULT_MESSAGES], id], name);
  }
  assert.equal((await client.sendSync({ topic: 'orders', body: 'plain send' })).code, 19);
  assert.equal((await client.sendDelaySync(cancel(goodId))).code, 0, 'a well-formed cancel is accepted');
});

test('an accepted delay message is written to the inner topic as DDMQ writes it', { timeout: 30_000 }, async (t) => {
  const { proxy, client } = await delayProxy(t);
  const ts = BigInt(now() + 30);
  const r = await client.sendDelaySync({ topic: 'orders', action: 1, body: 'hello delay', tags: 'T1', timestamp: ts, dmsgtype: 2, uuid: NEGATIVE_UUID, properties: { traceId: 'x' } });
  const id = `${ts}-2-${ts + 172800n}-0-0-0-0-${NEGATIVE_UUID}`;
  assert.deepEqual([r.code, r.uniqDelayMsgId], [0, id]);
  const loop = await client.sendDelaySync({ topic: 'orders', action: 1, body: Buffer.from([0xff, 0x00, 0xc3]), timestamp: ts, dmsgtype: 3, interval: 5n, times: 4n, expire: ts + 3600n, uuid: POSITIVE_UUID });
  assert.equal(loop.uniqDelayMsgId, `${ts}-3-${ts + 3600n}-4-0-5-0-${POSITIVE_UUID}`);

  const stored = await storedMessages(proxy.dataDir, INNER);
  const first = stored.find((m) => m.key === id)!;
  assert.equal(first.body.toString(), expectedBodyExt(1, 'hello delay', 'orders', id, 'T1', { traceId: 'x' }));
  assert.equal(first.tags, 'T1');
  assert.equal(first.partition, Math.abs(javaStringHashCode(NEGATIVE_UUID)) % 4, '|uuid hash| mod partitions, never negative');
  const binary = stored.find((m) => m.key === loop.uniqDelayMsgId)!;
  const ext = JSON.parse(binary.body.toString()) as { body: string; properties: Record<string, string> };
  assert.deepEqual(Buffer.from(ext.body, 'base64'), Buffer.from([0xff, 0x00, 0xc3]), 'a non-UTF-8 body survives, base64');
  assert.deepEqual(ext.properties, { carrera_body_encoding: 'base64' });
});

test('on Kafka: exact BodyExt JSON, key = the id, partition from the uuid hash (negative one included)', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic(INNER, 8);
  const { client } = await delayProxy(t, {
    clusters: {},
    kafkaClusters: { K1: { bootstrapServers: mock.bootstraps } },
    carreraConfiguration: { useKafka: true },
  });
  const ts = BigInt(now() + 120);
  for (const uuid of [POSITIVE_UUID, NEGATIVE_UUID]) {
    const r = await client.sendDelaySync({ topic: 'orders', action: 1, body: `body of ${uuid}`, timestamp: ts, dmsgtype: 2, uuid });
    assert.equal(r.code, 0);
  }
  const records = await consumeAll(mock.bootstraps, INNER);
  for (const uuid of [POSITIVE_UUID, NEGATIVE_UUID]) {
    const id = `${ts}-2-${ts + 172800n}-0-0-0-0-${uuid}`;
    const record = records.find((r) => r.key?.toString() === id)!;
    assert.ok(record, `record keyed ${id}`);
    assert.equal(record.value.toString(), expectedBodyExt(1, `body of ${uuid}`, 'orders', id));
    assert.equal(record.partition, Math.abs(javaStringHashCode(uuid)) % 8);
  }
});
