/**
 * The Redis Streams storage plugin (plugins/redis) against a real redis-server, loaded at run time
 * from its folder as the host loads it, and read back with a separate client.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { withStrictness } from '../../src/config/strictness';
import type { StorageLogger, StoragePlugin } from '../../src/storage/plugin-api';
import { createStorageContext, schemaTools } from '../../src/storage/storage-context';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../../src/storage/storage';
import { tempDir } from '../helpers/config';
import { familyNames, sample } from '../helpers/metrics-exposition';
import { freePort } from '../helpers/ports';
import { RedisServer } from '../helpers/redis';

const pluginDir = path.resolve(__dirname, '../../../plugins/redis');
const load = createRequire(__filename);
const plugin = load(pluginDir).storagePlugin as StoragePlugin;
// the read-back client: the plugin's own dependency, on a connection of its own
const IORedis = createRequire(path.join(pluginDir, 'package.json'))('ioredis') as new (options: object) => Reader;

interface Reader {
  xrangeBuffer(key: string, start: string, end: string): Promise<[Buffer, Buffer[]][]>;
  xlen(key: string): Promise<number>;
  call(command: string, ...args: string[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

function reader(t: TestContext, server: RedisServer): Reader {
  const client = new IORedis({ host: '127.0.0.1', port: server.port, maxRetriesPerRequest: 1 });
  t.after(() => client.disconnect());
  return client;
}

/** Lines the storage logged at warn. */
function captureLogger(lines: { fields: Record<string, unknown>; message: string | undefined }[] = []): StorageLogger {
  const write = (fields: unknown, message?: string) => {
    lines.push(typeof fields === 'string' ? { fields: {}, message: fields } : { fields: fields as Record<string, unknown>, message });
  };
  const noop = () => undefined;
  const logger: StorageLogger = { trace: noop, debug: noop, info: noop, warn: write, error: write, isLevelEnabled: () => false, child: () => logger };
  return logger;
}

function parse(settings: Record<string, unknown>) {
  return withStrictness(plugin.configSchema(schemaTools), 'strict').parse(settings);
}

async function storage(t: TestContext, port: number, settings: Record<string, unknown> = {}, logger = captureLogger(), metrics?: ProxyMetrics): Promise<ClusterStorage> {
  const context = createStorageContext({
    kind: plugin.kind,
    cluster: 'R1',
    dataDir: tempDir(t, 'pproxy-redis-data-'),
    logger,
    producers: 1,
    ...(metrics && { metrics: metrics.storages.forCluster(plugin.kind, 'R1', logger) }),
  });
  const created = plugin.create(parse({ port, ...settings }), context);
  t.after(() => created.close());
  await created.start();
  return created;
}

function message(fields: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    topic: 'orders',
    key: undefined,
    tags: undefined,
    body: Buffer.from('x'),
    properties: undefined,
    partitionId: -2,
    hashId: 0n,
    ordered: false,
    timestamp: 1_700_000_000_123,
    ...fields,
  };
}

/** An entry's fields, by name (values as buffers). */
function fieldsOf(entry: [Buffer, Buffer[]]): Map<string, Buffer> {
  const fields = new Map<string, Buffer>();
  for (let i = 0; i < entry[1].length; i += 2) fields.set(entry[1][i]!.toString(), entry[1][i + 1]!);
  return fields;
}

