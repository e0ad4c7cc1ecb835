import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { guardStorage, type GuardOptions } from '../../src/storage/guarded-storage';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../../src/storage/storage';
import type { Timers } from '../../src/time/timers';
import { FakeTimers, settle } from '../helpers/fake-timers';
import { StorageDouble, storageSending } from '../helpers/storage-double';

const PLUGIN = 'jetstream 1.0.0 (/opt/plugins/jetstream)';

const message = (body = 'x'): OutgoingMessage => ({
  topic: 't', key: undefined, tags: undefined, body: Buffer.from(body), properties: undefined, partitionId: -2, hashId: 0n, ordered: false, timestamp: 0,
});
const messages = (n: number) => Array.from({ length: n }, (_, i) => message(`m${i}`));

const stored = (partition = 0): SendOutcome => ({ ok: true, partition, offset: 7n });

/** The log lines written, and the guard's options around fake timers that count the timers set. */
function setup(overrides: Partial<GuardOptions> = {}) {
  const timers = new FakeTimers();
  let timersSet = 0;
  const counting: Timers = {
    now: timers.now,
    set: (callback, ms) => {
      timersSet++;
      return timers.set(callback, ms);
    },
    clear: timers.clear,
  };
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const options: GuardOptions = { plugin: PLUGIN, logger, timers: counting, sendTimeoutMs: 1000, startTimeoutMs: 2000, closeTimeoutMs: 3000, ...overrides };
  /** The lines of a kind of violation, once every summary is written; each names the plugin and the cluster. */
  const linesOf = async (violation: string) => {
    await timers.advance(1000);
    const of = lines.filter((l) => l['violation'] === violation);
    for (const l of of) assert.deepEqual([l['plugin'], l['cluster'], l['level']], [PLUGIN, 'C', 40], JSON.stringify(l));
    return of;
  };
  /** The occurrences the lines of a kind count, all lines together. */
  const counted = async (violation: string) => (await linesOf(violation)).reduce((sum, l) => sum + (l['count'] as number), 0);
  return { timers, options, lines, linesOf, counted, timersSet: () => timersSet };
}

/** Codes and retriable flags of outcomes, to compare at a glance. */
const codes = (outcomes: SendOutcome[]) => outcomes.map((o) => (o.ok ? `ok@${o.partition}` : `${o.error.code}${o.error.retriable ? ' retriable' : ''}`));

test('a send that throws or rejects has every message answered UNKNOWN, not retriable; each kind logged once a second, with its count', async () => {
  const { options, counted, linesOf } = setup();
  const threw = guardStorage(storageSending(() => { throw new Error('boom'); }), options);
  for (let i = 0; i < 5; i++) assert.deepEqual(codes(await threw.send(messages(2))), ['UNKNOWN', 'UNKNOWN']);
  const lines = await linesOf('send threw');
  assert.deepEqual(lines.map((l) => l['count']), [1, 4], 'the first at once, the rest in the summary a second later');
  assert.equal(lines[0]!['err'], 'boom');

  const rejected = guardStorage(storageSending(() => Promise.reject(new Error('nope'))), options);
  const outcomes = await rejected.send(messages(3));
  assert.deepEqual(codes(outcomes), ['UNKNOWN', 'UNKNOWN', 'UNKNOWN']);
  assert.match(outcomes[0]!.ok ? '' : outcomes[0]!.error.message, /jetstream 1\.0\.0.*send rejected: nope/);
  // String() of this value throws
  const unprintable = guardStorage(storageSending(() => Promise.reject(Object.create(null))), options);
  assert.deepEqual(codes(await unprintable.send(messages(1))), ['UNKNOWN']);
  assert.equal(await counted('send rejected'), 2);
});

test('a send that returns its outcomes instead of a promise of them has them checked, and is logged', async () => {
  const { options, counted } = setup();
  const guarded = guardStorage(storageSending(() => [stored(4), null]), options);
  assert.deepEqual(codes(await guarded.send(messages(2))), ['ok@4', 'UNKNOWN']);
  assert.deepEqual([await counted('send returned no promise'), await counted('malformed outcome')], [1, 1]);
});

