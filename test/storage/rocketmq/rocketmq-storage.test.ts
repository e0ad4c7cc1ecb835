/**
 * RocketMqStorage against the RocketMQ 5 proxy stand-in: failover between `namesrvAddrs` endpoints,
 * the Telemetry stream's reopening, and the grouping of a send's messages. Hold-offs and reopen
 * backoff run on a manual clock; gRPC itself runs in real time.
 */
import { schemaTools } from '../../../src/storage/storage-context';
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { silentLogger } from '../../../src/log';
import type { Timers } from '../../../src/time/timers';
import { ENDPOINT_HOLD_OFF_MS } from '../../../src/storage/rocketmq/endpoint-pool';
import { rocketmqClusterSchema } from '../../../src/storage/rocketmq/rocketmq-config';
import { RocketMqStorage, splitByGroup } from '../../../src/storage/rocketmq/rocketmq-storage';
import { TELEMETRY_REOPEN_MIN_MS } from '../../../src/storage/rocketmq/telemetry-session';
import type { OutgoingMessage } from '../../../src/storage/storage';
import { FakeTimers } from '../../helpers/fake-timers';
import { freePort } from '../../helpers/ports';
import { RocketMqStandIn } from '../../helpers/rocketmq-standin';
import { eventually } from '../../helpers/wait';

const TOPICS = { normal: { type: 'NORMAL' as const } };

function message(body: Buffer | string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    topic: 'normal',
    key: undefined,
    tags: undefined,
    body: Buffer.from(body),
    properties: undefined,
    partitionId: -2,
    hashId: 0n,
    ordered: false,
    timestamp: Date.now(),
    ...extra,
  };
}

/** A FakeTimers that also tells which of its timers are armed. */
class TrackedTimers implements Timers {
  readonly fake = new FakeTimers();
  readonly armed = new Set<unknown>();
  now = (): number => this.fake.now();
  set = (callback: () => void, ms: number): unknown => {
    const handle = this.fake.set(() => {
      this.armed.delete(handle);
      callback();
    }, ms);
    this.armed.add(handle);
    return handle;
  };
  clear = (handle: unknown): void => {
    this.armed.delete(handle);
    this.fake.clear(handle);
  };
}

async function standIn(t: TestContext, maxBodySize?: number, port = 0): Promise<RocketMqStandIn> {
  const s = new RocketMqStandIn({ brokers: { 'broker-a': 2 }, topics: TOPICS, maxBodySize });
  await s.start(port);
  t.after(() => s.stop());
  return s;
}

function storage(t: TestContext, namesrvAddrs: string[], timers: Timers, sendMsgTimeout = 2000): RocketMqStorage {
  const config = rocketmqClusterSchema(schemaTools).parse({ namesrvAddrs, sendMsgTimeout });
  const s = new RocketMqStorage('R1', config, silentLogger(), timers);
  t.after(() => s.close());
  return s;
}

async function sendOne(s: RocketMqStorage, body: Buffer | string) {
  const [outcome] = await s.send([message(body)]);
  return outcome!;
}

