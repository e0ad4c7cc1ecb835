import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PartitionCounts } from '../../../src/storage/kafka/partition-counts';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('concurrent first requests for a topic share one fetch; other topics do not wait for it', async () => {
  const pending = new Map<string, ReturnType<typeof deferred<number>>>();
  const fetched: string[] = [];
  const counts = new PartitionCounts((topic) => {
    fetched.push(topic);
    const d = deferred<number>();
    pending.set(topic, d);
    return d.promise;
  }, 1000, () => 0);
  const a1 = counts.get('a');
  const a2 = counts.get('a');
  const b = counts.get('b');
  assert.deepEqual(fetched, ['a', 'b']);
  pending.get('b')!.resolve(3);
  assert.equal(await b, 3, 'b is answered while a is still loading');
  pending.get('a')!.resolve(8);
  assert.deepEqual(await Promise.all([a1, a2]), [8, 8]);
});

test('a count older than maxAge is served at once and refreshed in the background', async () => {
  let now = 0;
  let next = 4;
  let fetches = 0;
  const counts = new PartitionCounts(async () => {
    fetches++;
    return next;
  }, 1000, () => now);
  assert.equal(await counts.get('t'), 4);
  now = 500;
  assert.equal(await counts.get('t'), 4);
  assert.equal(fetches, 1, 'fresh: no fetch');
  next = 6;
  now = 1501;
  assert.equal(await counts.get('t'), 4, 'stale: the old count answers at once');
  await new Promise((r) => setImmediate(r));
  assert.equal(fetches, 2);
  assert.equal(await counts.get('t'), 6, 'the refreshed count is used afterwards');
});

test('a failed fetch rejects its callers, keeps the previous count, and the next call tries again', async () => {
  let fail = false;
  const counts = new PartitionCounts(async () => {
    if (fail) throw new Error('broker down');
    return 2;
  }, 1000, () => 0);
  await assert.rejects(
    (async () => {
      fail = true;
      return counts.get('new');
    })(),
    /broker down/,
  );
  fail = false;
  assert.equal(await counts.get('new'), 2);
  fail = true;
  await assert.rejects(counts.refresh('new'), /broker down/);
  assert.equal(await counts.get('new'), 2, 'the last good count stays');
});