test('a send that resolves with no array has every message answered UNKNOWN', async () => {
  const { options, counted } = setup();
  let answer: unknown;
  const guarded = guardStorage(storageSending(async () => answer), options);
  for (answer of [undefined, null, 'ok', { 0: stored() }]) assert.deepEqual(codes(await guarded.send(messages(2))), ['UNKNOWN', 'UNKNOWN'], String(answer));
  assert.equal(await counted('outcomes not an array'), 4);
});

test('too few outcomes: the missing ones are UNKNOWN, those given are kept; too many: the extras are dropped', async () => {
  const { options, counted } = setup();
  let answer: SendOutcome[] = [];
  const guarded = guardStorage(storageSending(async () => answer), options);
  answer = [stored(3)];
  assert.deepEqual(codes(await guarded.send(messages(3))), ['ok@3', 'UNKNOWN', 'UNKNOWN']);
  answer = [stored(1), stored(2), stored(3)];
  assert.deepEqual(codes(await guarded.send(messages(2))), ['ok@1', 'ok@2']);
  assert.deepEqual([await counted('too few outcomes'), await counted('too many outcomes')], [1, 1]);
});

test('each malformed outcome is answered UNKNOWN, not retriable, a success with a malformed partition or offset stays a success, and the well-formed ones beside it are kept', async () => {
  const { options, counted } = setup();
  const malformed: unknown[] = [
    null,
    undefined,
    'ok',
    {},
    { ok: 'yes', partition: 0, offset: 0n },
    { ok: false },
    { ok: false, error: 'TIMEOUT' },
    { ok: false, error: { code: 'TIMEOUT', retriable: true } },
  ];
  const answer = [stored(0), ...malformed, { ok: true, partition: 2, offset: undefined }];
  const guarded = guardStorage(storageSending(async () => answer), options);
  const outcomes = await guarded.send(messages(answer.length));
  assert.deepEqual(codes(outcomes), ['ok@0', ...malformed.map(() => 'UNKNOWN'), 'ok@2']);
  assert.equal(outcomes[0], answer[0], 'a well-formed outcome is passed on as it is');
  assert.equal(await counted('malformed outcome'), 1, 'one send that broke the rule, one occurrence');

  // a success whose partition or offset is off is still a success: the message is stored
  const misplaced = [
    { ok: true, partition: -2, offset: 0n },
    { ok: true, partition: 1.5, offset: 0n },
    { ok: true, partition: '0', offset: 0n },
    { ok: true, partition: 0, offset: 5 },
    { ok: true, partition: 0, offset: '1-0' },
  ];
  const placed = await guardStorage(storageSending(async () => misplaced), options).send(messages(misplaced.length));
  assert.deepEqual(codes(placed), misplaced.map(() => 'ok@-1'));
  assert.deepEqual(placed.map((o) => o.ok && o.offset), misplaced.map(() => undefined));
  assert.equal(await counted('success with a malformed partition or offset'), 1);

  const unreadable = guardStorage(storageSending(async () => [Object.defineProperty({}, 'ok', { get: () => { throw new Error('getter'); } })]), options);
  assert.deepEqual(codes(await unreadable.send(messages(1))), ['UNKNOWN']);
});

test('a failure of an unknown code becomes UNKNOWN and keeps its message; a retriable that is no boolean becomes false', async () => {
  const { options, counted } = setup();
  const answer = [
    { ok: false, error: { code: 'NATS_DOWN', message: 'no servers', retriable: true } },
    { ok: false, error: { code: 'UNAVAILABLE', message: 'later', retriable: 'yes' } },
    { ok: false, error: { code: 'UNAVAILABLE', message: 'later', retriable: true } },
  ];
  const guarded = guardStorage(storageSending(async () => answer), options);
  const outcomes = await guarded.send(messages(3));
  assert.deepEqual(codes(outcomes), ['UNKNOWN retriable', 'UNAVAILABLE', 'UNAVAILABLE retriable']);
  assert.match(outcomes[0]!.ok ? '' : outcomes[0]!.error.message, /no servers.*NATS_DOWN/);
  assert.deepEqual([await counted('unknown error code'), await counted('retriable not a boolean')], [1, 1]);
});

