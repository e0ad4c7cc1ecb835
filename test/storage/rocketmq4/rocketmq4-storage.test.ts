/**
 * RocketMq4Storage against fake name servers and brokers (test/helpers/remoting-fake.ts): DDMQ's
 * queue rule reaching the right broker and queue, batches and compression, the properties sent,
 * retries and their bounds, error mapping, name server failover and polling, heartbeats and
 * unregistration, the messages refused before sending, and ACL signatures and refusals. Timers are
 * injected where intervals matter; request timeouts are real (the connection's own).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import zlib from 'node:zlib';
import { silentLogger } from '../../../src/log';
import { rocketmqClusterSchema, type RocketmqClusterConfig } from '../../../src/storage/rocketmq/rocketmq-config';
import type { StorageLogger } from '../../../src/storage/plugin-api';
import { RocketMq4Storage } from '../../../src/storage/rocketmq4/rocketmq4-storage';
import { aclSignature } from '../../../src/storage/rocketmq4/remoting/acl-signature';
import { RequestCode, ResponseCode } from '../../../src/storage/rocketmq4/remoting/codes';
import { decodeProperties } from '../../../src/storage/rocketmq4/remoting/message-codec';
import type { RemotingCommand } from '../../../src/storage/rocketmq4/remoting/remoting-command';
import { schemaTools } from '../../../src/storage/storage-context';
import { StorageMetricSet } from '../../../src/storage/storage-metrics';
import type { OutgoingMessage, SendOutcome } from '../../../src/storage/storage';
import { realTimers, type Timers } from '../../../src/time/timers';
import { FakeTimers } from '../../helpers/fake-timers';
import { freePort } from '../../helpers/ports';
import { batchCount, fakeBroker, fakeNameServer, type FakeBroker, type FakeNameServer, type SendAnswer } from '../../helpers/remoting-fake';
import { eventually } from '../../helpers/wait';

const TOPIC = 'rmq4-unit';
const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

interface Setup {
  storage: RocketMq4Storage;
  names: FakeNameServer;
  brokers: FakeBroker[];
}

async function setup(
  t: TestContext,
  options: { brokers?: number; queues?: number; config?: Record<string, unknown>; timers?: Timers; random?: () => number; producers?: number; namesrvAddrs?: string[]; logger?: StorageLogger } = {},
): Promise<Setup> {
  const names = await fakeNameServer(t);
  const brokers = await Promise.all(['broker-a', 'broker-b'].slice(0, options.brokers ?? 2).map((name) => fakeBroker(t, name)));
  names.routes.set(TOPIC, { brokers: brokers.map((b) => ({ name: b.name, address: b.address, queues: options.queues ?? 4 })) });
  const config: RocketmqClusterConfig = rocketmqClusterSchema(schemaTools).parse({ namesrvAddrs: options.namesrvAddrs ?? [names.address], protocol: 'remoting', ...options.config });
  const metrics = new StorageMetricSet(undefined).forCluster('rocketmq', 'R_test', silentLogger());
  const storage = new RocketMq4Storage('R_test', config, options.producers ?? 1, options.logger ?? silentLogger(), options.timers ?? realTimers, metrics, options.random);
  await storage.start();
  t.after(() => storage.close());
  return { storage, names, brokers };
}

function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { topic: TOPIC, key: undefined, tags: undefined, body: Buffer.from('body'), properties: undefined, partitionId: -2, hashId: 0n, ordered: false, timestamp: 0, ...overrides };
}

const properties = (request: RemotingCommand) => decodeProperties(request.extFields.i!);
const where = (b: FakeBroker) => b.sends().map((r) => `${b.name}/${r.extFields.e}`);
const allSends = (brokers: FakeBroker[]) => brokers.flatMap(where);
const failure = (outcome: SendOutcome | undefined) => (outcome && !outcome.ok ? { code: outcome.error.code, retriable: outcome.error.retriable } : outcome);

test('queue by hint: pid % n, |hashId| % n (negative, Long.MIN_VALUE, MAX), each on its broker and queueId, reported as its index in the route', async (t) => {
  const { storage, brokers } = await setup(t);
  // 8 write queues: broker-a 0..3, then broker-b 0..3
  const cases: [Partial<OutgoingMessage>, string][] = [
    [{ partitionId: 0 }, 'broker-a/0'],
    [{ partitionId: 5 }, 'broker-b/1'],
    [{ partitionId: 13 }, 'broker-b/1'],
    [{ partitionId: -1, hashId: 3n }, 'broker-a/3'],
    [{ partitionId: -1, hashId: -7n }, 'broker-b/3'],
    [{ partitionId: -1, hashId: LONG_MIN }, 'broker-a/0'],
    [{ partitionId: -1, hashId: LONG_MAX }, 'broker-b/3'],
    [{ partitionId: -1, hashId: LONG_MIN + 1n }, 'broker-b/3'],
  ];
  for (const [hint, expected] of cases) {
    const before = brokers.map((b) => b.sends().length);
    const [outcome] = await storage.send([message(hint)]);
    const added = brokers.flatMap((b, i) => where(b).slice(before[i]));
    assert.deepEqual(added, [expected], JSON.stringify(hint, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
    // the partition reported is the queue's index in the route: broker-b's queues follow broker-a's four
    const [broker, queueId] = expected.split('/');
    assert.equal(outcome?.ok && outcome.partition, (broker === 'broker-b' ? 4 : 0) + Number(queueId));
  }
});

test('random queue: the injected random picks the queue; the spread reaches every queue', async (t) => {
  let next = 0;
  const picks = [0, 0.13, 0.5, 0.99];
  const { storage, brokers } = await setup(t, { random: () => picks[next++ % picks.length]! });
  for (let i = 0; i < 4; i++) await storage.send([message()]);
  assert.deepEqual(allSends(brokers).sort(), ['broker-a/0', 'broker-a/1', 'broker-b/0', 'broker-b/3']);
  const spread = await setup(t, { brokers: 1 });
  await Promise.all(Array.from({ length: 200 }, () => spread.storage.send([message()])));
  assert.deepEqual([...new Set(where(spread.brokers[0]!))].sort(), ['broker-a/0', 'broker-a/1', 'broker-a/2', 'broker-a/3']);
});

test('several messages of one send to one queue: one SEND_BATCH_MESSAGE, consecutive offsets; one alone: SEND_MESSAGE_V2', async (t) => {
  const { storage, brokers } = await setup(t);
  const [a] = brokers;
  const outcomes = await storage.send([message({ partitionId: 1 }), message({ partitionId: 1 }), message({ partitionId: 2 }), message({ partitionId: 1 })]);
  const codes = a!.sends().map((r) => [r.code, r.extFields.e, batchCount(r)]).sort();
  assert.deepEqual(codes, [[RequestCode.SEND_BATCH_MESSAGE, '1', 3], [RequestCode.SEND_MESSAGE_V2, '2', 1]].sort());
  assert.deepEqual(outcomes.map((o) => o.ok && [o.partition, o.offset]), [[1, 0n], [1, 1n], [2, 0n], [1, 2n]]);
  assert.equal(a!.sends().find((r) => r.code === RequestCode.SEND_BATCH_MESSAGE)!.extFields.m, 'true');
});

test('a batch is split where it would pass maxMessageSize', async (t) => {
  const { storage, brokers } = await setup(t, { config: { maxMessageSize: 10 } });
  const outcomes = await storage.send(Array.from({ length: 5 }, () => message({ partitionId: 0, body: Buffer.from('1234') })));
  const sends = brokers[0]!.sends();
  assert.deepEqual(sends.map((r) => [r.code, batchCount(r)]), [[320, 2], [320, 2], [310, 1]]);
  assert.ok(outcomes.every((o) => o.ok));
});

test('a large single body goes compressed (sysFlag 1) and inflates to the body; a batch is not compressed', async (t) => {
  const { storage, brokers } = await setup(t, { config: { compressMsgBodyOverHowmuch: 100 } });
  const body = Buffer.from('abc'.repeat(200));
  await storage.send([message({ partitionId: 0, body })]);
  const [single] = brokers[0]!.sends();
  assert.equal(single!.extFields.f, '1');
  assert.deepEqual(zlib.inflateSync(single!.body!), body);
  await storage.send([message({ partitionId: 0, body: Buffer.from('small') })]);
  assert.equal(brokers[0]!.sends()[1]!.extFields.f, '0');
  await storage.send([message({ partitionId: 0, body }), message({ partitionId: 0, body })]);
  const batch = brokers[0]!.sends()[2]!;
  assert.equal(batch.extFields.f, '0');
  assert.ok(batch.body!.includes(body));
});

test('tags, key as KEYS, user properties, WAIT and a fresh UNIQ_KEY in the properties', async (t) => {
  const { storage, brokers } = await setup(t, { brokers: 1 });
  await storage.send([message({ partitionId: 0, tags: 'tagA', key: 'order-1', properties: new Map([['color', 'red'], ['n', '1']]) })]);
  await storage.send([message({ partitionId: 0 })]);
  const [first, second] = brokers[0]!.sends();
  const p = properties(first!);
  assert.match(p.UNIQ_KEY!, /^[0-9A-F]{32}$/);
  assert.deepEqual(p, { TAGS: 'tagA', KEYS: 'order-1', WAIT: 'true', color: 'red', n: '1', UNIQ_KEY: p.UNIQ_KEY });
  const q = properties(second!);
  assert.deepEqual(Object.keys(q), ['WAIT', 'UNIQ_KEY']);
  assert.notEqual(q.UNIQ_KEY, p.UNIQ_KEY);
});

test('retryTimesWhenSendFailed: a failing broker\'s messages go to the other broker, at most that many times', async (t) => {
  const { storage, brokers } = await setup(t, { config: { retryTimesWhenSendFailed: 2 } });
  const [a, b] = brokers;
  a!.script = () => ({ kind: 'code', code: ResponseCode.SYSTEM_ERROR });
  const outcomes = await storage.send([message({ partitionId: 1 }), message({ partitionId: 1 })]);
  assert.deepEqual(where(a!), ['broker-a/1']);
  assert.equal(b!.sends().length, 1);
  assert.equal(batchCount(b!.sends()[0]!), 2);
  assert.ok(outcomes.every((o) => o.ok));
  b!.script = a!.script;
  const [failed] = await storage.send([message({ partitionId: 1 })]);
  assert.deepEqual(failure(failed), { code: 'UNAVAILABLE', retriable: true });
  assert.equal(a!.sends().length + b!.sends().length, 2 + 3, 'one attempt and two retries');
});

test('retries stop at sendMsgTimeout: a silent broker times the send out, without a retry past the deadline', async (t) => {
  const { storage, brokers } = await setup(t, { config: { retryTimesWhenSendFailed: 3, sendMsgTimeout: 300 } });
  brokers[0]!.script = () => ({ kind: 'silent' });
  const started = Date.now();
  const [outcome] = await storage.send([message({ partitionId: 0 })]);
  const elapsed = Date.now() - started;
  assert.deepEqual(failure(outcome), { code: 'TIMEOUT', retriable: true });
  assert.ok(elapsed >= 290 && elapsed < 1500, `${elapsed} ms`);
  assert.equal(brokers[1]!.sends().length, 0);
});

test('time spent compressing counts against sendMsgTimeout: a budget spent by then sends nothing', async (t) => {
  const timers = new FakeTimers();
  const { storage, brokers } = await setup(t, { brokers: 1, timers, config: { sendMsgTimeout: 3000, maxMessageSize: 8 << 20, pollNameServerInterval: 600_000, heartbeatBrokerInterval: 600_000 } });
  // route and connection held, so that the large message's only wait is its compression
  assert.ok((await storage.send([message({ partitionId: 0 })]))[0]?.ok);
  const sending = storage.send([message({ partitionId: 0, body: randomBytes(4 << 20) })]);
  await timers.advance(3001);
  assert.deepEqual(failure((await sending)[0]), { code: 'TIMEOUT', retriable: true });
  assert.equal(brokers[0]!.sends().length, 1);
});

test('an ordered message is never moved: its broker\'s failure is its answer', async (t) => {
  const { storage, brokers } = await setup(t, { config: { retryTimesWhenSendFailed: 2 } });
  brokers[0]!.script = () => ({ kind: 'code', code: ResponseCode.SYSTEM_ERROR });
  const m = message({ partitionId: 2, ordered: true });
  assert.deepEqual(failure((await storage.send([m]))[0]), { code: 'UNAVAILABLE', retriable: true });
  // the pipeline's second hand-over of an ordered message stays on its queue too
  await storage.send([m]);
  assert.deepEqual(where(brokers[0]!), ['broker-a/2', 'broker-a/2']);
  assert.equal(brokers[1]!.sends().length, 0);
});

test('the pipeline\'s second hand-over of the same message goes to another broker', async (t) => {
  const { storage, brokers } = await setup(t);
  brokers[0]!.script = () => ({ kind: 'code', code: ResponseCode.SYSTEM_BUSY });
  const m = message({ partitionId: 0 });
  assert.deepEqual(failure((await storage.send([m]))[0]), { code: 'THROTTLED', retriable: true });
  const [again] = await storage.send([m]);
  assert.ok(again?.ok);
  assert.equal(brokers[1]!.sends().length, 1);
  // an equal but new message object is a first attempt
  await storage.send([message({ partitionId: 0 })]);
  assert.equal(brokers[0]!.sends().length, 2);
});

test('FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE answer OK; with retryAnotherBrokerWhenNotStoreOK they go elsewhere', async (t) => {
  const plain = await setup(t, { config: { retryTimesWhenSendFailed: 1 } });
  for (const code of [ResponseCode.FLUSH_DISK_TIMEOUT, ResponseCode.FLUSH_SLAVE_TIMEOUT, ResponseCode.SLAVE_NOT_AVAILABLE]) {
    plain.brokers[0]!.script = () => ({ kind: 'store', code });
    const [outcome] = await plain.storage.send([message({ partitionId: 0 })]);
    assert.ok(outcome?.ok, String(code));
  }
  assert.equal(plain.brokers[1]!.sends().length, 0);
  const strict = await setup(t, { config: { retryTimesWhenSendFailed: 1, retryAnotherBrokerWhenNotStoreOK: true } });
  strict.brokers[0]!.script = () => ({ kind: 'store', code: ResponseCode.FLUSH_DISK_TIMEOUT });
  const [outcome] = await strict.storage.send([message({ partitionId: 0 })]);
  assert.ok(outcome?.ok);
  assert.deepEqual([where(strict.brokers[0]!), strict.brokers[1]!.sends().length], [['broker-a/0'], 1]);
});

test('broker answers and failures map to storage errors, retriable as the code says; TOPIC_NOT_EXIST refreshes the route', async (t) => {
  const { storage, brokers, names } = await setup(t, { brokers: 1, config: { sendMsgTimeout: 300 } });
  const broker = brokers[0]!;
  const cases: [SendAnswer, { code: string; retriable: boolean }][] = [
    [{ kind: 'code', code: ResponseCode.TOPIC_NOT_EXIST }, { code: 'TOPIC_NOT_FOUND', retriable: false }],
    [{ kind: 'code', code: ResponseCode.MESSAGE_ILLEGAL }, { code: 'MESSAGE_ILLEGAL', retriable: false }],
    [{ kind: 'code', code: ResponseCode.SYSTEM_BUSY }, { code: 'THROTTLED', retriable: true }],
    [{ kind: 'code', code: ResponseCode.SERVICE_NOT_AVAILABLE }, { code: 'UNAVAILABLE', retriable: true }],
    [{ kind: 'code', code: ResponseCode.NO_PERMISSION }, { code: 'UNKNOWN', retriable: false }],
    [{ kind: 'silent' }, { code: 'TIMEOUT', retriable: true }],
    [{ kind: 'close' }, { code: 'UNAVAILABLE', retriable: true }],
  ];
  for (const [answer, expected] of cases) {
    broker.script = () => answer;
    const lookups = names.lookups(TOPIC);
    const [outcome] = await storage.send([message({ partitionId: 0 })]);
    assert.deepEqual(failure(outcome), expected, JSON.stringify(answer));
    if (expected.code === 'TOPIC_NOT_FOUND') await eventually(() => (names.lookups(TOPIC) > lookups ? true : undefined), 2000, 'a route refresh');
  }
  await broker.stop();
  const [refused] = await storage.send([message({ partitionId: 0 })]);
  assert.deepEqual(failure(refused), { code: 'UNAVAILABLE', retriable: true });
});

test('name server failover: the first address refuses connections, the second answers', async (t) => {
  const dead = `127.0.0.1:${await freePort()}`;
  const names = await fakeNameServer(t);
  const broker = await fakeBroker(t, 'broker-a');
  names.routes.set(TOPIC, { brokers: [{ name: 'broker-a', address: broker.address, queues: 2 }] });
  const { storage } = await setup(t, { namesrvAddrs: [dead, names.address] });
  const [outcome] = await storage.send([message({ partitionId: 1 })]);
  assert.ok(outcome?.ok);
  assert.deepEqual(where(broker), ['broker-a/1']);
  assert.equal(names.lookups(TOPIC), 1);
});

test('a route lookup spends the send\'s sendMsgTimeout: a silent first name server leaves nothing for the broker', async (t) => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    return new Promise((resolve) => silent.close(resolve));
  });
  const names = await fakeNameServer(t);
  const broker = await fakeBroker(t, 'broker-a');
  names.routes.set(TOPIC, { brokers: [{ name: 'broker-a', address: broker.address, queues: 1 }] });
  const silentAddress = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  const { storage } = await setup(t, { namesrvAddrs: [silentAddress, names.address], config: { sendMsgTimeout: 400 } });
  const started = Date.now();
  const [first] = await storage.send([message()]);
  assert.deepEqual(failure(first), { code: 'TIMEOUT', retriable: true });
  assert.ok(Date.now() - started < 800, `${Date.now() - started} ms`);
  assert.equal(broker.sends().length, 0);
  // the route is held now: the next send has its whole budget for the broker
  assert.ok((await storage.send([message()]))[0]?.ok);
  assert.equal(names.lookups(TOPIC), 1);
});

test('routes are polled every pollNameServerInterval; an unknown topic is asked once per interval, not per message', async (t) => {
  const timers = new FakeTimers();
  const { storage, names, brokers } = await setup(t, { timers, config: { pollNameServerInterval: 2000 } });
  const lookups = () => [names.lookups(TOPIC), names.lookups('unknown-topic')];
  // one interval on, each topic held looked up once more; the poll re-arms (with the heartbeat, two timers) when its lookups are done
  const poll = async (expected: number[]) => {
    await timers.advance(2000);
    await eventually(() => (lookups().join() === expected.join() && timers.pendingCount === 2 ? true : undefined), 2000, `lookups ${expected.join()}`);
  };
  await storage.send([message({ partitionId: 0 })]);
  assert.deepEqual(lookups(), [1, 0]);
  await timers.advance(1999);
  assert.deepEqual(lookups(), [1, 0]);
  await timers.advance(1);
  await eventually(() => (lookups().join() === '2,0' && timers.pendingCount === 2 ? true : undefined), 2000, 'a second lookup');
  // the route changed: broker-a is gone from it; sends follow the polled route
  names.routes.set(TOPIC, { brokers: [{ name: 'broker-b', address: brokers[1]!.address, queues: 4 }] });
  await poll([3, 0]);
  await storage.send([message({ partitionId: 0 })]);
  assert.deepEqual(where(brokers[1]!), ['broker-b/0']);

  const outcomes = [];
  for (let i = 0; i < 5; i++) outcomes.push(...(await storage.send([message({ topic: 'unknown-topic' })])));
  assert.deepEqual(outcomes.map(failure), Array(5).fill({ code: 'TOPIC_NOT_FOUND', retriable: false }));
  assert.deepEqual(lookups(), [3, 1]);
  await poll([4, 2]);
  names.routes.set('unknown-topic', { brokers: [{ name: 'broker-a', address: brokers[0]!.address, queues: 1 }] });
  await poll([5, 3]);
  assert.ok((await storage.send([message({ topic: 'unknown-topic' })]))[0]?.ok);
});

test('every producer group heartbeats to every master each heartbeatBrokerInterval; close() unregisters each group', async (t) => {
  const timers = new FakeTimers();
  const { storage, brokers } = await setup(t, { timers, producers: 2, config: { heartbeatBrokerInterval: 10_000, groupPrefix: 'pfx' } });
  await storage.warmUp([TOPIC]);
  const groupsOf = (b: FakeBroker, code: number) =>
    b.received(code).map((r) => (code === RequestCode.HEART_BEAT ? (JSON.parse(r.body!.toString()) as { producerDataSet: { groupName: string }[] }).producerDataSet[0]!.groupName : r.extFields.producerGroup!));
  const groups = [`pfx_${timers.now()}0`, `pfx_${timers.now()}1`];
  for (const b of brokers) assert.deepEqual(groupsOf(b, RequestCode.HEART_BEAT).sort(), groups);
  await timers.advance(9_999);
  for (const b of brokers) assert.equal(b.received(RequestCode.HEART_BEAT).length, 2);
  await timers.advance(1);
  for (const b of brokers) await eventually(() => (b.received(RequestCode.HEART_BEAT).length === 4 ? true : undefined), 2000, `${b.name} heartbeats`);
  const clientIds = new Set(brokers.flatMap((b) => b.received(RequestCode.HEART_BEAT).map((r) => (JSON.parse(r.body!.toString()) as { clientID: string }).clientID)));
  assert.equal(clientIds.size, 1);
  await storage.close();
  for (const b of brokers) {
    assert.deepEqual(groupsOf(b, RequestCode.UNREGISTER_CLIENT).sort(), groups);
    assert.ok(b.received(RequestCode.UNREGISTER_CLIENT).every((r) => clientIds.has(r.extFields.clientID!)));
  }
  await timers.advance(20_000);
  for (const b of brokers) assert.equal(b.received(RequestCode.HEART_BEAT).length, 4, 'no heartbeat after close');
});

test('close() while sends are under way lets them finish; later sends are CLOSED, retriable', async (t) => {
  const { storage, brokers } = await setup(t, { brokers: 1 });
  await storage.send([message({ partitionId: 0 })]);
  brokers[0]!.script = () => ({ kind: 'silent' });
  const underWay = storage.send([message({ partitionId: 0 })]);
  await eventually(() => (brokers[0]!.sends().length === 2 ? true : undefined), 2000, 'the second send');
  const closing = storage.close();
  const [late] = await storage.send([message({ partitionId: 0 })]);
  assert.deepEqual(failure(late), { code: 'CLOSED', retriable: true });
  const [outcome] = await underWay;
  assert.deepEqual(failure(outcome), { code: 'TIMEOUT', retriable: true });
  await closing;
  assert.equal(brokers[0]!.sends().length, 2);
});

test('illegalMessageReason: topic characters and length, TBW102, property separators in properties, tags and key', async (t) => {
  const { storage } = await setup(t, { brokers: 1 });
  const reason = (m: Partial<OutgoingMessage>) => storage.illegalMessageReason(message(m));
  assert.equal(reason({}), undefined);
  assert.equal(reason({ topic: 'a%|_-Z9' }), undefined);
  // TopicValidator's TOPIC_MAX_LENGTH (4.9): a longer topic is refused by the broker as SYSTEM_ERROR
  assert.equal(reason({ topic: 'x'.repeat(127) }), undefined);
  assert.match(reason({ topic: 'x'.repeat(128) }) ?? '', /longer than 127/);
  for (const topic of ['a.b', 'a b', 'ü', '']) assert.match(reason({ topic }) ?? '', /characters RocketMQ refuses/, JSON.stringify(topic));
  assert.match(reason({ topic: 'TBW102' }) ?? '', /template topic/);
  for (const sep of ['\u0001', '\u0002']) {
    assert.match(reason({ properties: new Map([[`n${sep}`, 'v']]) }) ?? '', /property/);
    assert.match(reason({ properties: new Map([['n', `v${sep}`]]) }) ?? '', /property/);
    assert.match(reason({ tags: `t${sep}` }) ?? '', /tags/);
    assert.match(reason({ key: `k${sep}` }) ?? '', /key/);
  }
});

const ACL = { accessKey: 'ak-test', secretKey: 'secret-key-1', securityToken: 'token-1' };

/** Whether `request` carries ACL's access key and a signature under `secretKey` that verifies. */
const signedWith = (request: RemotingCommand, secretKey: string) =>
  request.extFields.AccessKey === ACL.accessKey && request.extFields.Signature === aclSignature(request.extFields, request.body, secretKey);

