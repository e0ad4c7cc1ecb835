import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../../src/log';
import { choosePartition } from '../../../src/routing/partition';
import { LocalStorage, type LocalStorageOptions } from '../../../src/storage/local/local-storage';
import { listPartitions, listTopics, readRecords } from '../../../src/storage/local/log-reader';
import type { SendOutcome, StorageErrorCode } from '../../../src/storage/storage';
import { message, tempDir } from './helpers';

const PARTITIONS = 7;

function storage(
  t: TestContext,
  dataDir: string,
  options: Partial<LocalStorageOptions> = {},
  random?: () => number,
): LocalStorage {
  const local = new LocalStorage(
    'local-test',
    {
      dataDir,
      partitions: PARTITIONS,
      flushPolicy: 'write',
      flushIntervalMs: 1000,
      segmentBytes: 1024 * 1024,
      retentionBytes: 0,
      maxMessageSize: undefined,
      ...options,
    },
    silentLogger(),
    random,
  );
  t.after(() => local.close());
  return local;
}

function placed(outcome: SendOutcome | undefined): { partition: number; offset: bigint | undefined } {
  assert.ok(outcome?.ok, `expected a stored message, got ${outcome?.ok === false ? outcome.error.message : 'nothing'}`);
  return { partition: outcome.partition, offset: outcome.offset };
}

function failedWith(outcome: SendOutcome | undefined, code: StorageErrorCode, retriable: boolean): void {
  assert.ok(outcome !== undefined && !outcome.ok, 'expected a failed outcome');
  assert.equal(outcome.error.code, code);
  assert.equal(outcome.error.retriable, retriable);
}

test('an explicit partition is used as given and the message lands in its directory', async (t) => {
  const dataDir = tempDir(t);
  const local = storage(t, dataDir);
  assert.equal(local.kind, 'local');
  assert.equal(local.partitionCount('orders'), PARTITIONS);
  const outcomes = await local.send([
    message({ partitionId: 3, key: 'a', body: Buffer.from('first') }),
    message({ partitionId: 3, key: 'b', body: Buffer.from('second') }),
    message({ partitionId: 6, body: Buffer.from('third') }),
  ]);
  assert.deepEqual(outcomes.map(placed), [
    { partition: 3, offset: 0n },
    { partition: 3, offset: 1n },
    { partition: 6, offset: 0n },
  ]);
  assert.ok(fs.existsSync(path.join(dataDir, 'orders', '3', '00000000000000000000.log')));
  assert.deepEqual(await listPartitions(dataDir, 'orders'), [3, 6]);
  const stored = await readRecords(dataDir, 'orders', 3);
  assert.deepEqual(
    stored.map((record) => [record.key, record.body.toString(), record.timestamp]),
    [
      ['a', 'first', 1_700_000_000_000],
      ['b', 'second', 1_700_000_000_000],
    ],
  );
});

test('a hashId picks |hashId| mod partitions on the exact 64-bit value, extremes included', async (t) => {
  const local = storage(t, tempDir(t));
  const hashIds = [0n, 5n, -5n, 13n, -(2n ** 63n), 2n ** 63n - 1n, -(2n ** 63n) + 1n];
  const outcomes = await local.send(hashIds.map((hashId) => message({ partitionId: -1, hashId })));
  const partitions = outcomes.map((outcome) => placed(outcome).partition);
  // 2^63 = 8^21 ≡ 1 (mod 7), so 2^63 - 1 ≡ 0.
  assert.deepEqual(partitions, [0, 5, 5, 6, 1, 0, 0]);
  assert.deepEqual(
    partitions,
    hashIds.map((hashId) => choosePartition(-1, hashId, PARTITIONS)),
  );
});

test('a partitionId below -1 picks a partition with the injected random source', async (t) => {
  const local = storage(t, tempDir(t), {}, () => 0.5);
  const [outcome] = await local.send([message({ partitionId: -2 })]);
  assert.equal(placed(outcome).partition, 3);
});

test('an explicit partition out of range is refused and nothing is written for it', async (t) => {
  const dataDir = tempDir(t);
  const local = storage(t, dataDir);
  const outcomes = await local.send([
    message({ topic: 'missing', partitionId: PARTITIONS }),
    message({ topic: 'kept', partitionId: 1 }),
    message({ topic: 'missing', partitionId: 1000 }),
  ]);
  failedWith(outcomes[0], 'PARTITION_OUT_OF_RANGE', false);
  failedWith(outcomes[2], 'PARTITION_OUT_OF_RANGE', false);
  assert.deepEqual(placed(outcomes[1]), { partition: 1, offset: 0n });
  assert.deepEqual(await listTopics(dataDir), ['kept']);
  assert.equal(fs.existsSync(path.join(dataDir, 'missing')), false);
});

