/**
 * The NATS JetStream storage plugin (plugins/jetstream) against the real nats-server, loaded at run
 * time as the host loads a plugin, each test reading back what was stored with a client of its own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { resultForStorageError } from '../../src/core/result-mapping';
import { withStrictness } from '../../src/config/strictness';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import type { ClusterStorage, OutgoingMessage, SendOutcome, StorageContext, StorageLogger, StoragePlugin } from '../../src/storage/plugin-api';
import { createStorageContext, schemaTools } from '../../src/storage/storage-context';
import { tempDir } from '../helpers/config';
import { FakeTimers } from '../helpers/fake-timers';
import { familyNames, sample } from '../helpers/metrics-exposition';
import { NatsServer } from '../helpers/nats-server';
import { freePort } from '../helpers/ports';
import { eventually } from '../helpers/wait';

const pluginDir = path.resolve(__dirname, '../../../plugins/jetstream');
const plugin = createRequire(__filename)(pluginDir).storagePlugin as StoragePlugin;
/** The plugin's storage class, for a storage on a manual clock (its order fence's windows). */
const { JetStreamStorage } = createRequire(__filename)(path.join(pluginDir, 'dist/jetstream-storage.js')) as {
  JetStreamStorage: new (config: unknown, context: StorageContext, clock: FakeTimers) => ClusterStorage;
};

/** The part of the nats client the tests read back with (the plugin's own dependency). */
interface StoredMsg {
  subject: string;
  seq: number;
  data: Uint8Array;
  header: { keys(): string[]; get(name: string): string } | undefined;
}
interface StreamInfo {
  config: { name: string; subjects: string[]; max_bytes: number; discard: string; duplicate_window: number; storage: string };
  state: { messages: number; first_seq: number; last_seq: number };
}
interface Jsm {
  streams: {
    info(name: string): Promise<StreamInfo>;
    add(config: Record<string, unknown>): Promise<StreamInfo>;
    getMessage(name: string, query: { seq: number }): Promise<StoredMsg>;
    purge(name: string): Promise<unknown>;
    delete(name: string): Promise<unknown>;
  };
}
interface Nc {
  jetstreamManager(): Promise<Jsm>;
  close(): Promise<void>;
}
const nats = createRequire(path.join(pluginDir, 'package.json'))('nats') as { connect(options: { servers: string }): Promise<Nc> };

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function recordingLogger(lines: LogLine[]): StorageLogger {
  const at =
    (level: string) =>
    (fieldsOrMessage: object | string, message?: string): void => {
      if (typeof fieldsOrMessage === 'string') lines.push({ level, fields: {}, message: fieldsOrMessage });
      else lines.push({ level, fields: fieldsOrMessage as Record<string, unknown>, message: message ?? '' });
    };
  const logger: StorageLogger = {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    isLevelEnabled: () => true,
    child: () => logger,
  };
  return logger;
}

interface Subject {
  storage: ClusterStorage;
  lines: LogLine[];
}

/**
 * A storage of the plugin for `server`, configured as carrera.yaml would, closed when the test ends;
 * with `clock`, its order fence runs on that manual clock.
 */
function createStorage(t: TestContext, servers: string[], settings: Record<string, unknown> = {}, clock?: FakeTimers, metrics?: ProxyMetrics): Subject {
  const config = withStrictness(plugin.configSchema(schemaTools), 'strict').parse({ servers, ...settings });
  const lines: LogLine[] = [];
  const context = createStorageContext({
    kind: plugin.kind,
    cluster: 'J1',
    dataDir: tempDir(t, 'pproxy-js-data-'),
    logger: recordingLogger(lines),
    producers: 1,
    ...(metrics && { metrics: metrics.storages.forCluster(plugin.kind, 'J1', recordingLogger(lines)) }),
  });
  const storage = clock ? new JetStreamStorage(config, context, clock) : plugin.create(config, context);
  t.after(() => storage.close());
  return { storage, lines };
}

async function started(t: TestContext, server: NatsServer, settings: Record<string, unknown> = {}, clock?: FakeTimers): Promise<Subject> {
  const subject = createStorage(t, [server.url], settings, clock);
  await subject.storage.start();
  return subject;
}

async function reader(t: TestContext, server: NatsServer): Promise<Jsm> {
  const nc = await nats.connect({ servers: server.url });
  t.after(() => nc.close());
  return nc.jetstreamManager();
}

/** Every message of the stream, in stream order. */
async function readStream(jsm: Jsm, stream: string): Promise<StoredMsg[]> {
  const { state } = await jsm.streams.info(stream);
  const all: StoredMsg[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq; seq += 200) {
    const chunk = [];
    for (let s = seq; s < Math.min(seq + 200, state.last_seq + 1); s++) chunk.push(jsm.streams.getMessage(stream, { seq: s }));
    all.push(...(await Promise.all(chunk)));
  }
  return all;
}

