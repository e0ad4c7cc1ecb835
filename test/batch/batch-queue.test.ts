import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchQueue, type BatchSettings } from '../../src/batch/batch-queue';
import { StorageBudgets, sendWithinBudget } from '../../src/core/storage-budget';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../../src/storage/storage';
import { FakeTimers, settle } from '../helpers/fake-timers';
import { sample } from '../helpers/metrics-exposition';
import { StorageDouble, storageSending } from '../helpers/storage-double';

const message = (body: string): OutgoingMessage => ({
  topic: 't', key: undefined, tags: undefined, body: Buffer.from(body), properties: undefined, partitionId: -2, hashId: 0n, ordered: false, timestamp: 0,
});

/** A member whose outcome is a promise. */
const submit = (q: BatchQueue, m: OutgoingMessage, deadline: number) =>
  new Promise<SendOutcome>((resolve) => q.enqueue({ message: m, deadline, resolve }));

/** A budget no test here reaches. */
const ample = (storage: ClusterStorage) => new StorageBudgets(Number.MAX_SAFE_INTEGER).of(storage);

const settings = (s: Partial<BatchSettings> = {}): BatchSettings => ({ maxMessages: 4, maxBytes: 1000, lingerMs: 0, maxInFlight: 1, urgencyMarginMs: 2, ...s });

test('without linger a lone message goes at once; arrivals during a send form the next batch', async () => {
  const timers = new FakeTimers();
  const rec = new StorageDouble();
  const q = new BatchQueue(rec.storage, ample(rec.storage), settings(), timers);
  const results = [submit(q, message('a'), timers.now() + 1000)];
  assert.deepEqual(rec.sizes, [1]);
  for (const b of ['b', 'c', 'd']) results.push(submit(q, message(b), timers.now() + 1000));
  assert.deepEqual(rec.sizes, [1], 'waiting while one batch is in flight');
  rec.answer();
  await settle();
  assert.deepEqual(rec.sizes, [1, 3]);
  rec.answer();
  const outcomes = await Promise.all(results);
  assert.equal(outcomes.every((o) => o.ok), true);
});

test('a batch is cut at maxMessages and at maxBytes; an oversized message goes alone', async () => {
  const timers = new FakeTimers();
  const rec = new StorageDouble();
  const q = new BatchQueue(rec.storage, ample(rec.storage), settings({ maxInFlight: 1, maxBytes: 10 }), timers);
  const all: Promise<SendOutcome>[] = [];
  all.push(submit(q, message('first'), timers.now() + 1000)); // goes alone, holds the slot
  for (let i = 0; i < 6; i++) all.push(submit(q, message('x'), timers.now() + 1000)); // 6 x 1 byte
  all.push(submit(q, message('0123456789AB'), timers.now() + 1000)); // 12 bytes: alone
  for (let i = 0; i < 4; i++) {
    rec.answer();
    await settle();
  }
  assert.deepEqual(rec.sizes, [1, 4, 2, 1]);
  assert.equal(rec.sends[3]![0]!.body.toString(), '0123456789AB');
  assert.equal((await Promise.all(all)).length, 8);
});

test('linger: the first message waits lingerMs for others, unless the batch fills first', async () => {
  const timers = new FakeTimers();
  const rec = new StorageDouble();
  const q = new BatchQueue(rec.storage, ample(rec.storage), settings({ lingerMs: 5, maxInFlight: 2 }), timers);
  void submit(q, message('a'), timers.now() + 1000);
  await timers.advance(3);
  void submit(q, message('b'), timers.now() + 1000);
  assert.deepEqual(rec.sizes, []);
  await timers.advance(2);
  assert.deepEqual(rec.sizes, [2], 'sent 5 ms after the first message');
  for (const b of ['c', 'd', 'e', 'f']) void submit(q, message(b), timers.now() + 1000);
  assert.deepEqual(rec.sizes, [2, 4], 'a full batch does not linger');
});

test('a batch goes early when its most urgent member needs it', async () => {
  const timers = new FakeTimers();
  const rec = new StorageDouble();
  const q = new BatchQueue(rec.storage, ample(rec.storage), settings({ lingerMs: 50 }), timers);
  void submit(q, message('relaxed'), timers.now() + 10_000);
  void submit(q, message('urgent'), timers.now() + 10); // due at +8 (2 ms margin)
  await timers.advance(7);
  assert.deepEqual(rec.sizes, []);
  await timers.advance(1);
  assert.deepEqual(rec.sizes, [2], 'flushed at deadline - margin, not at the 50 ms linger');
});

test('each caller gets the outcome of its own message', async () => {
  const timers = new FakeTimers();
  const rec = new StorageDouble();
  const q = new BatchQueue(rec.storage, ample(rec.storage), settings({ lingerMs: 5, maxInFlight: 1 }), timers);
  const bodies = ['ok-1', 'bad', 'ok-2'];
  const results = bodies.map((b) => submit(q, message(b), timers.now() + 1000));
  await timers.advance(5);
  rec.answer((m) => (m.body.toString() === 'bad' ? { code: 'MESSAGE_TOO_LARGE', retriable: false } : 'ok'));
  const outcomes = await Promise.all(results);
  assert.deepEqual(outcomes.map((o) => (o.ok ? 'ok' : o.error.code)), ['ok', 'MESSAGE_TOO_LARGE', 'ok']);
});