/** A TCP listener that accepts connections and never answers: an endpoint hung below gRPC. */
async function silentEndpoint(t: TestContext): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => sockets.add(socket.on('close', () => sockets.delete(socket))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

test('a first endpoint that is down is passed over for the next, and dialled again once its hold-off is over', { timeout: 30_000 }, async (t) => {
  const downPort = await freePort();
  const second = await standIn(t);
  const timers = new FakeTimers();
  const s = storage(t, [`127.0.0.1:${downPort}`, second.address], timers);
  await s.start();

  const first = await sendOne(s, 'route and send via the second');
  assert.equal(first.ok, true, first.ok ? '' : first.error.message);
  assert.equal(second.stored.length, 1);

  const back = await standIn(t, undefined, downPort);
  assert.equal((await sendOne(s, 'still the second while the first is held off')).ok, true);
  assert.deepEqual([back.stored.length, second.stored.length], [0, 2]);

  await timers.advance(ENDPOINT_HOLD_OFF_MS);
  assert.equal((await sendOne(s, 'the first again')).ok, true);
  assert.deepEqual(back.stored.map((e) => e.body.toString()), ['the first again']);
  assert.equal(second.stored.length, 2);
});

test('an endpoint whose connection hangs past the deadline is passed over on the next call', { timeout: 30_000 }, async (t) => {
  const hung = await silentEndpoint(t);
  const second = await standIn(t);
  const s = storage(t, [hung, second.address], new FakeTimers(), 500);
  await s.start();

  const timedOut = await sendOne(s, 'lost in the hung endpoint');
  assert.deepEqual(timedOut.ok ? 'ok' : [timedOut.error.code, timedOut.error.retriable], ['TIMEOUT', true]);
  const next = await sendOne(s, 'via the second');
  assert.equal(next.ok, true, next.ok ? '' : next.error.message);
  assert.deepEqual(second.stored.map((e) => e.body.toString()), ['via the second']);
});

test("a Telemetry stream the server ends is reopened with backoff, and the server's new body limit is enforced", { timeout: 30_000 }, async (t) => {
  const port = await freePort();
  const before = new RocketMqStandIn({ brokers: { 'broker-a': 2 }, topics: TOPICS, maxBodySize: 1000 });
  await before.start(port);
  const timers = new TrackedTimers();
  const s = storage(t, [before.address], timers);
  await s.start();

  /** The adapter refuses a body of `size` itself, without asking the server. */
  const refusedLocally = async (server: RocketMqStandIn, size: number) => {
    const calls = server.sendCalls.length;
    const outcome = await sendOne(s, Buffer.alloc(size));
    return !outcome.ok && outcome.error.code === 'MESSAGE_TOO_LARGE' && server.sendCalls.length === calls ? true : undefined;
  };
  await eventually(() => refusedLocally(before, 1001), 5000, 'the first limit enforced');
  assert.equal((await sendOne(s, Buffer.alloc(600))).ok, true);

  // the proxy restarts with a smaller limit: the stream ends with OK, then the port is dead a while
  await before.stop();
  await eventually(() => (timers.armed.size === 1 ? true : undefined), 5000, 'a reopen armed');
  await timers.fake.advance(TELEMETRY_REOPEN_MIN_MS);
  // the reopen found nobody: the next waits twice as long
  await eventually(() => (timers.armed.size === 1 ? true : undefined), 5000, 'a second reopen armed');
  const after = await standIn(t, 500, port);
  await timers.fake.advance(2 * TELEMETRY_REOPEN_MIN_MS - 1);
  assert.equal(after.settingsAnswered, 0, 'not reopened before its backoff');
  await timers.fake.advance(1);
  await eventually(() => (after.settingsAnswered === 1 ? true : undefined), 5000, 'the stream reopened');
  await eventually(() => refusedLocally(after, 600), 5000, 'the new limit enforced');
  assert.equal((await sendOne(s, Buffer.alloc(500))).ok, true);
});

test('close() disarms a pending Telemetry reopen', { timeout: 30_000 }, async (t) => {
  const server = new RocketMqStandIn({ brokers: { 'broker-a': 2 }, topics: TOPICS });
  await server.start();
  const timers = new TrackedTimers();
  const s = storage(t, [server.address], timers);
  await s.start();
  await eventually(() => (server.settingsAnswered === 1 ? true : undefined), 5000, 'settings answered');
  await server.stop();
  await eventually(() => (timers.armed.size === 1 ? true : undefined), 5000, 'a reopen armed');
  await s.close();
  assert.equal(timers.armed.size, 0);
});

test('a send is split into normal messages and FIFO groups, send order kept within each; none but normal on a normal route', () => {
  const n = 3_000;
  const messages = Array.from({ length: n }, (_, i) => message('x', { ordered: true, partitionId: i % 10 === 0 ? -2 : -1, hashId: i % 3 === 0 ? 7n : 8n }));
  const indices = [...messages.keys()];
  const { normal, groups } = splitByGroup(indices, messages, true);
  assert.deepEqual(normal, indices.filter((i) => i % 10 === 0));
  assert.deepEqual([...groups.keys()], ['hash-8', 'hash-7']);
  assert.deepEqual(groups.get('hash-7'), indices.filter((i) => i % 10 !== 0 && i % 3 === 0));
  assert.deepEqual(groups.get('hash-8'), indices.filter((i) => i % 10 !== 0 && i % 3 !== 0));
  assert.deepEqual(splitByGroup(indices.slice(0, 4), messages, false), { normal: [0, 1, 2, 3], groups: new Map() });
});

test("a body over the cluster's maxMessageSize is refused MESSAGE_TOO_LARGE, not sent, though the server would take it", { timeout: 30_000 }, async (t) => {
  const server = await standIn(t);
  const config = rocketmqClusterSchema(schemaTools).parse({ namesrvAddrs: [server.address], maxMessageSize: 1000 });
  const s = new RocketMqStorage('R1', config, silentLogger(), new FakeTimers());
  t.after(() => s.close());
  await s.start();
  const outcomes = await s.send([message(Buffer.alloc(1000, 0x61)), message(Buffer.alloc(1001, 0x62))]);
  assert.equal(outcomes[0]!.ok, true);
  assert.ok(!outcomes[1]!.ok && outcomes[1]!.error.code === 'MESSAGE_TOO_LARGE' && !outcomes[1]!.error.retriable, JSON.stringify(outcomes[1]));
  assert.deepEqual(server.stored.map((entry) => entry.body.length), [1000]);
});

test("an explicit partition past the route's write queues is sent, as DDMQ takes it modulo the queue count", { timeout: 30_000 }, async (t) => {
  const server = await standIn(t);
  const s = storage(t, [server.address], new FakeTimers());
  await s.start();
  const outcomes = await s.send([message('queue 1', { partitionId: 1 }), message('queue 9', { partitionId: 9 })]);
  assert.deepEqual(outcomes.map((o) => o.ok), [true, true]);
  assert.deepEqual(server.stored.map((entry) => entry.body.toString()), ['queue 1', 'queue 9']);
});

test('a multi-message send answered with one entry for the batch: every message OK, at consecutive offsets', { timeout: 30_000 }, async (t) => {
  const server = await standIn(t);
  const s = storage(t, [server.address], new FakeTimers());
  await s.start();
  // one message on each of the two queues: the batch below starts past offset 0 on either
  for (const body of ['first', 'second']) await sendOne(s, body);
  const outcomes = await s.send(['a', 'b', 'c'].map((body) => message(body)));
  assert.deepEqual(server.sendCalls.slice(2), [3], 'one SendMessage for the three');
  const stored = server.stored.slice(2);
  assert.equal(stored[0]!.offset, 1);
  assert.deepEqual(
    outcomes.map((o) => (o.ok ? o.offset : o.error.code)),
    stored.map((entry) => BigInt(entry.offset)),
    'each message OK, with the offset the server stored it at',
  );
});
