/**
 * The RocketMQ stand-in checked against the official client (rocketmq-client-nodejs) and Guava: if
 * the official Producer starts, sends and is refused as against Apache RocketMQ's proxy, tests of
 * pproxy's adapter against the stand-in mean something.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Producer } from 'rocketmq-client-nodejs';
import { javaStringHashCode } from '../../../src/core/java-string';
import { Code, RocketMqStandIn, consistentHash } from '../../helpers/rocketmq-standin';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

test("consistentHash equals Guava's Hashing.consistentHash", () => {
  // printed by jshell with Debian's guava.jar: Hashing.consistentHash(x, buckets)
  const vectors: [bigint, number, number][] = [
    [BigInt(javaStringHashCode('group-a')), 8, 7],
    [BigInt(javaStringHashCode('polygenelubricants')), 8, 2],
    [0n, 8, 0],
    [-1n, 8, 7],
    [123456789n, 100, 34],
    [BigInt(javaStringHashCode('order-42')), 5, 3],
  ];
  for (const [input, buckets, expected] of vectors) assert.equal(consistentHash(input, buckets), expected, `${input} over ${buckets}`);
});

test('the official producer starts, sends normal and FIFO messages, and is refused as by a real proxy', { timeout: 30_000 }, async (t) => {
  const standIn = new RocketMqStandIn({ brokers: { 'broker-a': 4, 'broker-b': 4 }, topics: { normal: { type: 'NORMAL' }, fifo: { type: 'FIFO' } } });
  const address = await standIn.start();
  const producer = new Producer({ endpoints: address, topics: ['normal', 'fifo'], logger: quiet } as never);
  t.after(async () => {
    await producer.shutdown();
    await standIn.stop();
  });
  await producer.startup(); // waits for the Telemetry settings

  const body = Buffer.from([0, 1, 2, 254, 255]);
  const receipt = await producer.send({ topic: 'normal', tag: 'TagA', keys: ['k1', 'k2'], body, properties: new Map([['traceId', 't-1']]) } as never);
  const [normal] = standIn.stored;
  assert.equal(normal!.messageId, (receipt as { messageId: string }).messageId);
  assert.deepEqual([normal!.tag, normal!.keys, normal!.userProperties, normal!.body], ['TagA', ['k1', 'k2'], { traceId: 't-1' }, body]);

  await producer.send({ topic: 'fifo', messageGroup: 'group-a', body: Buffer.from('in order') } as never);
  const fifo = standIn.stored[1]!;
  const expected = standIn.writeQueues('fifo')[consistentHash(BigInt(javaStringHashCode('group-a')), 8)]!;
  assert.deepEqual([fifo.broker, fifo.queueId, fifo.messageGroup], [expected.broker, expected.id, 'group-a']);

  // the route's accepted message types are what the official client checks before sending
  await assert.rejects(producer.send({ topic: 'normal', messageGroup: 'g', body: Buffer.from('x') } as never), /not match with topic accept message types/);
  await assert.rejects(producer.send({ topic: 'unknown', body: Buffer.from('x') } as never), (err: { code?: number }) => {
    assert.equal(err.code, Code.TOPIC_NOT_FOUND);
    return true;
  });
  assert.equal(standIn.stored.length, 2);
});

test('injected failures are retried by the official client as its settings say; injected latency is felt', { timeout: 30_000 }, async (t) => {
  const standIn = new RocketMqStandIn({ brokers: { 'broker-a': 2 }, topics: { normal: { type: 'NORMAL' } } });
  const address = await standIn.start();
  const producer = new Producer({ endpoints: address, topics: ['normal'], logger: quiet } as never);
  t.after(async () => {
    await producer.shutdown();
    await standIn.stop();
  });
  await producer.startup();
  // the backoff policy the stand-in publishes allows 3 attempts
  for (let i = 0; i < 3; i++) standIn.failNext.push({ code: Code.TOO_MANY_REQUESTS, message: 'slow down' });
  await assert.rejects(producer.send({ topic: 'normal', body: Buffer.from('x') } as never), (err: { code?: number }) => {
    assert.equal(err.code, Code.TOO_MANY_REQUESTS);
    return true;
  });
  assert.deepEqual(standIn.sendCalls, [1, 1, 1]);
  standIn.latencyMs = 150;
  const started = Date.now();
  await producer.send({ topic: 'normal', body: Buffer.from('late') } as never);
  assert.ok(Date.now() - started >= 150);
  assert.deepEqual(standIn.stored.map((e) => e.body.toString()), ['late']);
});
