import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AutoBatcher } from '../../src/batch/auto-batcher';
import type { BatchSettings } from '../../src/batch/batch-queue';
import { StorageBudgets } from '../../src/core/storage-budget';
import type { OutgoingMessage, SendOutcome } from '../../src/storage/storage';
import { FakeTimers, settle } from '../helpers/fake-timers';
import { StorageDouble } from '../helpers/storage-double';

const settings = (s: Partial<BatchSettings> = {}): BatchSettings => ({ maxMessages: 4, maxBytes: 1000, lingerMs: 0, maxInFlight: 1, urgencyMarginMs: 2, ...s });

function setup(initial: Partial<BatchSettings>) {
  const timers = new FakeTimers();
  const double = new StorageDouble();
  const batcher = new AutoBatcher(settings(initial), new StorageBudgets(Number.MAX_SAFE_INTEGER), timers);
  const submit = (topic = 't', body = 'x') => {
    const message: OutgoingMessage = {
      topic, key: undefined, tags: undefined, body: Buffer.from(body), properties: undefined, partitionId: -2, hashId: 0n, ordered: false, timestamp: 0,
    };
    return new Promise<SendOutcome>((resolve) => batcher.enqueue(double.storage, { message, deadline: timers.now() + 10_000, resolve }));
  };
  /** Answers the oldest send waiting and lets the queue go on. */
  const answerOldest = async () => {
    double.answer();
    await settle();
  };
  return { timers, double, batcher, submit, answerOldest };
}

test('queues kept busy across configure() form their next batches by the new maxMessages and maxBytes', async () => {
  const { double, batcher, submit, answerOldest } = setup({ maxMessages: 4 });
  for (const topic of ['t', 'u']) {
    void submit(topic); // goes alone and holds the queue's one slot
    for (let i = 0; i < 6; i++) void submit(topic);
  }
  assert.deepEqual(double.sizes, [1, 1]);
  batcher.configure(settings({ maxMessages: 2 }));
  await answerOldest();
  await answerOldest();
  assert.deepEqual(double.sizes, [1, 1, 2, 2], 'both queues cut their next batch at the new maxMessages');
  for (let i = 0; i < 6; i++) void submit('t'); // 't' stays busy
  batcher.configure(settings({ maxMessages: 100, maxBytes: 3 }));
  await answerOldest();
  assert.deepEqual(double.sizes.slice(4), [3], "'t' cuts its next batch at the new maxBytes");
  await answerOldest();
  assert.deepEqual(double.sizes.slice(4), [3, 3], "so does 'u'");
});

test('a changed lingerMs re-arms the waiting batch: sooner, later, or at once when it has waited long enough', async () => {
  const sooner = setup({ lingerMs: 50 });
  void sooner.submit();
  await sooner.timers.advance(3);
  sooner.batcher.configure(settings({ lingerMs: 5 }));
  await sooner.timers.advance(1);
  assert.deepEqual(sooner.double.sizes, []);
  await sooner.timers.advance(1);
  assert.deepEqual(sooner.double.sizes, [1], '5 ms after the message arrived, not 50');

  const later = setup({ lingerMs: 5 });
  void later.submit();
  await later.timers.advance(1);
  later.batcher.configure(settings({ lingerMs: 20 }));
  await later.timers.advance(18);
  assert.deepEqual(later.double.sizes, [], 'not at the old 5 ms');
  await later.timers.advance(1);
  assert.deepEqual(later.double.sizes, [1]);

  const due = setup({ lingerMs: 50 });
  void due.submit();
  await due.timers.advance(10);
  due.batcher.configure(settings({ lingerMs: 5 }));
  assert.deepEqual(due.double.sizes, [1], 'it has waited 10 ms already');
});

test('a smaller maxInFlight lets the batches out finish before the next goes; a larger one sends at once', async () => {
  const smaller = setup({ maxInFlight: 2 });
  for (let i = 0; i < 4; i++) void smaller.submit();
  assert.deepEqual(smaller.double.sizes, [1, 1]);
  smaller.batcher.configure(settings({ maxInFlight: 1 }));
  await smaller.answerOldest();
  assert.deepEqual(smaller.double.sizes, [1, 1], 'one batch is still out');
  await smaller.answerOldest();
  assert.deepEqual(smaller.double.sizes, [1, 1, 2]);

  const larger = setup({ maxInFlight: 1 });
  for (let i = 0; i < 3; i++) void larger.submit();
  assert.deepEqual(larger.double.sizes, [1]);
  larger.batcher.configure(settings({ maxInFlight: 2 }));
  assert.deepEqual(larger.double.sizes, [1, 2]);
});