function failure(outcome: SendOutcome | undefined): { code: string; retriable: boolean; message: string } {
  assert.ok(outcome && !outcome.ok, `expected a failure, got ${JSON.stringify(outcome, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  return outcome.error;
}

test('the descriptor: kind redis, contract version 1, its package version; settings are checked strictly', () => {
  assert.equal(plugin.kind, 'redis');
  assert.equal(plugin.apiVersion, 1);
  assert.equal(plugin.version, load(path.join(pluginDir, 'package.json')).version);
  const config = parse({});
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 6379);
  assert.equal(config.partitions, 1);
  assert.equal(config.maxMessageSize, undefined);
  assert.throws(() => parse({ partiton: 4 }), /partiton/);
  assert.throws(() => parse({ maxMessageSize: 513 * 1024 * 1024 }));
});

test('every field round-trips exactly: all byte values, a 1 MiB body, key, tags, unicode properties, the timestamp', async (t) => {
  const server = await RedisServer.start(t);
  const redis = await storage(t, server.port, { maxMessageSize: 2 * 1024 * 1024 });
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const big = Buffer.alloc(1024 * 1024 + 7);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  const properties = new Map([
    ['traceId', 'abc'],
    ['名前', 'värde ✓ 🚀'],
    ['body', 'a property named like a field'],
    ['', 'empty name'],
  ]);
  const sent = [
    message({ body: allBytes, key: 'order-1', tags: 'tagA||tagB', properties }),
    message({ body: big, key: '', tags: '' }),
    message({ body: Buffer.alloc(0) }),
  ];
  const outcomes = await redis.send(sent);
  assert.deepEqual(outcomes, sent.map(() => ({ ok: true, partition: 0, offset: undefined })));

  const entries = await reader(t, server).xrangeBuffer('orders:0', '-', '+');
  assert.equal(entries.length, 3);
  const [first, second, third] = entries.map(fieldsOf);
  assert.ok(first!.get('body')!.equals(allBytes));
  assert.equal(first!.get('key')!.toString(), 'order-1');
  assert.equal(first!.get('tags')!.toString(), 'tagA||tagB');
  assert.equal(first!.get('ts')!.toString(), '1700000000123');
  for (const [name, value] of properties) assert.equal(first!.get(`p:${name}`)!.toString('utf8'), value);
  assert.equal([...first!.keys()].filter((k) => k.startsWith('p:')).length, properties.size);
  assert.ok(second!.get('body')!.equals(big));
  assert.equal(second!.get('key')!.toString(), '');
  assert.equal(second!.get('tags')!.toString(), '');
  assert.equal(third!.get('body')!.length, 0);
  assert.deepEqual([...third!.keys()], ['body', 'ts'], 'an absent key, tags or properties write no field');
});

test('partition hints: explicit, by hashId (|hashId| mod partitions), random; a partition beyond the count is refused', async (t) => {
  const server = await RedisServer.start(t);
  const redis = await storage(t, server.port, { partitions: 4, keyPrefix: 'ddmq:' });
  const outcomes = await redis.send([
    message({ partitionId: 3, body: Buffer.from('explicit') }),
    message({ partitionId: -1, hashId: -10n, body: Buffer.from('hash') }),
    message({ partitionId: 4 }),
    ...Array.from({ length: 200 }, () => message({ partitionId: -2, body: Buffer.from('random') })),
  ]);
  assert.deepEqual(outcomes[0], { ok: true, partition: 3, offset: undefined });
  assert.deepEqual(outcomes[1], { ok: true, partition: 2, offset: undefined });
  const refused = failure(outcomes[2]);
  assert.equal(refused.code, 'PARTITION_OUT_OF_RANGE');
  assert.equal(refused.retriable, false);
  const read = reader(t, server);
  assert.equal(fieldsOf((await read.xrangeBuffer('ddmq:orders:3', '-', '+'))[0]!).get('body')!.toString(), 'explicit');
  assert.equal(fieldsOf((await read.xrangeBuffer('ddmq:orders:2', '-', '+'))[0]!).get('body')!.toString(), 'hash');
  const randomCounts = [0, 1, 2, 3].map((p) => outcomes.slice(3).filter((o) => o.ok && o.partition === p).length);
  assert.equal(randomCounts.reduce((a, b) => a + b), 200);
  for (const count of randomCounts) assert.ok(count > 10, `random spread: ${randomCounts}`);
});

test('a few thousand messages sent concurrently: each answered OK is stored exactly once, in order per partition', async (t) => {
  const server = await RedisServer.start(t);
  const redis = await storage(t, server.port, { partitions: 4 });
  const senders = 20;
  const perSender = 200;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: senders }, async (_, s) => {
      for (let i = 0; i < perSender; i += 10) {
        const batch = Array.from({ length: 10 }, (_, j) =>
          message({ partitionId: -1, hashId: BigInt(s), ordered: true, body: Buffer.from(`${s}:${i + j}`) }),
        );
        const outcomes = await redis.send(batch);
        assert.ok(outcomes.every((o) => o.ok));
      }
    }),
  );
  const elapsed = Date.now() - started;
  const read = reader(t, server);
  const seen = new Set<string>();
  for (let p = 0; p < 4; p++) {
    const last = new Map<number, number>();
    for (const entry of await read.xrangeBuffer(`orders:${p}`, '-', '+')) {
      const body = fieldsOf(entry).get('body')!.toString();
      assert.ok(!seen.has(body), `stored twice: ${body}`);
      seen.add(body);
      const [s, i] = body.split(':').map(Number) as [number, number];
      assert.equal(s % 4, p, 'a hashId keeps its partition');
      assert.ok((last.get(s) ?? -1) < i, `order of sender ${s} on partition ${p}`);
      last.set(s, i);
    }
  }
  assert.equal(seen.size, senders * perSender);
  t.diagnostic(`${senders * perSender} messages in ${elapsed} ms`);
});

test('a server outage: sends are answered at once with a retriable failure; after a restart on the same port they succeed on the same storage, the reconnect counted', async (t) => {
  const server = await RedisServer.start(t);
  const lines: { fields: Record<string, unknown>; message: string | undefined }[] = [];
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['R1']);
  const redis = await storage(t, server.port, {}, captureLogger(lines), metrics);
  assert.ok((await redis.send([message()]))[0]!.ok);
  await server.kill();
  // the client notices the close; from then on nothing is written
  let outcome: SendOutcome | undefined;
  const deadline = Date.now() + 5000;
  do outcome = (await redis.send([message()]))[0];
  while (outcome?.ok && Date.now() < deadline);
  const started = Date.now();
  const during = await Promise.all(Array.from({ length: 500 }, () => redis.send([message()])));
  const answeredIn = Date.now() - started;
  for (const [o] of during) {
    const error = failure(o);
    assert.equal(error.code, 'UNAVAILABLE');
    assert.equal(error.retriable, true, error.message);
  }
  assert.ok(answeredIn < 1000, `500 sends during the outage answered in ${answeredIn} ms`);
  const sendFailureLines = lines.filter((l) => l.message === 'redis send failed');
  assert.ok(sendFailureLines.length <= 3, `throttled: ${sendFailureLines.length} lines for 500 failures`);

  await server.run();
  const back = Date.now();
  let after: SendOutcome | undefined;
  while (Date.now() - back < 10_000) {
    after = (await redis.send([message({ body: Buffer.from('after') })]))[0];
    if (after?.ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(after?.ok, 'sends succeed again after the restart');
  t.diagnostic(`first OK ${Date.now() - back} ms after the restart`);
  const bodies = (await reader(t, server).xrangeBuffer('orders:0', '-', '+')).map((e) => fieldsOf(e).get('body')!.toString());
  assert.equal(bodies.at(-1), 'after');
  const text = await metrics.render();
  assert.equal(sample(text, 'pproxy_storage_redis_reconnects_total', { cluster: 'R1' }), 1);
  // the messages stored and failed the host counts for every storage (pproxy_storage_messages_stored_total, pproxy_storage_errors_total)
  assert.deepEqual(familyNames(text, 'pproxy_storage_redis_'), ['pproxy_storage_redis_reconnects_total']);
});

test('a command in flight when the connection is lost fails for good (it may be stored); a stalled reply times out, not retriable', async (t) => {
  const server = await RedisServer.start(t);
  const redis = await storage(t, server.port, { commandTimeoutMs: 300 });
  const admin = reader(t, server);
  await admin.call('CLIENT', 'PAUSE', '5000', 'WRITE');
  const started = Date.now();
  const timedOut = failure((await redis.send([message()]))[0]);
  assert.equal(timedOut.code, 'TIMEOUT');
  assert.equal(timedOut.retriable, false);
  assert.ok(Date.now() - started < 2000, 'answered by the command timeout');

  const inFlight = redis.send([message()]);
  await new Promise((r) => setTimeout(r, 50));
  await server.kill();
  const lost = failure((await inFlight)[0]);
  assert.equal(lost.code, 'UNAVAILABLE');
  assert.equal(lost.retriable, false, lost.message);
});

test('a full store (maxmemory, noeviction): THROTTLED and retriable, and sends succeed again once space is freed', async (t) => {
  const server = await RedisServer.start(t, ['--maxmemory', '4mb', '--maxmemory-policy', 'noeviction']);
  const redis = await storage(t, server.port);
  const body = Buffer.alloc(64 * 1024, 1);
  let full: SendOutcome | undefined;
  for (let i = 0; i < 200 && !full; i++) {
    const [outcome] = await redis.send([message({ body })]);
    if (!outcome!.ok) full = outcome;
  }
  const error = failure(full);
  assert.equal(error.code, 'THROTTLED');
  assert.equal(error.retriable, true);
  assert.match(error.message, /OOM/);
  assert.equal(failure((await redis.send([message({ body })]))[0]).code, 'THROTTLED', 'still full');
  await reader(t, server).call('XTRIM', 'orders:0', 'MAXLEN', '0');
  assert.deepEqual((await redis.send([message({ body })]))[0], { ok: true, partition: 0, offset: undefined });
});

test('a key of another type (WRONGTYPE) is TOPIC_NOT_FOUND, not retriable; requireExistingStreams refuses a missing stream', async (t) => {
  const server = await RedisServer.start(t);
  const admin = reader(t, server);
  await admin.call('SET', 'orders:0', 'a string');
  const plain = await storage(t, server.port);
  const wrongType = failure((await plain.send([message()]))[0]);
  assert.equal(wrongType.code, 'TOPIC_NOT_FOUND');
  assert.equal(wrongType.retriable, false);
  assert.match(wrongType.message, /WRONGTYPE/);

  const strict = await storage(t, server.port, { requireExistingStreams: true });
  const missing = failure((await strict.send([message({ topic: 'nobody' })]))[0]);
  assert.equal(missing.code, 'TOPIC_NOT_FOUND');
  assert.equal(missing.retriable, false);
  assert.equal(await admin.xlen('nobody:0'), 0, 'no stream was created');
  await admin.call('XGROUP', 'CREATE', 'made:0', 'consumers', '$', 'MKSTREAM');
  assert.ok((await strict.send([message({ topic: 'made' })]))[0]!.ok);
});

test('body limits: maxMessageSize is the cluster limit the core applies; a body over it, or over the server proto-max-bulk-len, is refused unsent', async (t) => {
  const server = await RedisServer.start(t, ['--proto-max-bulk-len', '1mb']);
  const redis = await storage(t, server.port, { maxMessageSize: 4 * 1024 * 1024 });
  assert.equal(redis.maxMessageSize, 4 * 1024 * 1024);
  const over = message({ body: Buffer.alloc(1024 * 1024 + 1) });
  assert.match(redis.illegalMessageReason!(over) ?? '', /proto-max-bulk-len/);
  const refused = failure((await redis.send([over, message()]))[0]);
  assert.equal(refused.code, 'MESSAGE_TOO_LARGE');
  assert.equal(refused.retriable, false);
  assert.equal(redis.illegalMessageReason!(message({ body: Buffer.alloc(1024 * 1024) })), undefined);
  assert.ok((await redis.send([message({ body: Buffer.alloc(1024 * 1024) })]))[0]!.ok, 'the connection survived');
  assert.equal(await reader(t, server).xlen('orders:0'), 2);
});

test('maxLen trims each stream to about that many entries', async (t) => {
  const server = await RedisServer.start(t);
  const redis = await storage(t, server.port, { maxLen: 100 });
  for (let i = 0; i < 10; i++) await redis.send(Array.from({ length: 100 }, () => message()));
  const length = await reader(t, server).xlen('orders:0');
  assert.ok(length >= 100 && length < 300, `stream length ${length}`);
});

test('close(): later sends are CLOSED and retriable; closing twice is fine', async (t) => {
  const server = await RedisServer.start(t);
  const redis = await storage(t, server.port);
  const pending = redis.send([message()]);
  await redis.close();
  assert.ok((await pending)[0]!.ok, 'a send already written is answered before close resolves');
  const closed = failure((await redis.send([message()]))[0]);
  assert.equal(closed.code, 'CLOSED');
  assert.equal(closed.retriable, true);
  await redis.close();
});

test('start() against a port nobody listens on rejects within connectTimeoutMs', async (t) => {
  const port = await freePort();
  const context = createStorageContext({ kind: 'redis', cluster: 'R1', dataDir: tempDir(t), logger: captureLogger(), producers: 1 });
  const redis = plugin.create(parse({ port, connectTimeoutMs: 500 }), context);
  const started = Date.now();
  await assert.rejects(redis.start(), /not ready within 500 ms.*ECONNREFUSED/);
  assert.ok(Date.now() - started < 1500);
  const outcome = failure((await redis.send([message()]))[0]);
  assert.equal(outcome.code, 'UNAVAILABLE');
  await redis.close();
});

/** The host's way with one message: resent while the failure is retriable, with backoff, until its deadline. */
async function deliver(redis: ClusterStorage, m: OutgoingMessage, deadlineMs: number): Promise<SendOutcome> {
  const deadline = Date.now() + deadlineMs;
  let wait = 5;
  for (;;) {
    const [outcome] = await redis.send([m]);
    if (outcome!.ok || !outcome!.error.retriable || Date.now() + wait >= deadline) return outcome!;
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 100);
  }
}

test('ordered messages sent and retried across a server restart are stored in send order, each at most once', async (t) => {
  const server = await RedisServer.start(t);
  const redis = await storage(t, server.port, { partitions: 2 });
  const senders = 4;
  const perSender = 150;
  const answered: Promise<SendOutcome>[][] = Array.from({ length: senders }, () => []);
  const sending = Promise.all(
    Array.from({ length: senders }, async (_, s) => {
      for (let i = 0; i < perSender; i++) {
        const m = message({ partitionId: -1, hashId: BigInt(s), ordered: true, body: Buffer.from(`${s}:${i}`) });
        answered[s]!.push(deliver(redis, m, 3000));
        await new Promise((r) => setTimeout(r, 2));
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 100));
  await server.kill();
  await new Promise((r) => setTimeout(r, 200));
  await server.run();
  await sending;
  const outcomes = await Promise.all(answered.map((list) => Promise.all(list)));

  const read = reader(t, server);
  const stored = new Map<number, number[]>();
  for (let p = 0; p < 2; p++) {
    for (const entry of await read.xrangeBuffer(`orders:${p}`, '-', '+')) {
      const [s, i] = fieldsOf(entry).get('body')!.toString().split(':').map(Number) as [number, number];
      stored.set(s, [...(stored.get(s) ?? []), i]);
    }
  }
  let failedDuringOutage = 0;
  for (let s = 0; s < senders; s++) {
    const sequence = stored.get(s) ?? [];
    for (let k = 1; k < sequence.length; k++) assert.ok(sequence[k - 1]! < sequence[k]!, `sender ${s}: ${sequence[k - 1]} stored before ${sequence[k]}`);
    outcomes[s]!.forEach((o, i) => {
      if (o.ok) assert.ok(sequence.includes(i), `sender ${s}: ${i} answered OK but not stored`);
      else failedDuringOutage++;
    });
  }
  const okCount = outcomes.flat().filter((o) => o.ok).length;
  t.diagnostic(`${okCount} OK, ${failedDuringOutage} failed for good, ${[...stored.values()].flat().length} stored`);
  assert.ok(okCount > senders * perSender * 0.5, 'most messages are stored despite the outage');
});

/** A store that refuses every write with OOM (maxmemory of 1 byte, noeviction), or takes them again (no maxmemory). */
async function storeFull(admin: Reader, full: boolean): Promise<void> {
  await admin.call('CONFIG', 'SET', 'maxmemory', full ? '1' : '0');
}

test('a strongOrder message without a partition hint keeps no order: its retriable failure fences no stream, and its resend is never refused', async (t) => {
  const server = await RedisServer.start(t, ['--maxmemory-policy', 'noeviction']);
  const redis = await storage(t, server.port, { orderedRetryWindowMs: 2000 });
  const admin = reader(t, server);
  await storeFull(admin, true);
  // one partition: the random message and the explicit one share the stream orders:0
  const random = message({ ordered: true, partitionId: -2, body: Buffer.from('random') });
  const full = failure((await redis.send([random]))[0]);
  assert.equal(full.code, 'THROTTLED');
  assert.equal(full.retriable, true);
  await storeFull(admin, false);

  const explicit = await redis.send([message({ ordered: true, partitionId: 0, body: Buffer.from('explicit') })]);
  assert.deepEqual(explicit, [{ ok: true, partition: 0, offset: undefined }], 'not held behind the random message');
  // past the window: a fenced stream would have given the random message up and refused it for good
  await new Promise((r) => setTimeout(r, 2100));
  assert.deepEqual(await redis.send([random]), [{ ok: true, partition: 0, offset: undefined }]);
  const bodies = (await admin.xrangeBuffer('orders:0', '-', '+')).map((e) => fieldsOf(e).get('body')!.toString());
  assert.deepEqual(bodies, ['explicit', 'random']);
});

test('a full store refusing several ordered writes of a stream in flight at once: every refusal stays retriable, and the resends are stored in send order', async (t) => {
  const server = await RedisServer.start(t, ['--maxmemory-policy', 'noeviction']);
  const redis = await storage(t, server.port);
  const admin = reader(t, server);
  await storeFull(admin, true);
  const sent = Array.from({ length: 5 }, (_, i) => message({ ordered: true, partitionId: 0, body: Buffer.from(`m${i}`) }));
  const refused = await Promise.all(sent.map((m) => redis.send([m])));
  for (const [outcome] of refused) {
    const error = failure(outcome);
    assert.equal(error.code, 'THROTTLED');
    assert.equal(error.retriable, true, error.message);
  }
  await storeFull(admin, false);
  const resent = await Promise.all(sent.map((m) => redis.send([m])));
  assert.deepEqual(resent.flat(), sent.map(() => ({ ok: true, partition: 0, offset: undefined })));
  const bodies = (await admin.xrangeBuffer('orders:0', '-', '+')).map((e) => fieldsOf(e).get('body')!.toString());
  assert.deepEqual(bodies, ['m0', 'm1', 'm2', 'm3', 'm4']);
});
