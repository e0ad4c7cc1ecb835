/**
 * The stock Thrift client -> pproxy in ZooKeeper mode (bound as DDMQ's console binds it, the
 * console's stock R_default config) -> the real Apache RocketMQ 4.9.7 over remoting, two brokers:
 * every message read back from the broker on exactly the queue DDMQ's rule gives, with its tags,
 * keys, properties and body; sendSync, sendBatchSync, auto-batched sendSync, the delay inner topic,
 * and a name server list whose first address is dead. One cluster and one proxy for the file.
 * Outages are in rocketmq4-outages.test.ts.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { javaStringHashCode } from '../../src/core/java-string';
import { RocketMq4Cluster } from '../../bench/peers/rocketmq4-server';
import { freePort } from '../helpers/ports';
import { fileScope } from '../helpers/processes';
import { at, hashQueueIndex, producerQueueOrder, readAllPatiently, startZkBoundProxy, storedByBody, STOCK_CLUSTER, type ZkBoundProxy } from '../helpers/rocketmq4-zk-proxy';
import { sumOf } from '../helpers/metrics-exposition';

const QUEUES = 'rmq4-e2e-queues';
const BATCH = 'rmq4-e2e-batch';
const DELAYED = 'rmq4-e2e-delayed';
const INNER = 'R_test_chronos_inner_0'; // the stock config's chronosInnerTopicPrefix, innerTopicNum 1
const DEAD_FIRST = 'rmq4-e2e-dead-first';
const DEAD_FIRST_CLUSTER = 'R_dead_first';
/** A first write to a topic on a loaded machine can take a while; these checks are about what is stored. */
const TIMEOUT_MS = 10_000;

const scope = fileScope();
let cluster: RocketMq4Cluster;
let proxy: ZkBoundProxy;
before(async () => {
  cluster = await RocketMq4Cluster.start(scope, {
    brokers: 2,
    topics: { [QUEUES]: { queues: 3 }, [BATCH]: { queues: 2 }, [INNER]: { queues: 3 }, [DEAD_FIRST]: { queues: 2 } },
  });
  const dead = `127.0.0.1:${await freePort()}`;
  proxy = await startZkBoundProxy(scope, { [STOCK_CLUSTER]: [cluster.namesrvAddress], [DEAD_FIRST_CLUSTER]: [dead, cluster.namesrvAddress] }, [
    { topic: QUEUES, cluster: STOCK_CLUSTER },
    { topic: BATCH, cluster: STOCK_CLUSTER, autoBatch: true },
    { topic: DELAYED, cluster: STOCK_CLUSTER, delayTopic: true },
    { topic: INNER, cluster: STOCK_CLUSTER },
    { topic: DEAD_FIRST, cluster: DEAD_FIRST_CLUSTER },
  ]);
}, { timeout: 240_000 });

/** The proxy's RocketMQ 4 requests of a kind (send, batch) the brokers stored, over its clusters. */
async function storedRequests(request: 'send' | 'batch'): Promise<number> {
  return sumOf(await proxy.app.metrics.render(), 'pproxy_storage_rocketmq_broker_requests_total', { request, result: 'ok' });
}


test('sendSync: explicit partitionId, hashId (negative, -2^63, 2^63-1) and random each on DDMQ\'s queue, tags, keys, properties and body exact', { timeout: 120_000 }, async () => {
  const queues = producerQueueOrder(await cluster.route(QUEUES));
  assert.equal(queues.length, 6, 'two brokers with three write queues each');
  const client = proxy.client;
  const expected = new Map<string, { queue?: string; tags: string; key: string; properties: Record<string, string> }>();
  // bodies by their latin1 text, as storedByBody keys them
  const send = async (body: string | Buffer, partitionId: number, hashId: bigint, queue: string | undefined) => {
    const meta = { tags: `T-${expected.size}`, key: `key-${expected.size}`, properties: { trace: `t${expected.size}`, 'ünï': 'cödé ✓' } };
    expected.set(typeof body === 'string' ? body : body.toString('latin1'), { queue, ...meta });
    const r = await client.sendSync({ topic: QUEUES, body, partitionId, hashId, ...meta }, TIMEOUT_MS);
    assert.equal(r.code, 0, `${body}: ${r.msg}`);
  };
  for (let pid = 0; pid < 14; pid++) await send(`pid:${pid}`, pid, 0n, at(queues[pid % queues.length]!));
  const hashIds = [0n, 1n, 5n, -1n, -7n, -8n, 123_456_789_012_345n, -987_654_321_987n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n];
  for (const h of hashIds) await send(`hash:${h}`, -1, h, at(queues[hashQueueIndex(h, queues.length)]!));
  for (let i = 0; i < 60; i++) await send(`random:${i}`, -2, BigInt(i), undefined);
  // a binary body over compressMsgBodyOverHowmuch (4096): sent zlib-compressed, stored as sent
  const big = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 31 + (i >> 7)) & 0xff));
  await send(big, 3, 0n, at(queues[3]!));

  const stored = await storedByBody(cluster, QUEUES);
  assert.equal(stored.size, expected.size, 'nothing more, nothing less');
  for (const [body, e] of expected) {
    const m = stored.get(body);
    assert.ok(m, `${body.slice(0, 20)} stored`);
    if (e.queue !== undefined) assert.equal(at(m), e.queue, `${body.slice(0, 20)} on DDMQ's queue`);
    assert.deepEqual([m.tags, m.keys, m.userProperties], [e.tags, [e.key], e.properties], body.slice(0, 20));
  }
  assert.deepEqual(stored.get(big.toString('latin1'))!.body, big);
  const randomQueues = new Set([...stored.values()].filter((m) => m.body.toString().startsWith('random:')).map(at));
  assert.equal(randomQueues.size, queues.length, `random spreads over all queues (${[...randomQueues].join(' ')})`);
});