function message(topic: string, body: Buffer | string, fields: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    topic,
    key: undefined,
    tags: undefined,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    properties: undefined,
    partitionId: -2,
    hashId: 0n,
    ordered: false,
    timestamp: Date.now(),
    ...fields,
  };
}

async function sendOne(storage: ClusterStorage, m: OutgoingMessage): Promise<SendOutcome> {
  const [outcome] = await storage.send([m]);
  return outcome!;
}

function failure(outcome: SendOutcome | undefined): { code: string; retriable: boolean } {
  assert.ok(outcome && !outcome.ok, `expected a failure, got ${JSON.stringify(outcome, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  return { code: outcome.error.code, retriable: outcome.error.retriable };
}

function headersOf(stored: StoredMsg): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of stored.header?.keys() ?? []) out[name] = stored.header!.get(name);
  return out;
}

test('every field round-trips exactly: all 256 byte values, a ~1 MiB body, key, tags, unicode properties; offset is the stream sequence', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server);
  const jsm = await reader(t, server);
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const big = randomBytes(1_000_000);
  const properties = new Map([
    ['traceId', 'abc-123'],
    ['city', '北京 São Paulo ü 🚀'],
    ['Mixed_Case.name', 'v=1;w:2'],
  ]);
  const topic = 'orders.v1/eu ü';
  const sent = [
    message(topic, allBytes, { key: 'order-1 ключ', tags: 'tagA||tagB', properties }),
    message(topic, big, { key: 'big' }),
    message(topic, 'plain'),
    message(topic, 'empty key and tags', { key: '', tags: '' }),
  ];
  const outcomes = await storage.send(sent);
  assert.deepEqual(
    outcomes.map((o) => o.ok && [o.partition, o.offset]),
    [
      [0, 1n],
      [0, 2n],
      [0, 3n],
      [0, 4n],
    ],
  );
  const stream = 'orders%2Ev1%2Feu%20%C3%BC';
  const stored = await readStream(jsm, stream);
  assert.equal(stored.length, 4);
  for (const s of stored) assert.equal(s.subject, `carrera.${stream}.0`);
  assert.deepEqual(Buffer.from(stored[0]!.data), allBytes);
  assert.deepEqual(Buffer.from(stored[1]!.data), big);
  assert.equal(Buffer.from(stored[2]!.data).toString(), 'plain');
  const first = headersOf(stored[0]!);
  assert.match(first['Nats-Msg-Id'] ?? '', /^[0-9a-f-]{36}$/);
  delete first['Nats-Msg-Id'];
  delete first['Nats-Expected-Stream'];
  assert.deepEqual(first, { 'Carrera-Key': 'order-1 ключ', 'Carrera-Tags': 'tagA||tagB', traceId: 'abc-123', city: '北京 São Paulo ü 🚀', 'Mixed_Case.name': 'v=1;w:2' });
  assert.equal(headersOf(stored[1]!)['Carrera-Key'], 'big');
  for (const plain of [stored[2]!, stored[3]!]) {
    assert.deepEqual(
      Object.keys(headersOf(plain)).filter((name) => !name.startsWith('Nats-')),
      [],
      'no key, tags or property headers',
    );
  }
  assert.notEqual(headersOf(stored[2]!)['Nats-Msg-Id'], headersOf(stored[3]!)['Nats-Msg-Id'], 'one id per message');
});

test("maxMessageSize is the server's max_payload less 4 KiB of header room; a message whose headers take it over is refused before sending, and by send", async (t) => {
  const server = await NatsServer.start(t);
  const subject = createStorage(t, [server.url], { maxMessageSize: 4 * 1024 * 1024 });
  assert.equal(subject.storage.maxMessageSize, 4 * 1024 * 1024, 'before start: the configured bound');
  await subject.storage.start();
  const { storage } = subject;
  assert.equal(storage.maxMessageSize, 1024 * 1024 - 4096, "nats-server's default max_payload, less the headers' room");
  const limit = storage.maxMessageSize!;
  const fits = message('t', Buffer.alloc(limit), { key: 'k'.repeat(255), tags: 't'.repeat(255) });
  assert.equal(storage.illegalMessageReason!(fits), undefined);
  const over = message('t', Buffer.alloc(limit), { properties: new Map([['p', 'x'.repeat(5000)]]) });
  assert.match(storage.illegalMessageReason!(over) ?? '', /max_payload 1048576/);
  const outcomes = await storage.send([fits, over, message('t', Buffer.alloc(limit + 1))]);
  assert.equal(outcomes[0]!.ok, true);
  assert.deepEqual(failure(outcomes[1]), { code: 'MESSAGE_TOO_LARGE', retriable: false });
  assert.deepEqual(failure(outcomes[2]), { code: 'MESSAGE_TOO_LARGE', retriable: false });
  assert.equal(resultForStorageError('MESSAGE_TOO_LARGE'), 11);
});

test('names and values NATS headers cannot carry are refused before anything is sent (11)', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server);
  const jsm = await reader(t, server);
  const refused: Array<[string, Partial<OutgoingMessage>]> = [
    ['a unicode property name', { properties: new Map([['名前', 'v']]) }],
    ['a colon in a name', { properties: new Map([['a:b', 'v']]) }],
    ['a space in a name', { properties: new Map([['a b', 'v']]) }],
    ["a name of the server's", { properties: new Map([['Nats-Rollup', 'all']]) }],
    ["a name of the plugin's (any case)", { properties: new Map([['carrera-key', 'v']]) }],
    ['a line break in a value', { properties: new Map([['p', 'a\nb']]) }],
    ['a value with leading whitespace', { properties: new Map([['p', ' a']]) }],
    ['a key with trailing whitespace', { key: 'k ' }],
    ['tags with a CR', { tags: 'a\rb' }],
    ['an empty property name', { properties: new Map([['', 'v']]) }],
  ];
  for (const [what, fields] of refused) {
    const m = message('headers', 'x', fields);
    assert.ok(storage.illegalMessageReason!(m), what);
    assert.deepEqual(failure(await sendOne(storage, m)), { code: 'MESSAGE_ILLEGAL', retriable: false }, what);
  }
  assert.equal(resultForStorageError('MESSAGE_ILLEGAL'), 11);
  const fine = message('headers', 'x', { key: 'k', properties: new Map([['!#$%&*+-.^_|~09AZaz', 'ü x']]) });
  assert.equal(storage.illegalMessageReason!(fine), undefined);
  assert.equal((await sendOne(storage, fine)).ok, true);
  assert.equal((await jsm.streams.info('headers')).state.messages, 1, 'only the legal message was sent');
});

test('partition hints: explicit, |hashId| mod partitions, random; a partition out of range is refused', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server, { partitions: 4 });
  const jsm = await reader(t, server);
  const explicit = await storage.send([0, 1, 2, 3].map((p) => message('hints', `p${p}`, { partitionId: p })));
  assert.deepEqual(
    explicit.map((o) => o.ok && o.partition),
    [0, 1, 2, 3],
  );
  const hashes = [0n, 5n, -7n, 2n ** 63n - 1n, -(2n ** 63n)];
  const hashed = await storage.send(hashes.map((h) => message('hints', `h${h}`, { partitionId: -1, hashId: h })));
  assert.deepEqual(
    hashed.map((o) => o.ok && o.partition),
    hashes.map((h) => Number((h < 0n ? -h : h) % 4n)),
  );
  const random = await storage.send(Array.from({ length: 200 }, (_, i) => message('hints', `r${i}`, { partitionId: -2 })));
  const spread = new Set(random.map((o) => (o.ok ? o.partition : -1)));
  assert.deepEqual([...spread].sort(), [0, 1, 2, 3], 'random messages reach every partition');
  assert.deepEqual(failure(await sendOne(storage, message('hints', 'x', { partitionId: 4 }))), { code: 'PARTITION_OUT_OF_RANGE', retriable: false });
  const stored = await readStream(jsm, 'hints');
  const bySubject = new Map(stored.map((s) => [Buffer.from(s.data).toString(), s.subject]));
  for (let p = 0; p < 4; p++) assert.equal(bySubject.get(`p${p}`), `carrera.hints.${p}`);
  hashes.forEach((h, i) => assert.equal(bySubject.get(`h${h}`), `carrera.hints.${hashed[i]!.ok && hashed[i]!.partition}`));
  assert.equal(stored.length, 4 + 5 + 200);
});

const ORDERED_0 = { ordered: true, partitionId: 0 } as const;

/** Whether `promise` has settled by the time the server answered a round trip on `jsm` (it is still held if not). */
async function settledAfterRoundTrip(promise: Promise<unknown>, jsm: Jsm, stream: string): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await jsm.streams.info(stream);
  await new Promise((r) => setTimeout(r, 50));
  return settled;
}

function offsetOf(outcome: SendOutcome): bigint {
  if (!outcome.ok) assert.fail(`expected a success, got ${outcome.error.code}: ${outcome.error.message}`);
  return outcome.offset!;
}

test('ordered: a stored, b refused by a full stream (THROTTLED, retriable), then c: c waits for b to come back and is stored after it', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server, { streamMaxBytes: 6000 });
  const jsm = await reader(t, server);
  const a = message('full', Buffer.alloc(3000, 1), ORDERED_0);
  const b = message('full', Buffer.alloc(3500, 2), ORDERED_0);
  const c = message('full', Buffer.alloc(100, 3), ORDERED_0);
  assert.equal((await sendOne(storage, a)).ok, true);
  assert.deepEqual(failure(await sendOne(storage, b)), { code: 'THROTTLED', retriable: true });
  assert.equal(resultForStorageError('THROTTLED'), 10);
  const cSent = sendOne(storage, c);
  assert.equal(await settledAfterRoundTrip(cSent, jsm, 'full'), false, 'c would fit, but is held behind b');
  assert.equal((await jsm.streams.info('full')).state.messages, 1);
  assert.equal((await sendOne(storage, message('full', Buffer.alloc(100, 4)))).ok, true, 'a message of no order is not held');

  await jsm.streams.purge('full');
  const bRetried = offsetOf(await sendOne(storage, b));
  const cStored = offsetOf(await cSent);
  assert.ok(bRetried < cStored, `b at ${bRetried}, c at ${cStored}`);
  assert.deepEqual(
    (await readStream(jsm, 'full')).map((s) => s.data[0]),
    [2, 3],
  );
});

test("ordered: a send to a topic whose stream lookup failed retriably (disconnected) holds the next one until it comes back", async (t) => {
  const server = await NatsServer.start(t);
  // a window that outlasts the restart and reconnect below, however slow the machine
  const { storage } = await started(t, server, { reconnectWaitMs: 50, maxReconnectWaitMs: 100, orderedRetryWindowMs: 30_000 });
  await server.kill();
  const first = message('lookup-fence', 'first', ORDERED_0);
  assert.deepEqual(failure(await sendOne(storage, first)), { code: 'UNAVAILABLE', retriable: true });
  await server.run();
  await eventually(async () => ((await sendOne(storage, message('lookup-probe', 'x'))).ok ? true : undefined), 15_000, 'the storage to reconnect');
  const jsm = await reader(t, server);
  const second = sendOne(storage, message('lookup-fence', 'second', ORDERED_0));
  assert.equal(await settledAfterRoundTrip(second, jsm, 'lookup-probe'), false, 'second is held behind first');
  const firstStored = offsetOf(await sendOne(storage, first));
  assert.ok(firstStored < offsetOf(await second));
  assert.deepEqual(
    (await readStream(jsm, 'lookup-fence')).map((s) => Buffer.from(s.data).toString()),
    ['first', 'second'],
  );
});

/** `m` sent as the host sends it: again after each retriable failure, `backoff()` ms later, until answered for good or `deadline`. */
async function sendRetrying(storage: ClusterStorage, m: OutgoingMessage, backoff: () => number, deadline: number): Promise<SendOutcome> {
  for (;;) {
    const outcome = await sendOne(storage, m);
    if (outcome.ok || !outcome.error.retriable || Date.now() >= deadline) return outcome;
    await new Promise((r) => setTimeout(r, backoff()));
  }
}

test('ordered: through an outage, with every message retried on a backoff of its own, each partition is stored in send order, each message once', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server, { partitions: 4, reconnectWaitMs: 50, maxReconnectWaitMs: 200, publishTimeoutMs: 2000 });
  const count = 400;
  const deadline = Date.now() + 30_000;
  const sends: Promise<SendOutcome>[] = [];
  for (let i = 0; i < count; i++) {
    if (i === 100) void server.kill().then(() => new Promise((r) => setTimeout(r, 1000)).then(() => server.run()));
    const hint = i % 2 === 0 ? { partitionId: i % 4 } : { partitionId: -1, hashId: BigInt(i) };
    const m = message('ordered-outage', String(i), { ordered: true, ...hint });
    sends.push(sendRetrying(storage, m, () => 1 + Math.floor(Math.random() * 100), deadline));
    await new Promise((r) => setTimeout(r, 5));
  }
  const outcomes = await Promise.all(sends);
  const failed = outcomes.filter((o) => !o.ok);
  assert.equal(failed.length, 0, `not stored: ${JSON.stringify(failed.slice(0, 3))}`);
  const stored = await readStream(await reader(t, server), 'ordered-outage');
  assert.equal(stored.length, count, 'each message once');
  const last = new Map<string, number>();
  for (const s of stored) {
    const i = Number(Buffer.from(s.data).toString());
    assert.ok(i > (last.get(s.subject) ?? -1), `${i} stored after ${last.get(s.subject)} on ${s.subject}`);
    last.set(s.subject, i);
  }
  assert.equal(last.size, 4);
});

test('ordered, on a manual clock: a message held past the window is answered retriably and keeps its place; later ones stay behind it', async (t) => {
  const server = await NatsServer.start(t);
  const clock = new FakeTimers();
  // orderedRetryWindowMs: its default, 1000
  const { storage } = await started(t, server, { streamMaxBytes: 6000 }, clock);
  const jsm = await reader(t, server);
  const a = message('window', Buffer.alloc(3000, 1), ORDERED_0);
  const b = message('window', Buffer.alloc(3500, 2), ORDERED_0);
  const c = message('window', Buffer.alloc(100, 3), ORDERED_0);
  const d = message('window', Buffer.alloc(100, 4), ORDERED_0);
  assert.equal((await sendOne(storage, a)).ok, true);
  assert.deepEqual(failure(await sendOne(storage, b)), { code: 'THROTTLED', retriable: true });
  await clock.advance(200);
  const cHeld = sendOne(storage, c);
  await clock.advance(300);
  assert.deepEqual(failure(await sendOne(storage, b)), { code: 'THROTTLED', retriable: true }, 'b back within its window: still no room');
  await clock.advance(800);
  const cAnswer = await cHeld;
  assert.deepEqual(failure(cAnswer), { code: 'UNAVAILABLE', retriable: true }, 'c answered at its window');
  assert.match(!cAnswer.ok ? cAnswer.error.message : '', /has not been stored within 1000 ms/);
  const dHeld = sendOne(storage, d);
  await jsm.streams.purge('window');
  const bStored = offsetOf(await sendOne(storage, b));
  assert.equal(await settledAfterRoundTrip(dHeld, jsm, 'window'), false, 'd stays behind c, whose resend is awaited');
  const cStored = offsetOf(await sendOne(storage, c));
  const dStored = offsetOf(await dHeld);
  assert.ok(bStored < cStored && cStored < dStored, `b ${bStored}, c ${cStored}, d ${dStored}`);
});

test('ordered, on a manual clock: a failed message not sent again within the window is given up: the next goes, and its resend is refused for good, on a replacement storage too', async (t) => {
  const server = await NatsServer.start(t);
  const clock = new FakeTimers();
  // orderedRetryWindowMs: its default, 1000
  const settings = { streamMaxBytes: 6000 };
  const { storage } = await started(t, server, settings, clock);
  const jsm = await reader(t, server);
  const a = message('given-up', Buffer.alloc(3000, 1), ORDERED_0);
  const b = message('given-up', Buffer.alloc(3500, 2), ORDERED_0);
  const c = message('given-up', Buffer.alloc(100, 3), ORDERED_0);
  assert.equal((await sendOne(storage, a)).ok, true);
  assert.deepEqual(failure(await sendOne(storage, b)), { code: 'THROTTLED', retriable: true });
  const cSent = sendOne(storage, c);
  await clock.advance(999);
  assert.equal(await settledAfterRoundTrip(cSent, jsm, 'given-up'), false);
  await clock.advance(1);
  assert.equal((await cSent).ok, true, 'b given up: c goes');
  await jsm.streams.purge('given-up');
  const late = await sendOne(storage, b);
  assert.deepEqual(failure(late), { code: 'UNAVAILABLE', retriable: false });
  assert.match(!late.ok ? late.error.message : '', /younger ordered messages of carrera\.given-up\.0 were stored before/);
  const replacement = (await started(t, server, settings, clock)).storage;
  assert.deepEqual(failure(await sendOne(replacement, b)), { code: 'UNAVAILABLE', retriable: false });
  assert.equal((await jsm.streams.info('given-up')).state.messages, 0, 'b was not stored after c');
});

test('close() answers the held ordered messages CLOSED (retriable) at once', async (t) => {
  const server = await NatsServer.start(t);
  const clock = new FakeTimers();
  const { storage } = await started(t, server, { streamMaxBytes: 6000 }, clock);
  assert.equal((await sendOne(storage, message('close-held', Buffer.alloc(3000), ORDERED_0))).ok, true);
  assert.equal(failure(await sendOne(storage, message('close-held', Buffer.alloc(3500), ORDERED_0))).retriable, true);
  const held = sendOne(storage, message('close-held', Buffer.alloc(100), ORDERED_0));
  await storage.close();
  assert.deepEqual(failure(await held), { code: 'CLOSED', retriable: true });
});

test('the same message sent again is stored once (its id is kept across retries); another message with the same key is not deduplicated', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server);
  const jsm = await reader(t, server);
  const m = message('dedup', 'once', { key: 'business-key' });
  const first = await sendOne(storage, m);
  const again = await sendOne(storage, m);
  assert.deepEqual([first.ok && first.offset, again.ok && again.offset], [1n, 1n], 'the retry is answered with the first copy');
  const sameKey = await sendOne(storage, message('dedup', 'twice', { key: 'business-key' }));
  assert.equal(sameKey.ok && sameKey.offset, 2n);
  assert.equal((await jsm.streams.info('dedup')).state.messages, 2);
});

test("the same message sent through a second storage of the cluster (the host's resend after a configuration change) is stored once", async (t) => {
  const server = await NatsServer.start(t);
  const first = (await started(t, server)).storage;
  const replacement = (await started(t, server)).storage;
  const jsm = await reader(t, server);
  const m = message('dedup-swap', 'once');
  assert.equal(offsetOf(await sendOne(first, m)), 1n);
  assert.equal(offsetOf(await sendOne(replacement, m)), 1n, 'answered with the first copy');
  assert.equal((await jsm.streams.info('dedup-swap')).state.messages, 1);
});

test('an ack really lost (the server paused with the publish written): TIMEOUT, retriable; the retry of the same message is deduplicated', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server, { publishTimeoutMs: 500 });
  const jsm = await reader(t, server);
  assert.equal((await sendOne(storage, message('lost-ack', 'warm'))).ok, true);
  const m = message('lost-ack', 'once');
  await server.pause();
  const lost = await sendOne(storage, m).finally(() => server.resume());
  assert.deepEqual(failure(lost), { code: 'TIMEOUT', retriable: true });
  assert.equal(resultForStorageError('TIMEOUT'), 12);
  await eventually(async () => ((await jsm.streams.info('lost-ack')).state.messages === 2 ? true : undefined), 5000, 'the paused publish to be stored');
  assert.equal(offsetOf(await sendOne(storage, m)), 2n, 'the retry is answered with the copy stored without an ack');
  assert.deepEqual(
    (await readStream(jsm, 'lost-ack')).map((s) => Buffer.from(s.data).toString()),
    ['warm', 'once'],
  );
});

test('a stream the plugin did not create, deduplicating for less than duplicateWindowMs: a lost ack is TIMEOUT, not retriable, and the window is logged once', async (t) => {
  const server = await NatsServer.start(t);
  const jsm = await reader(t, server);
  await jsm.streams.add({ name: 'short-window', subjects: ['carrera.short-window.*'], duplicate_window: 1_000_000_000 });
  const { storage, lines } = await started(t, server, { publishTimeoutMs: 500 });
  assert.equal((await sendOne(storage, message('short-window', 'warm'))).ok, true);
  await server.pause();
  const lost = await sendOne(storage, message('short-window', 'unacked')).finally(() => server.resume());
  assert.deepEqual(failure(lost), { code: 'TIMEOUT', retriable: false });
  assert.match(!lost.ok ? lost.error.message : '', /stream short-window deduplicates for only 1000 ms/);
  assert.equal((await sendOne(storage, message('short-window', 'after'))).ok, true);
  const logged = lines.filter((l) => l.message.includes('deduplicates for less than duplicateWindowMs'));
  assert.deepEqual(
    logged.map((l) => [l.level, l.fields['stream'], l.fields['duplicateWindowMs']]),
    [['warn', 'short-window', 1000]],
  );
});

test('close() while start() connects: start rejects and no connection is left open', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = createStorage(t, [server.url]);
  const starting = storage.start();
  await storage.close();
  await assert.rejects(starting, /closed while it connected/);
  await eventually(async () => ((await server.connections()) === 0 ? true : undefined), 5000, 'the server to have no connection');
  await assert.rejects(storage.start(), /is closed/);
});

test('a connection the client closes by itself (the server refuses it twice) is logged as an error and answered UNAVAILABLE, not retriable', async (t) => {
  const server = await NatsServer.start(t);
  const { storage, lines } = await started(t, server, { reconnectWaitMs: 50, maxReconnectWaitMs: 100 });
  assert.equal((await sendOne(storage, message('refused', 'x'))).ok, true);
  await server.kill();
  await server.run({ user: { name: 'someone', password: 'else' } });
  const answer = await eventually(
    async () => {
      const outcome = await sendOne(storage, message('refused', 'y'));
      return !outcome.ok && !outcome.error.retriable ? outcome : undefined;
    },
    15_000,
    'a send to be refused for good',
  );
  assert.deepEqual(failure(answer), { code: 'UNAVAILABLE', retriable: false });
  assert.deepEqual(failure(await sendOne(storage, message('refused-new-topic', 'z'))), { code: 'UNAVAILABLE', retriable: false });
  assert.equal(lines.filter((l) => l.level === 'error' && /closed by the client/.test(l.message)).length, 1);
});

test('every message answered OK is stored exactly once: 3,000 messages sent concurrently', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server, { partitions: 3 });
  const jsm = await reader(t, server);
  const sends: Promise<SendOutcome[]>[] = [];
  let n = 0;
  for (let call = 0; call < 300; call++) {
    const batch = Array.from({ length: 10 }, () => message(call % 2 === 0 ? 'many-a' : 'many-b', `m${n++}`, { key: 'k' }));
    sends.push(storage.send(batch));
  }
  const outcomes = (await Promise.all(sends)).flat();
  const ok = new Set(outcomes.flatMap((o, i) => (o.ok ? [`m${i}`] : [])));
  assert.equal(ok.size, 3000);
  const stored = [...(await readStream(jsm, 'many-a')), ...(await readStream(jsm, 'many-b'))].map((s) => Buffer.from(s.data).toString());
  assert.equal(stored.length, 3000);
  assert.deepEqual(new Set(stored), ok);
});

test('server killed: sends fail retriably within a bound; restarted on the same port: the same storage sends again, the reconnect counted; failure lines are throttled', async (t) => {
  const server = await NatsServer.start(t);
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['J1']);
  const { storage, lines } = createStorage(t, [server.url], { reconnectWaitMs: 50, maxReconnectWaitMs: 200, publishTimeoutMs: 10_000 }, undefined, metrics);
  await storage.start();
  const jsm = await reader(t, server);
  assert.equal((await sendOne(storage, message('outage', 'before'))).ok, true);
  await jsm.streams.info('outage');

  await server.kill();
  const started_ = Date.now();
  let failures = 0;
  // an ordered message is resent as the host retries it: a new one would wait behind it (the order fence)
  const ordered = message('outage', 'during', { ordered: true, partitionId: 0 });
  while (Date.now() - started_ < 2500) {
    const sentAt = Date.now();
    const outcomes = await storage.send([message('outage', 'during'), ordered, message('outage-new-topic', 'its stream is not known yet')]);
    assert.ok(Date.now() - sentAt < 1000, 'answered well before publishTimeoutMs');
    for (const o of outcomes) {
      const f = failure(o);
      assert.equal(f.retriable, true);
      assert.ok(['UNAVAILABLE', 'TIMEOUT'].includes(f.code), f.code);
      failures++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(failures > 100, `${failures} failures`);
  const failureLines = lines.filter((l) => l.message === 'jetstream send failed');
  // one line per second per kind, the first at once: 2.5 s of an outage is a handful of lines, not one per message
  assert.ok(failureLines.length <= 8, `${failureLines.length} failure lines for ${failures} failures`);

  await server.run();
  const after = await eventually(
    async () => {
      const o = await sendOne(storage, message('outage', 'after'));
      return o.ok ? o : undefined;
    },
    15_000,
    'a send to succeed after the restart',
  );
  assert.equal(after.ok, true);
  const stored = (await readStream(await reader(t, server), 'outage')).map((s) => Buffer.from(s.data).toString());
  assert.deepEqual(stored, ['before', 'after'], 'the store survived the restart; nothing sent during the outage was stored');
  assert.equal(sample(await metrics.render(), 'pproxy_storage_jetstream_reconnects_total', { cluster: 'J1' }), 1);
});

test('a publish out when the connection drops is answered TIMEOUT (retriable) at once, not at publishTimeoutMs; a stream lookup out, UNAVAILABLE', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server, { publishTimeoutMs: 20_000, connectTimeoutMs: 20_000 });
  assert.equal((await sendOne(storage, message('hung', 'warm'))).ok, true);
  await server.pause();
  const pending = sendOne(storage, message('hung', 'unanswered'));
  const lookingUp = sendOne(storage, message('hung-new-topic', 'its stream lookup is out'));
  await new Promise((r) => setTimeout(r, 200));
  const killedAt = Date.now();
  await server.kill();
  assert.deepEqual(failure(await pending), { code: 'TIMEOUT', retriable: true });
  assert.deepEqual(failure(await lookingUp), { code: 'UNAVAILABLE', retriable: true });
  assert.ok(Date.now() - killedAt < 2000, `answered ${Date.now() - killedAt} ms after the kill`);
});

test('streams that must exist (createStreams: false): missing, or not capturing a partition, is TOPIC_NOT_FOUND, not retriable', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server, { createStreams: false, partitions: 2 });
  const jsm = await reader(t, server);
  const missing = failure(await sendOne(storage, message('absent', 'x')));
  assert.deepEqual(missing, { code: 'TOPIC_NOT_FOUND', retriable: false });
  assert.equal(resultForStorageError('TOPIC_NOT_FOUND'), 14);
  await jsm.streams.add({ name: 'narrow', subjects: ['carrera.narrow.0'] });
  const narrow = await sendOne(storage, message('narrow', 'x', { partitionId: 1 }));
  assert.deepEqual(failure(narrow), { code: 'TOPIC_NOT_FOUND', retriable: false });
  assert.match(!narrow.ok ? narrow.error.message : '', /does not capture carrera\.narrow\.1/);
  await jsm.streams.add({ name: 'wide', subjects: ['carrera.wide.>'] });
  assert.equal((await sendOne(storage, message('wide', 'x', { partitionId: 1 }))).ok, true, 'an existing stream is used as it is');
});

test('publishes and failures are not counted again by the storage: the host counts them for every storage', async (t) => {
  const server = await NatsServer.start(t);
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['J1']);
  const { storage } = createStorage(t, [server.url], { createStreams: false }, undefined, metrics);
  await storage.start();
  const jsm = await reader(t, server);
  await jsm.streams.add({ name: 'orders', subjects: ['carrera.orders.>'] });
  const outcomes = await storage.send([0, 1, 2].map((i) => message('orders', `m${i}`)));
  assert.deepEqual(outcomes.map((o) => o.ok), [true, true, true]);
  assert.deepEqual(failure(await sendOne(storage, message('absent', 'x'))), { code: 'TOPIC_NOT_FOUND', retriable: false });
  // pproxy_storage_messages_stored_total and pproxy_storage_errors_total are the host's
  assert.deepEqual(familyNames(await metrics.render(), 'pproxy_storage_jetstream_'), ['pproxy_storage_jetstream_reconnects_total']);
});

test('warmUp creates the streams; a stream deleted while the storage runs answers UNAVAILABLE (retriable) once, then is created again with the configured limits', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server, { partitions: 2, streamMaxBytes: 1_000_000, duplicateWindowMs: 30_000 });
  const jsm = await reader(t, server);
  await storage.warmUp!(['recreated']);
  assert.equal((await jsm.streams.info('recreated')).state.messages, 0, 'warmUp created the stream');
  assert.equal((await sendOne(storage, message('recreated', 'first'))).ok, true);
  const created = await jsm.streams.info('recreated');
  assert.deepEqual(created.config.subjects, ['carrera.recreated.*']);
  assert.deepEqual(
    [created.config.max_bytes, created.config.discard, created.config.duplicate_window, created.config.storage],
    [1_000_000, 'new', 30_000 * 1_000_000, 'file'],
  );
  await jsm.streams.delete('recreated');
  assert.deepEqual(failure(await sendOne(storage, message('recreated', 'lost'))), { code: 'UNAVAILABLE', retriable: true });
  const again = await sendOne(storage, message('recreated', 'second'));
  assert.deepEqual(again.ok && again.offset, 1n, 'a new stream');
  assert.deepEqual(
    (await readStream(jsm, 'recreated')).map((m) => Buffer.from(m.data).toString()),
    ['second'],
  );
});

test('close() then send is CLOSED, retriable; close() twice is fine', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server);
  assert.equal((await sendOne(storage, message('close', 'x'))).ok, true);
  await storage.close();
  await storage.close();
  assert.deepEqual(failure(await sendOne(storage, message('close', 'y'))), { code: 'CLOSED', retriable: true });
  assert.equal(resultForStorageError('CLOSED'), 20);
});

test('close() during an outage, with a publish out, returns within a bound', async (t) => {
  const server = await NatsServer.start(t);
  const { storage } = await started(t, server, { publishTimeoutMs: 20_000, reconnectWaitMs: 50 });
  assert.equal((await sendOne(storage, message('outage-close', 'x'))).ok, true);
  await server.pause();
  const pending = sendOne(storage, message('outage-close', 'unanswered'));
  await new Promise((r) => setTimeout(r, 100));
  await server.kill();
  const closingAt = Date.now();
  await storage.close();
  assert.ok(Date.now() - closingAt < 2000, `closed after ${Date.now() - closingAt} ms`);
  assert.equal(failure(await pending).retriable, true);
  assert.deepEqual(failure(await sendOne(storage, message('outage-close', 'y'))), { code: 'CLOSED', retriable: true });
});

test('start() against a port nobody listens on rejects within connectTimeoutMs', async (t) => {
  const { storage } = createStorage(t, [`nats://127.0.0.1:${await freePort()}`], { connectTimeoutMs: 1000 });
  const startedAt = Date.now();
  await assert.rejects(storage.start());
  assert.ok(Date.now() - startedAt < 3000, `rejected after ${Date.now() - startedAt} ms`);
});

test('start() against a NATS server without JetStream rejects and says so', async (t) => {
  const server = await NatsServer.start(t, { jetstream: false });
  const { storage } = createStorage(t, [server.url], { connectTimeoutMs: 1000 });
  await assert.rejects(storage.start(), /does not serve JetStream/);
});

test('carrera.yaml settings are checked strictly', () => {
  const schema = withStrictness(plugin.configSchema(schemaTools), 'strict');
  assert.equal(plugin.kind, 'jetstream');
  assert.deepEqual(schema.parse({ servers: ['nats://a:4222'] }).partitions, 1);
  assert.throws(() => schema.parse({ servers: ['nats://a:4222'], partition: 2 }), /partition/);
  assert.throws(() => schema.parse({ servers: [] }), /at least one/);
  assert.throws(() => schema.parse({ servers: ['x'], subjectPrefix: 'a.*.' }));
  assert.throws(() => schema.parse({ servers: ['x'], streamPrefix: 'a.b' }));
});