test('a member whose deadline passed while it waited is answered, not sent', async () => {
  const timers = new FakeTimers();
  const rec = new StorageDouble();
  const q = new BatchQueue(rec.storage, ample(rec.storage), settings({ maxInFlight: 1, urgencyMarginMs: 0 }), timers);
  const first = submit(q, message('in-flight'), timers.now() + 1000);
  const late = submit(q, message('expires'), timers.now() + 5);
  await timers.advance(10);
  rec.answer();
  const outcome = await late;
  assert.deepEqual(outcome.ok ? 'ok' : outcome.error.code, 'TIMEOUT');
  assert.deepEqual(rec.sizes, [1], 'the expired message never reached the storage');
  assert.equal((await first).ok, true);
});

test('a storage that returns fewer outcomes than messages gets the rest answered UNKNOWN, and the queue goes on', async () => {
  const timers = new FakeTimers();
  const sent: number[] = [];
  const short: ClusterStorage = {
    cluster: 'C',
    kind: 'local',
    maxMessageSize: undefined,
    start: async () => undefined,
    close: async () => undefined,
    // breaks the contract: one outcome, whatever the batch
    send: async (messages) => {
      sent.push(messages.length);
      return [{ ok: true, partition: 0, offset: 0n }];
    },
  };
  const q = new BatchQueue(short, ample(short), settings(), timers);
  const first = submit(q, message('alone'), timers.now() + 1000);
  const batch = ['a', 'b', 'c'].map((b) => submit(q, message(b), timers.now() + 1000));
  const outcomes = await Promise.all([first, ...batch]);
  assert.deepEqual(outcomes.map((o) => (o.ok ? 'ok' : o.error.code)), ['ok', 'ok', 'UNKNOWN', 'UNKNOWN']);
  assert.equal((await submit(q, message('after'), timers.now() + 1000)).ok, true, 'the queue still sends');
  assert.deepEqual(sent, [1, 3, 1]);
});

test("a batch waits in its queue for the storage's budget; a member withdrawn meanwhile is never sent, and an emptied queue leaves the line", async () => {
  const timers = new FakeTimers();
  const rec = new StorageDouble();
  const budget = new StorageBudgets(10).of(rec.storage);
  let idle = 0;
  const q = new BatchQueue(rec.storage, budget, settings({ maxInFlight: 2 }), timers, () => idle++);
  void submit(q, message('0123456789'), timers.now() + 1000);
  const withdrawn = { message: message('w'), deadline: timers.now() + 1000, resolve: () => assert.fail('a withdrawn member gets no outcome') };
  q.enqueue(withdrawn);
  assert.deepEqual(rec.sizes, [1], 'a batch slot is free, the budget is not');
  const other: SendOutcome[][] = [];
  sendWithinBudget(budget, rec.storage, [message('elsewhere!')], (o) => other.push(o));
  q.withdraw(withdrawn);
  rec.answer();
  await settle();
  assert.deepEqual(rec.sends.map((s) => s.map((m) => m.body.toString())), [['0123456789'], ['elsewhere!']], 'the send behind the queue went in its place');
  assert.equal(idle, 1, 'the queue, empty with nothing out, is dropped');
  rec.answer();
  await settle();
  assert.equal(other.length, 1);
});

test('a storage whose send throws gets the batch answered UNKNOWN, and its in-flight slot back', async () => {
  const timers = new FakeTimers();
  const sent: number[] = [];
  const throwsOnce = storageSending((messages) => {
    sent.push(messages.length);
    if (sent.length === 1) throw new Error('send threw');
    return Promise.resolve(messages.map(() => ({ ok: true, partition: 0, offset: 0n })));
  });
  const q = new BatchQueue(throwsOnce, ample(throwsOnce), settings({ maxInFlight: 1 }), timers);
  let failed: SendOutcome | undefined;
  assert.doesNotThrow(() => q.enqueue({ message: message('a'), deadline: timers.now() + 1000, resolve: (o) => (failed = o) }));
  const next = submit(q, message('b'), timers.now() + 1000);
  await settle();
  assert.deepEqual(failed && (failed.ok ? 'ok' : [failed.error.code, failed.error.retriable]), ['UNKNOWN', false]);
  assert.equal((await next).ok, true, 'the next batch went');
  assert.deepEqual(sent, [1, 1]);
});

test("a batch's linger is how long its first member waited to go: behind the batch in flight, and for the budget", async () => {
  const timers = new FakeTimers();
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['C']);
  const rec = new StorageDouble();
  const budgets = new StorageBudgets(2, { metrics });
  const q = new BatchQueue(rec.storage, budgets.of(rec.storage), settings({ maxMessages: 2 }), timers);
  const linger = async () => {
    const text = await metrics.render();
    return [sample(text, 'pproxy_batch_linger_seconds_count', { cluster: 'C' }), sample(text, 'pproxy_batch_linger_seconds_sum', { cluster: 'C' })];
  };
  void submit(q, message('a'), timers.now() + 1000);
  assert.deepEqual(await linger(), [1, 0], 'an idle queue sends at once');
  await timers.advance(3);
  void submit(q, message('b'), timers.now() + 1000);
  void submit(q, message('c'), timers.now() + 1000);
  // another send holds the storage's whole budget
  sendWithinBudget(budgets.of(rec.storage), rec.storage, [message('zz')], () => undefined);
  await timers.advance(7);
  rec.answer();
  await settle();
  assert.deepEqual(rec.sizes, [1, 1], 'b and c wait for the budget the other send holds');
  await timers.advance(5);
  rec.answer();
  await settle();
  assert.deepEqual(rec.sizes, [1, 1, 2]);
  assert.deepEqual(await linger(), [2, 0.012], 'b arrived 12 ms before its batch went');
});