test('sendBatchSync and 200 concurrent auto-batched sendSync calls: each message once, on its queue', { timeout: 120_000 }, async (t) => {
  const queues = producerQueueOrder(await cluster.route(BATCH));
  assert.equal(queues.length, 4);
  const batch = Array.from({ length: 24 }, (_, i) => ({ topic: BATCH, body: `batch:${i}`, partitionId: i % 5, tags: 'B', key: `bk${i}`, properties: { i: String(i) } }));
  const [sendsBefore, batchesBefore] = [await storedRequests('send'), await storedRequests('batch')];
  const r = await proxy.client.sendBatchSync(batch);
  assert.equal(r.code, 0, `sendBatchSync: ${r.msg}`);
  const senders = await Promise.all(Array.from({ length: 4 }, () => proxy.connect()));
  const singles = Array.from({ length: 200 }, (_, i) => ({ topic: BATCH, body: `single:${i}`, partitionId: -1, hashId: BigInt(i) - 100n, tags: 'S', key: `sk${i}`, properties: { i: String(i) } }));
  const answers = await Promise.all(singles.map((m, i) => senders[i % senders.length]!.sendSync(m, TIMEOUT_MS)));
  assert.deepEqual([...new Set(answers.map((a) => a.code))], [0], JSON.stringify(answers.find((a) => a.code !== 0)));
  const [sends, batches] = [(await storedRequests('send')) - sendsBefore, (await storedRequests('batch')) - batchesBefore];
  t.diagnostic(`${batch.length + singles.length} messages in ${sends} SEND_MESSAGE_V2 and ${batches} SEND_BATCH_MESSAGE requests`);
  assert.ok(batches >= 4 && sends + batches < batch.length + singles.length, `several messages per request (${sends} SEND_MESSAGE_V2, ${batches} SEND_BATCH_MESSAGE)`);

  const stored = await storedByBody(cluster, BATCH);
  assert.equal(stored.size, batch.length + singles.length);
  for (const m of batch) {
    const s = stored.get(m.body)!;
    assert.deepEqual([at(s), s.tags, s.keys, s.userProperties], [at(queues[m.partitionId % 4]!), m.tags, [m.key], m.properties], m.body);
  }
  for (const m of singles) {
    const s = stored.get(m.body)!;
    assert.deepEqual([at(s), s.tags, s.keys, s.userProperties], [at(queues[hashQueueIndex(m.hashId, 4)]!), m.tags, [m.key], m.properties], m.body);
  }
});

test('sendDelaySync: the BodyExt message on the inner topic, on |uuid hash| mod n, keyed by its id', { timeout: 120_000 }, async () => {
  const queues = producerQueueOrder(await cluster.route(INNER));
  assert.equal(queues.length, 6);
  const ts = BigInt(Math.floor(Date.now() / 1000) + 600);
  // String.hashCode positive, negative, and one more
  const uuids = ['14f22520-ad72-11e7-91be-6ee54da579e3', '12345678-90ab-cdef-1234-567890abcdef', 'a1b2c3d4-0000-1111-2222-333344445555'];
  const ids: string[] = [];
  for (const uuid of uuids) {
    const r = await proxy.client.sendDelaySync({ topic: DELAYED, action: 1, body: `delayed ${uuid}`, tags: 'DT', timestamp: ts, dmsgtype: 2, uuid, properties: { who: uuid } }, TIMEOUT_MS);
    const id = `${ts}-2-${ts + 172800n}-0-0-0-0-${uuid}`;
    assert.deepEqual([r.code, r.uniqDelayMsgId], [0, id], r.msg);
    ids.push(id);
  }
  const stored = await readAllPatiently(cluster, INNER);
  assert.equal(stored.length, uuids.length);
  uuids.forEach((uuid, i) => {
    const m = stored.find((s) => s.keys[0] === ids[i]);
    assert.ok(m, `inner message keyed ${ids[i]}`);
    const bodyExt = JSON.stringify({ action: 1, body: `delayed ${uuid}`, properties: { who: uuid }, tags: 'DT', topic: DELAYED, uniqDelayMsgId: ids[i] });
    assert.deepEqual([at(m), m.body.toString(), m.tags, m.keys, m.userProperties], [at(queues[hashQueueIndex(BigInt(javaStringHashCode(uuid)), 6)]!), bodyExt, 'DT', [ids[i]], {}]);
  });
});

test('namesrvAddrs with a dead address first: sends go through the second', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 10; i++) {
    const r = await proxy.client.sendSync({ topic: DEAD_FIRST, body: `df:${i}`, partitionId: i }, TIMEOUT_MS);
    assert.equal(r.code, 0, `df:${i}: ${r.msg}`);
  }
  const queues = producerQueueOrder(await cluster.route(DEAD_FIRST));
  const stored = await storedByBody(cluster, DEAD_FIRST);
  assert.deepEqual([...stored.keys()].sort(), Array.from({ length: 10 }, (_, i) => `df:${i}`).sort());
  for (const [body, m] of stored) assert.equal(at(m), at(queues[Number(body.split(':')[1]) % queues.length]!), body);
});