/** The lines logged at warn, with their fields. */
function warnings(lines: { fields: Record<string, unknown>; message: string }[]): StorageLogger {
  const noop = () => undefined;
  const logger: StorageLogger = {
    trace: noop,
    debug: noop,
    info: noop,
    warn: (fields: unknown, message?: string) => void lines.push({ fields: fields as Record<string, unknown>, message: message ?? '' }),
    error: noop,
    isLevelEnabled: () => false,
    child: () => logger,
  };
  return logger;
}

test('credentials: every request is signed, to the name server and the brokers: route lookups, heartbeats, sends, batches, unregistration', async (t) => {
  const { storage, names, brokers } = await setup(t, { config: { credentials: ACL } });
  for (const b of brokers) b.acl = new Map([[ACL.accessKey, ACL.secretKey]]);
  await storage.warmUp([TOPIC]);
  const outcomes = await storage.send([message({ partitionId: 0 }), message({ partitionId: 0 }), message({ partitionId: 5 })]);
  assert.deepEqual(outcomes.map((o) => o.ok), [true, true, true]);
  await storage.close();
  const requests = [...names.requests, ...brokers.flatMap((b) => b.requests)];
  assert.deepEqual(
    [...new Set(requests.map((r) => r.code))].sort((x, y) => x - y),
    [RequestCode.HEART_BEAT, RequestCode.UNREGISTER_CLIENT, RequestCode.GET_ROUTEINFO_BY_TOPIC, RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE],
  );
  for (const r of requests) {
    assert.ok(signedWith(r, ACL.secretKey), `request ${r.code} signed`);
    assert.equal(r.extFields.SecurityToken, ACL.securityToken);
  }
});

