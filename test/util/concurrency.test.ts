import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachInChunks, mapConcurrently } from '../../src/util/concurrency';

/** A task per item that stays pending until released, counting how many run at once. */
function gatedTasks() {
  const gates: (() => void)[] = [];
  let running = 0;
  let most = 0;
  const task = async (n: number) => {
    running++;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
    return n * 2;
  };
  const releaseAll = async () => {
    while (gates.length > 0 || running > 0) {
      gates.splice(0).forEach((open) => open());
      await new Promise((r) => setImmediate(r));
    }
  };
  return { task, releaseAll, most: () => most, started: () => gates.length };
}

test('mapConcurrently runs at most `limit` tasks at once and returns the results in item order', async () => {
  const gated = gatedTasks();
  const items = Array.from({ length: 100 }, (_, i) => i);
  const results = mapConcurrently(items, 8, gated.task);
  await new Promise((r) => setImmediate(r));
  assert.equal(gated.started(), 8, 'eight started, the rest wait');
  await gated.releaseAll();
  assert.deepEqual(await results, items.map((n) => n * 2));
  assert.equal(gated.most(), 8);
  assert.deepEqual(await mapConcurrently([], 8, gated.task), []);
});

test('mapConcurrently starts no task after a failure, and rejects with it', async () => {
  const started: number[] = [];
  const outcome = mapConcurrently([1, 2, 3, 4, 5, 6], 2, async (n) => {
    started.push(n);
    await new Promise((r) => setImmediate(r));
    if (n === 2) throw new Error('node 2 unreadable');
    return n;
  });
  await assert.rejects(outcome, /node 2 unreadable/);
  assert.deepEqual(started, [1, 2, 3], 'the task running beside the failed one finished; no other started');
});

test('forEachInChunks lets the event loop run between chunks, and visits every item in order', async () => {
  const visited: number[] = [];
  const seenByOthers: number[] = [];
  const other = () => {
    seenByOthers.push(visited.length);
    if (visited.length < 10) setImmediate(other);
  };
  setImmediate(other);
  await forEachInChunks(Array.from({ length: 10 }, (_, i) => i), 3, (n) => visited.push(n));
  assert.deepEqual(visited, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(seenByOthers.slice(0, 3), [3, 6, 9], 'other callbacks ran after each chunk of 3');
});