test('a send that never resolves is answered TIMEOUT, not retriable, after the bound and within a tenth more; its late answer is ignored', async () => {
  const { timers, options, counted } = setup({ sendTimeoutMs: 1000 });
  const double = new StorageDouble();
  const guarded = guardStorage(double.storage, options);
  const answered: { codes: string[]; after: number }[] = [];
  const start = timers.now();
  const track = (i: number) => {
    const sentAt = timers.now();
    void guarded.send(messages(2)).then((o) => (answered[i] = { codes: codes(o), after: timers.now() - sentAt }));
  };
  track(0);
  await timers.advance(450);
  track(1);
  await timers.advance(550);
  assert.equal(answered.length, 0, 'nothing at the bound itself');
  await timers.advance(100);
  assert.deepEqual(answered[0]?.codes, ['TIMEOUT', 'TIMEOUT']);
  assert.ok(answered[0]!.after > 1000 && answered[0]!.after <= 1100, `the first after ${answered[0]!.after} ms`);
  double.answer('ok', 0);
  await timers.advance(350);
  assert.equal(answered.length, 1, 'the second, out for 1000 ms, waits');
  await timers.advance(100);
  assert.deepEqual(answered[1]?.codes, ['TIMEOUT', 'TIMEOUT']);
  assert.ok(answered[1]!.after > 1000 && answered[1]!.after <= 1100, `the second after ${answered[1]!.after} ms`);
  assert.deepEqual(answered[0]?.codes, ['TIMEOUT', 'TIMEOUT'], 'the late answer changed nothing');
  assert.equal(timers.now() - start, 1550);
  double.answer('ok', 1);
  assert.equal(await counted('send timed out'), 2);
});

test('sends that are answered set no timer of their own, and a storage left idle sets none', async () => {
  const { timers, options, timersSet } = setup({ sendTimeoutMs: 1000 });
  const double = new StorageDouble();
  const guarded = guardStorage(double.storage, options);
  double.script.push(...Array.from({ length: 500 }, () => 'ok' as const));
  for (let i = 0; i < 500; i++) assert.deepEqual(codes(await guarded.send(messages(1))), ['ok@0']);
  assert.equal(timersSet(), 1, 'one tick for 500 sends');
  await timers.advance(10_000);
  assert.equal(timersSet(), 1, 'with nothing out, nothing ticks');
  void guarded.send(messages(1));
  await timers.advance(10_000);
  assert.equal(timersSet(), 1 + 11, 'a send out ticks the timer until it is answered');
});

test('start is bounded, and names the plugin and the bound; one that throws or rejects rejects, naming the plugin', async () => {
  const { timers, options, counted } = setup({ startTimeoutMs: 2000 });
  const hung = guardStorage({ ...new StorageDouble().storage, start: () => new Promise<void>(() => undefined) }, options);
  const started: { error?: Error } = {};
  hung.start().catch((err: Error) => (started.error = err));
  await timers.advance(1999);
  assert.equal('error' in started, false);
  await timers.advance(1);
  assert.equal(started.error?.message, `${PLUGIN}: start did not finish within 2000 ms`);
  assert.equal(await counted('start timed out'), 1);

  const throws = guardStorage({ ...new StorageDouble().storage, start: () => { throw new Error('bad config'); } }, options);
  await assert.rejects(throws.start(), { message: `${PLUGIN}: start threw: bad config` });
  assert.equal(await counted('start threw'), 1);
  const refuses = guardStorage({ ...new StorageDouble().storage, start: () => Promise.reject(new Error('no broker')) }, options);
  await assert.rejects(refuses.start(), { message: `${PLUGIN}: start failed: no broker` });
  await assert.doesNotReject(guardStorage(new StorageDouble().storage, options).start());
});