test('credentials refused by the broker (wrong secret, unknown key): UNAVAILABLE, not retriable, not sent elsewhere, one warning a second with the reason', async (t) => {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const { storage, brokers } = await setup(t, { config: { credentials: { accessKey: ACL.accessKey, secretKey: 'a-wrong-secret' }, retryTimesWhenSendFailed: 2 }, logger: warnings(lines) });
  for (const b of brokers) b.acl = new Map([[ACL.accessKey, ACL.secretKey]]);
  const started = Date.now();
  for (let i = 0; i < 5; i++) {
    const [outcome] = await storage.send([message({ partitionId: i })]);
    assert.deepEqual(failure(outcome), { code: 'UNAVAILABLE', retriable: false });
    assert.match(!outcome!.ok ? outcome!.error.message : '', /AclException: Check signature failed for accessKey=ak-test/);
  }
  assert.ok(Date.now() - started < 1000, 'answered at once');
  assert.equal(allSends(brokers).length, 5, 'one attempt a message');
  const refusals = () => lines.filter((l) => /refused the request: authentication or permission failed \(ACL\)/.test(l.message));
  assert.equal(refusals().length, 1, 'one line at once');
  assert.match(String(refusals()[0]!.fields.err), /Check signature failed for accessKey=ak-test/);
  await eventually(() => (refusals().length >= 2 ? true : undefined), 3000, 'the summary line');
  assert.equal(refusals().length, 2);
  assert.equal(refusals()[1]!.fields.count, 4, 'the rest counted into the next line');
  assert.ok(!JSON.stringify(lines).includes('a-wrong-secret') && !JSON.stringify(lines).includes(ACL.secretKey), 'no secret logged');

  for (const b of brokers) b.acl = new Map([['someone-else', ACL.secretKey]]);
  const [unknown] = await storage.send([message({ partitionId: 0 })]);
  assert.deepEqual(failure(unknown), { code: 'UNAVAILABLE', retriable: false });
  assert.match(!unknown!.ok ? unknown!.error.message : '', /AclException: No acl config for ak-test/);
});

test('an ACL refusal of the heartbeats alone (no traffic yet) is logged too', async (t) => {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const { storage, brokers } = await setup(t, { config: { credentials: { accessKey: ACL.accessKey, secretKey: 'a-wrong-secret' } }, logger: warnings(lines) });
  for (const b of brokers) b.acl = new Map([[ACL.accessKey, ACL.secretKey]]);
  await storage.warmUp([TOPIC]);
  assert.ok(brokers.every((b) => b.received(RequestCode.HEART_BEAT).length > 0));
  const logged = lines.filter((l) => /refused the request: authentication or permission failed \(ACL\)/.test(l.message));
  assert.equal(logged.length, 1);
  assert.match(String(logged[0]!.fields.err), /heartbeat of .*AclException: Check signature failed/);
});

test('without credentials nothing is signed', async (t) => {
  const { storage, names, brokers } = await setup(t);
  await storage.warmUp([TOPIC]);
  assert.ok((await storage.send([message({ partitionId: 0 })]))[0]!.ok);
  for (const r of [...names.requests, ...brokers.flatMap((b) => b.requests)]) assert.deepEqual([r.extFields.AccessKey, r.extFields.Signature], [undefined, undefined]);
});