test('a topic outside DDMQ topic rule is MESSAGE_ILLEGAL and never becomes a path', async (t) => {
  const dataDir = tempDir(t);
  const local = storage(t, path.join(dataDir, 'data'));
  const illegal = ['', '..', '../escape', 'a/b', 'with space', 'dot.ted', 'x'.repeat(256)];
  const legal = '%RETRY%group|x_y-1';
  const outcomes = await local.send([...illegal.map((topic) => message({ topic })), message({ topic: legal })]);
  illegal.forEach((_, i) => failedWith(outcomes[i], 'MESSAGE_ILLEGAL', false));
  assert.equal(placed(outcomes[illegal.length]).offset, 0n);
  assert.deepEqual(fs.readdirSync(dataDir), ['data']);
  assert.deepEqual(await listTopics(path.join(dataDir, 'data')), [legal]);
});

test('a body over maxMessageSize is MESSAGE_TOO_LARGE; one at the limit is stored', async (t) => {
  const local = storage(t, tempDir(t), { maxMessageSize: 10 });
  assert.equal(local.maxMessageSize, 10);
  const [tooLarge, atLimit] = await local.send([
    message({ body: Buffer.alloc(11) }),
    message({ body: Buffer.alloc(10) }),
  ]);
  failedWith(tooLarge, 'MESSAGE_TOO_LARGE', false);
  assert.equal(placed(atLimit).offset, 0n);
});

test('outcomes come back in input order and each partition keeps input order', async (t) => {
  const dataDir = tempDir(t);
  const local = storage(t, dataDir);
  const plan = [
    { topic: 'a', partitionId: 0 },
    { topic: 'b', partitionId: 1 },
    { topic: 'a', partitionId: 2 },
    { topic: 'a', partitionId: 0 },
    { topic: 'b', partitionId: 1 },
    { topic: 'a', partitionId: 0 },
  ];
  const outcomes = await local.send(plan.map((where, i) => message({ ...where, body: Buffer.from(`m${i}`) })));
  assert.deepEqual(outcomes.map(placed), [
    { partition: 0, offset: 0n },
    { partition: 1, offset: 0n },
    { partition: 2, offset: 0n },
    { partition: 0, offset: 1n },
    { partition: 1, offset: 1n },
    { partition: 0, offset: 2n },
  ]);
  const bodies = async (topic: string, partition: number) =>
    (await readRecords(dataDir, topic, partition)).map((record) => record.body.toString());
  assert.deepEqual(await bodies('a', 0), ['m0', 'm3', 'm5']);
  assert.deepEqual(await bodies('b', 1), ['m1', 'm4']);
  assert.deepEqual(await bodies('a', 2), ['m2']);
});

test('concurrent first sends to a partition share one open and get distinct offsets', async (t) => {
  const local = storage(t, tempDir(t));
  const sends = Array.from({ length: 20 }, (_, i) => local.send([message({ body: Buffer.from(`m${i}`) })]));
  const offsets = (await Promise.all(sends)).map(([outcome]) => placed(outcome).offset);
  assert.deepEqual(offsets, Array.from({ length: 20 }, (_, i) => BigInt(i)));
});

test('a partition that cannot be opened fails as UNAVAILABLE, and is retried on the next send', async (t) => {
  const dataDir = tempDir(t);
  const local = storage(t, dataDir);
  fs.writeFileSync(path.join(dataDir, 'blocked'), 'a file where the topic directory should be');
  const [failed] = await local.send([message({ topic: 'blocked' })]);
  failedWith(failed, 'UNAVAILABLE', true);
  fs.rmSync(path.join(dataDir, 'blocked'));
  const [stored] = await local.send([message({ topic: 'blocked' })]);
  assert.equal(placed(stored).offset, 0n);
});

test('offsets continue across instances; after close every send is CLOSED', async (t) => {
  const dataDir = tempDir(t);
  const first = storage(t, dataDir);
  await first.send([message(), message()]);
  const pending = first.send([message()]);
  await first.close();
  assert.equal(placed((await pending)[0]).offset, 2n, 'a send made before close completes');
  const [refused] = await first.send([message()]);
  failedWith(refused, 'CLOSED', true); // retriable: the pipeline retries on the cluster's current storage
  await first.close();

  const second = storage(t, dataDir);
  const [next] = await second.send([message()]);
  assert.equal(placed(next).offset, 3n);
});

test("every flush policy stores and flushes: 'fsync' and 'interval' too", async (t) => {
  for (const flushPolicy of ['fsync', 'interval'] as const) {
    const dataDir = tempDir(t);
    const local = storage(t, dataDir, { flushPolicy, flushIntervalMs: 10 });
    const outcomes = await local.send([message(), message({ partitionId: 1 }), message()]);
    assert.deepEqual(outcomes.map(placed), [
      { partition: 0, offset: 0n },
      { partition: 1, offset: 0n },
      { partition: 0, offset: 1n },
    ]);
    await local.close(); // syncs what the policy has not synced yet
    assert.equal((await readRecords(dataDir, 'orders', 0)).length, 2, flushPolicy);
  }
});