test('close never rejects: one that throws, rejects or hangs past its bound resolves, and is logged', async () => {
  const { timers, options, counted } = setup({ closeTimeoutMs: 3000 });
  await guardStorage({ ...new StorageDouble().storage, close: () => { throw new Error('x'); } }, options).close();
  await guardStorage({ ...new StorageDouble().storage, close: () => Promise.reject(new Error('y')) }, options).close();
  let closed = false;
  void guardStorage({ ...new StorageDouble().storage, close: () => new Promise<void>(() => undefined) }, options)
    .close()
    .then(() => (closed = true));
  await timers.advance(2999);
  assert.equal(closed, false);
  await timers.advance(1);
  assert.equal(closed, true, 'at the bound');
  assert.deepEqual([await counted('close threw'), await counted('close rejected'), await counted('close timed out')], [1, 1, 1]);
});

test('warmUp never rejects and is bounded like a send; a storage without it gets none', async () => {
  const { timers, options, counted } = setup({ sendTimeoutMs: 1000 });
  const withWarmUp = (warmUp: () => Promise<void>) => guardStorage({ ...new StorageDouble().storage, warmUp }, options);
  await withWarmUp(() => { throw new Error('x'); }).warmUp!(['t']);
  await withWarmUp(() => Promise.reject(new Error('y'))).warmUp!(['t']);
  let ready = false;
  void withWarmUp(() => new Promise<void>(() => undefined)).warmUp!(['t']).then(() => (ready = true));
  await timers.advance(999);
  assert.equal(ready, false);
  await timers.advance(1);
  assert.equal(ready, true);
  assert.deepEqual([await counted('warmUp threw'), await counted('warmUp rejected'), await counted('warmUp timed out')], [1, 1, 1]);
  assert.equal('warmUp' in guardStorage(new StorageDouble().storage, options), false);
});

test('illegalMessageReason: a reason is passed on; a throw or a value that is no string takes the message as legal, and is logged; absent stays absent', async () => {
  const { options, counted } = setup();
  const withRule = (rule: (m: OutgoingMessage) => unknown) => guardStorage({ ...new StorageDouble().storage, illegalMessageReason: rule as ClusterStorage['illegalMessageReason'] }, options);
  assert.equal(withRule((m) => (m.topic === 't' ? 'header nats-reserved' : undefined)).illegalMessageReason!(message()), 'header nats-reserved');
  assert.equal(withRule(() => undefined).illegalMessageReason!(message()), undefined);
  assert.equal(withRule(() => { throw new Error('bug'); }).illegalMessageReason!(message()), undefined);
  assert.equal(withRule(() => 42).illegalMessageReason!(message()), undefined);
  assert.deepEqual([await counted('illegalMessageReason threw'), await counted('illegalMessageReason returned no string')], [1, 1]);
  assert.equal('illegalMessageReason' in guardStorage(new StorageDouble().storage, options), false);
});

test('cluster and kind are read once, when wrapped; maxMessageSize whenever read (a storage may learn it at start), one that is no positive integer reading as none, logged', async () => {
  const { options, counted } = setup();
  let limit: unknown;
  const storage = {
    ...new StorageDouble().storage,
    cluster: 'C',
    kind: 'natsJetstream',
    get maxMessageSize() {
      return limit as number;
    },
  };
  const guarded = guardStorage(storage, options);
  assert.deepEqual([guarded.cluster, guarded.kind, guarded.maxMessageSize], ['C', 'natsJetstream', undefined]);
  limit = 4096;
  assert.equal(guarded.maxMessageSize, 4096);
  for (const bad of [0, -1, 1.5, Number.NaN, '4096']) {
    limit = bad;
    assert.equal(guarded.maxMessageSize, undefined, String(bad));
  }
  assert.equal(await counted('maxMessageSize not a positive integer'), 5);
  assert.throws(() => guardStorage(storage, { ...options, sendTimeoutMs: 0 }), /sendTimeoutMs/);
});

test('a well-behaved storage is passed through: outcomes, start and close', async () => {
  const { options, lines } = setup();
  const double = new StorageDouble();
  double.script.push('ok', { code: 'THROTTLED', retriable: true });
  const guarded = guardStorage(double.storage, options);
  await guarded.start();
  assert.deepEqual(codes(await guarded.send(messages(2))), ['ok@0', 'ok@0']);
  assert.deepEqual(codes(await guarded.send(messages(1))), ['THROTTLED retriable']);
  await guarded.close();
  await settle();
  assert.deepEqual(lines, []);
});
