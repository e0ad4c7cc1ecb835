import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tickClock } from '../../src/metrics/tick-clock';

/** A source that counts its readings and answers the count. */
function countingSource(): { read: () => number; readings: () => number } {
  let n = 0;
  return { read: () => ++n, readings: () => n };
}

test('one reading serves every call of a synchronous run', () => {
  const source = countingSource();
  const now = tickClock(source.read);
  assert.deepEqual([now(), now(), now()], [1, 1, 1]);
  assert.equal(source.readings(), 1);
});

test('one reading serves every promise settled in one microtask drain, and the next run reads again', async () => {
  const source = countingSource();
  const now = tickClock(source.read);
  const seen: number[] = [];
  // three answers settling in one drain, as an auto-batch's members do
  await new Promise<void>((resolve) => {
    setImmediate(() => {
      void Promise.resolve()
        .then(() => Promise.all([1, 2, 3].map(async () => seen.push(now()))))
        .then(() => resolve());
    });
  });
  assert.equal(new Set(seen).size, 1, `one reading in the drain: ${seen.join(',')}`);
  const inDrain = seen[0]!;
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(now(), inDrain + 1, 'a later run reads the source again');
});

test('a reading taken in a callback is not reused by the next callback', async () => {
  const source = countingSource();
  const now = tickClock(source.read);
  const first = await new Promise<number>((resolve) => setTimeout(() => resolve(now()), 1));
  const second = await new Promise<number>((resolve) => setTimeout(() => resolve(now()), 1));
  assert.equal(second, first + 1);
});
