import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../../src/log';
import { listPartitions, listTopics, readLastRecords, readRecords } from '../../../src/storage/local/log-reader';
import { PartitionLog } from '../../../src/storage/local/partition-log';
import { encodedRecordLength, encodeRecord } from '../../../src/storage/local/record';
import { logOptions, records, segmentNames, tempDir } from './helpers';

/** A partition of `count` records, three to a segment. */
async function writePartition(dataDir: string, topic: string, partition: number, count: number): Promise<string> {
  const directory = path.join(dataDir, topic, String(partition));
  const segmentBytes = 3 * encodedRecordLength(records(1)[0]);
  const log = await PartitionLog.open(logOptions(directory, { segmentBytes }), silentLogger());
  await log.append(records(count));
  await log.close();
  return directory;
}

function offsets(found: { offset: bigint }[]): number[] {
  return found.map((record) => Number(record.offset));
}

test('topics and partitions are listed in order, ignoring what the log did not write', async (t) => {
  const dataDir = tempDir(t);
  await writePartition(dataDir, 'zeta', 0, 1);
  await writePartition(dataDir, 'alpha', 10, 1);
  await writePartition(dataDir, 'alpha', 2, 1);
  fs.mkdirSync(path.join(dataDir, 'not.a.topic'));
  fs.writeFileSync(path.join(dataDir, 'stray-file'), '');
  fs.mkdirSync(path.join(dataDir, 'alpha', 'scratch'));
  fs.mkdirSync(path.join(dataDir, 'alpha', '007'));
  assert.deepEqual(await listTopics(dataDir), ['alpha', 'zeta']);
  assert.deepEqual(await listPartitions(dataDir, 'alpha'), [2, 10]);
  assert.deepEqual(await listTopics(path.join(dataDir, 'absent')), []);
  assert.deepEqual(await listPartitions(dataDir, 'absent'), []);
  await assert.rejects(listPartitions(dataDir, '..'), /illegal topic name/);
});

test('readRecords reads across segments from an offset, up to a limit', async (t) => {
  const dataDir = tempDir(t);
  const directory = await writePartition(dataDir, 'orders', 0, 10);
  assert.equal(segmentNames(directory).length, 4);
  const all = await readRecords(dataDir, 'orders', 0);
  assert.deepEqual(offsets(all), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(all.map((record) => record.body.toString()), offsets(all).map((i) => `record-${i}`));
  assert.deepEqual(offsets(await readRecords(dataDir, 'orders', 0, { fromOffset: 4n })), [4, 5, 6, 7, 8, 9]);
  assert.deepEqual(offsets(await readRecords(dataDir, 'orders', 0, { fromOffset: 2n, limit: 5 })), [2, 3, 4, 5, 6]);
  assert.deepEqual(offsets(await readRecords(dataDir, 'orders', 0, { limit: 0 })), []);
  assert.deepEqual(await readRecords(dataDir, 'orders', 0, { fromOffset: 10n }), []);
  assert.deepEqual(await readRecords(dataDir, 'orders', 1), []);
});

test('readRecords starts at the oldest segment retention kept', async (t) => {
  const dataDir = tempDir(t);
  const directory = await writePartition(dataDir, 'orders', 0, 10);
  fs.rmSync(path.join(directory, '00000000000000000000.log'));
  assert.deepEqual(offsets(await readRecords(dataDir, 'orders', 0)), [3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(offsets(await readRecords(dataDir, 'orders', 0, { fromOffset: 1n, limit: 2 })), [3, 4]);
});

test('readLastRecords returns the newest records, oldest first, across segments', async (t) => {
  const dataDir = tempDir(t);
  await writePartition(dataDir, 'orders', 0, 10);
  assert.deepEqual(offsets(await readLastRecords(dataDir, 'orders', 0, 1)), [9]);
  assert.deepEqual(offsets(await readLastRecords(dataDir, 'orders', 0, 5)), [5, 6, 7, 8, 9]);
  assert.deepEqual(offsets(await readLastRecords(dataDir, 'orders', 0, 50)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(await readLastRecords(dataDir, 'orders', 0, 0), []);
  assert.deepEqual(await readLastRecords(dataDir, 'orders', 3, 5), []);
});

test('a record still being written is left out and the file is not touched', async (t) => {
  const dataDir = tempDir(t);
  const directory = await writePartition(dataDir, 'orders', 0, 4);
  const active = path.join(directory, segmentNames(directory).at(-1) as string);
  const partial = encodeRecord(4n, records(1, 4)[0]).subarray(0, 25);
  fs.appendFileSync(active, partial);
  const sizeWithPartial = fs.statSync(active).size;
  assert.deepEqual(offsets(await readRecords(dataDir, 'orders', 0)), [0, 1, 2, 3]);
  assert.deepEqual(offsets(await readLastRecords(dataDir, 'orders', 0, 2)), [2, 3]);
  assert.equal(fs.statSync(active).size, sizeWithPartial, 'the reader wrote nothing');
});

test('the reader follows a log that is being appended to', async (t) => {
  const dataDir = tempDir(t);
  const directory = path.join(dataDir, 'orders', '0');
  const log = await PartitionLog.open(logOptions(directory, { segmentBytes: 4096 }), silentLogger());
  t.after(() => log.close());
  let appended = 0;
  const writing = (async () => {
    for (let i = 0; i < 200; i++) {
      await log.append(records(3, appended, 50));
      appended += 3;
    }
  })();
  let reads = 0;
  while (appended < 600) {
    const seen = await readRecords(dataDir, 'orders', 0);
    assert.deepEqual(offsets(seen), seen.map((_, i) => i), 'a gap-free prefix of the log');
    reads++;
  }
  await writing;
  assert.ok(reads > 0);
  assert.equal((await readRecords(dataDir, 'orders', 0)).length, 600);
});
