import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../../src/log';
import { fileSystemIo, type SegmentIo } from '../../../src/storage/local/file-io';
import { readRecords } from '../../../src/storage/local/log-reader';
import { PartitionLog } from '../../../src/storage/local/partition-log';
import { encodedRecordLength, encodeRecord } from '../../../src/storage/local/record';
import { StorageError } from '../../../src/storage/storage';
import {
  capturingLogger,
  countingIo,
  gate,
  logOptions,
  records,
  segmentNames,
  tempDir,
  until,
} from './helpers';

const TOPIC = 'orders';
const PARTITION = 0;

/** A partition directory laid out where log-reader looks for it. */
function partitionDir(dataDir: string): string {
  return path.join(dataDir, TOPIC, String(PARTITION));
}

async function bodies(dataDir: string): Promise<string[]> {
  return (await readRecords(dataDir, TOPIC, PARTITION)).map((record) => record.body.toString());
}

test('appends get consecutive offsets that survive a reopen', async (t) => {
  const dataDir = tempDir(t);
  const log = await PartitionLog.open(logOptions(partitionDir(dataDir)), silentLogger());
  assert.equal(await log.append(records(3)), 0n);
  assert.equal(await log.append(records(2, 3)), 3n);
  assert.equal(log.nextOffset, 5n);
  await log.close();

  const reopened = await PartitionLog.open(logOptions(partitionDir(dataDir)), silentLogger());
  t.after(() => reopened.close());
  assert.equal(reopened.nextOffset, 5n);
  assert.equal(await reopened.append(records(1, 5)), 5n);
  const stored = await readRecords(dataDir, TOPIC, PARTITION);
  assert.deepEqual(
    stored.map((record) => [record.offset, record.key, record.body.toString()]),
    Array.from({ length: 6 }, (_, i) => [BigInt(i), `key-${i}`, `record-${i}`]),
  );
  assert.deepEqual(segmentNames(partitionDir(dataDir)), ['00000000000000000000.log']);
});

test('concurrent appends get consecutive offsets in call order and share writes', async (t) => {
  const dataDir = tempDir(t);
  const io = countingIo();
  const log = await PartitionLog.open(logOptions(partitionDir(dataDir)), silentLogger(), io);
  t.after(() => log.close());
  const sizes = Array.from({ length: 50 }, (_, i) => 1 + (i % 3));
  let from = 0;
  const appends = sizes.map((size) => {
    const append = log.append(records(size, from));
    from += size;
    return append;
  });
  const firstOffsets = await Promise.all(appends);
  let expected = 0n;
  firstOffsets.forEach((offset, i) => {
    assert.equal(offset, expected, `append ${i}`);
    expected += BigInt(sizes[i]);
  });
  assert.ok(io.writes < appends.length, `${io.writes} writes for ${appends.length} appends`);
  assert.deepEqual(
    await bodies(dataDir),
    Array.from({ length: from }, (_, i) => `record-${i}`),
  );
});

test('appends made while a write is in flight go out together in one write', { timeout: 20_000 }, async (t) => {
  const dataDir = tempDir(t);
  const firstWrite = gate();
  const writeSizes: number[] = [];
  const io: SegmentIo = {
    write: async (fd, buffer, offset, length, position) => {
      writeSizes.push(length);
      if (writeSizes.length === 1) await firstWrite.opened;
      return fileSystemIo.write(fd, buffer, offset, length, position);
    },
    datasync: fileSystemIo.datasync,
  };
  const log = await PartitionLog.open(logOptions(partitionDir(dataDir)), silentLogger(), io);
  t.after(() => log.close());

  const first = log.append(records(1, 0));
  await until(() => writeSizes.length === 1, 'the first write to start');
  const queued = [log.append(records(2, 1)), log.append(records(1, 3)), log.append(records(3, 4))];
  firstWrite.open();
  assert.deepEqual(await Promise.all([first, ...queued]), [0n, 1n, 3n, 4n]);
  const queuedBytes = records(6, 1).reduce((sum, record) => sum + encodedRecordLength(record), 0);
  const firstBytes = encodedRecordLength(records(1, 0)[0]);
  assert.deepEqual(writeSizes, [firstBytes, queuedBytes], 'the three queued appends took one write');
});

test('short writes are continued until every byte is written', async (t) => {
  const dataDir = tempDir(t);
  const io: SegmentIo = {
    write: (fd, buffer, offset, length, position) =>
      fileSystemIo.write(fd, buffer, offset, Math.min(length, 7), position),
    datasync: fileSystemIo.datasync,
  };
  const log = await PartitionLog.open(logOptions(partitionDir(dataDir)), silentLogger(), io);
  await Promise.all([log.append(records(4)), log.append(records(3, 4))]);
  await log.close();
  assert.deepEqual(await bodies(dataDir), Array.from({ length: 7 }, (_, i) => `record-${i}`));
});

interface TornTail {
  readonly name: string;
  /** Damages the segment holding five records, the last starting at `lastRecordStart`. */
  readonly damage: (segment: string, lastRecordStart: number) => void;
  /** Records that survive. */
  readonly kept: number;
}

const tornTails: TornTail[] = [
  {
    name: 'half a record',
    damage: (segment) => {
      const whole = encodeRecord(5n, records(1, 5)[0]);
      fs.appendFileSync(segment, whole.subarray(0, Math.floor(whole.length / 2)));
    },
    kept: 5,
  },
  {
    name: 'garbage with a huge length',
    damage: (segment) => fs.appendFileSync(segment, Buffer.from('ffffffff0123456789abcdef', 'hex')),
    kept: 5,
  },
  {
    name: 'garbage with an impossible length',
    damage: (segment) => fs.appendFileSync(segment, Buffer.from('00000003deadbeefdeadbeefdeadbeef', 'hex')),
    kept: 5,
  },
  {
    name: 'three stray bytes',
    damage: (segment) => fs.appendFileSync(segment, Buffer.from([1, 2, 3])),
    kept: 5,
  },
  {
    name: 'a flipped byte in the last record',
    damage: (segment, lastRecordStart) => {
      const bytes = fs.readFileSync(segment);
      bytes[lastRecordStart + 30] ^= 0xff;
      fs.writeFileSync(segment, bytes);
    },
    kept: 4,
  },
];

for (const { name, damage, kept } of tornTails) {
  test(`a torn tail (${name}) is cut on open and appends continue at the right offset`, async (t) => {
    const dataDir = tempDir(t);
    const directory = partitionDir(dataDir);
    const written = records(5);
    const log = await PartitionLog.open(logOptions(directory), silentLogger());
    await log.append(written);
    await log.close();
    const segment = path.join(directory, '00000000000000000000.log');
    const goodBytes = written.reduce((sum, record) => sum + encodedRecordLength(record), 0);
    const lastRecordStart = goodBytes - encodedRecordLength(written[4]);
    damage(segment, lastRecordStart);
    const damagedBytes = fs.statSync(segment).size;

    const { logger, entries } = capturingLogger();
    const reopened = await PartitionLog.open(logOptions(directory), logger);
    t.after(() => reopened.close());
    const keptBytes = kept === 5 ? goodBytes : lastRecordStart;
    assert.equal(fs.statSync(segment).size, keptBytes, 'the file is cut at the end of the last good record');
    assert.equal(reopened.nextOffset, BigInt(kept));
    const warning = entries.find((entry) => entry.level === 40);
    assert.ok(warning, 'a warning is logged');
    assert.equal(warning.removedBytes, damagedBytes - keptBytes);

    assert.equal(await reopened.append(records(2, kept)), BigInt(kept));
    assert.deepEqual(await bodies(dataDir), Array.from({ length: kept + 2 }, (_, i) => `record-${i}`));
  });
}

test('a last segment that is nothing but a torn record is emptied, keeping its base offset', async (t) => {
  const dataDir = tempDir(t);
  const directory = partitionDir(dataDir);
  const log = await PartitionLog.open(logOptions(directory, { segmentBytes: 1 }), silentLogger());
  await log.append(records(3));
  await log.close();
  assert.deepEqual(segmentNames(directory), [0, 1, 2].map((offset) => `${String(offset).padStart(20, '0')}.log`));
  const last = path.join(directory, '00000000000000000002.log');
  fs.writeFileSync(last, fs.readFileSync(last).subarray(0, 20));

  const reopened = await PartitionLog.open(logOptions(directory, { segmentBytes: 1 }), silentLogger());
  t.after(() => reopened.close());
  assert.equal(fs.statSync(last).size, 0);
  assert.equal(reopened.nextOffset, 2n);
  assert.equal(await reopened.append(records(1, 2)), 2n);
  assert.deepEqual(await bodies(dataDir), ['record-0', 'record-1', 'record-2']);
});

test('a segment rolls before it would pass segmentBytes, and a record larger than that gets one alone', async (t) => {
  const dataDir = tempDir(t);
  const directory = partitionDir(dataDir);
  const recordBytes = encodedRecordLength(records(1)[0]);
  const segmentBytes = 3 * recordBytes + 10;
  const log = await PartitionLog.open(logOptions(directory, { segmentBytes }), silentLogger());
  t.after(() => log.close());

  for (let i = 0; i < 4; i++) await log.append(records(1, i));
  await log.append(records(5, 4)); // one append spanning a roll
  const [big] = records(1, 9, segmentBytes * 2);
  await log.append([big]);
  await log.append(records(1, 10));

  const names = segmentNames(directory);
  assert.deepEqual(names, [0, 3, 6, 9, 10].map((offset) => `${String(offset).padStart(20, '0')}.log`));
  for (const name of names.filter((segment) => segment !== '00000000000000000009.log')) {
    assert.ok(fs.statSync(path.join(directory, name)).size <= segmentBytes, `${name} stays within segmentBytes`);
  }
  assert.equal(fs.statSync(path.join(directory, names[3])).size, encodedRecordLength(big));
  assert.deepEqual(
    (await readRecords(dataDir, TOPIC, PARTITION)).map((record) => record.offset),
    Array.from({ length: 11 }, (_, i) => BigInt(i)),
  );
});

test('after a roll the oldest segments are deleted while the partition exceeds retentionBytes', async (t) => {
  const dataDir = tempDir(t);
  const directory = partitionDir(dataDir);
  const recordBytes = encodedRecordLength(records(1)[0]);
  const segmentBytes = 2 * recordBytes; // two records a segment
  const retentionBytes = 5 * recordBytes;
  const options = logOptions(directory, { segmentBytes, retentionBytes });
  const log = await PartitionLog.open(options, silentLogger());
  for (let i = 0; i < 11; i++) await log.append(records(1, i));
  await log.close();

  // Segments 0,2,...,10 were made. At the last roll 4, 6 and 8 held six records' bytes: 4 had to go.
  assert.deepEqual(segmentNames(directory), [6, 8, 10].map((offset) => `${String(offset).padStart(20, '0')}.log`));
  const rolledBytes = segmentNames(directory)
    .slice(0, -1)
    .reduce((sum, name) => sum + fs.statSync(path.join(directory, name)).size, 0);
  assert.ok(rolledBytes <= retentionBytes, 'what retention kept at the last roll fits within retentionBytes');
  assert.deepEqual(await bodies(dataDir), [6, 7, 8, 9, 10].map((i) => `record-${i}`));

  const reopened = await PartitionLog.open(options, silentLogger());
  t.after(() => reopened.close());
  assert.equal(reopened.nextOffset, 11n);
});

test('retention never deletes the active segment', async (t) => {
  const dataDir = tempDir(t);
  const directory = partitionDir(dataDir);
  const log = await PartitionLog.open(logOptions(directory, { segmentBytes: 1, retentionBytes: 1 }), silentLogger());
  t.after(() => log.close());
  for (let i = 0; i < 4; i++) await log.append(records(1, i, 100));
  assert.deepEqual(segmentNames(directory), ['00000000000000000003.log']);
  assert.deepEqual(await bodies(dataDir), [`record-3${'a'.repeat(100)}`]);
});

test("'write' acknowledges without syncing; flush() syncs what is dirty, once", async (t) => {
  const dataDir = tempDir(t);
  const io = countingIo();
  const log = await PartitionLog.open(logOptions(partitionDir(dataDir), { flushPolicy: 'write' }), silentLogger(), io);
  t.after(() => log.close());
  await log.append(records(3));
  assert.equal(io.syncs, 0);
  await log.flush();
  assert.equal(io.syncs, 1);
  await log.flush();
  assert.equal(io.syncs, 1, 'nothing new to sync');
});

test("'fsync' acknowledges only after fdatasync, and concurrent appends share one", { timeout: 20_000 }, async (t) => {
  const dataDir = tempDir(t);
  const syncRelease = gate();
  let syncs = 0;
  const io: SegmentIo = {
    write: fileSystemIo.write,
    datasync: async (fd) => {
      syncs++;
      await syncRelease.opened;
      return fileSystemIo.datasync(fd);
    },
  };
  const log = await PartitionLog.open(logOptions(partitionDir(dataDir), { flushPolicy: 'fsync' }), silentLogger(), io);
  t.after(() => log.close());
  let acknowledged = false;
  const appends = Array.from({ length: 20 }, (_, i) => log.append(records(1, i)));
  void Promise.all(appends).then(() => {
    acknowledged = true;
  });
  await until(() => syncs === 1, 'the fdatasync to start');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(acknowledged, false, 'no append is acknowledged while its fdatasync is pending');
  syncRelease.open();
  assert.deepEqual(await Promise.all(appends), Array.from({ length: 20 }, (_, i) => BigInt(i)));
  assert.ok(syncs < 20, `${syncs} fdatasyncs for 20 appends`);
});

test("'interval' acknowledges after the write and syncs on an unref'd timer", { timeout: 20_000 }, async (t) => {
  const dataDir = tempDir(t);
  const syncRelease = gate();
  let syncs = 0;
  const io: SegmentIo = {
    write: fileSystemIo.write,
    datasync: async (fd) => {
      syncs++;
      await syncRelease.opened;
      return fileSystemIo.datasync(fd);
    },
  };
  const timersBefore = process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
  const log = await PartitionLog.open(
    logOptions(partitionDir(dataDir), { flushPolicy: 'interval', flushIntervalMs: 5 }),
    silentLogger(),
    io,
  );
  t.after(() => log.close());
  const timersAfter = process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
  assert.equal(timersAfter, timersBefore, 'the flush timer does not keep the process alive');

  // fdatasync never completes until released, so the append resolving proves it did not wait for one.
  assert.equal(await log.append(records(2)), 0n);
  await until(() => syncs >= 1, 'the timer to sync');
  syncRelease.open();
});

test('a failed write fails its appends as UNAVAILABLE and later appends continue at the same offset', async (t) => {
  const dataDir = tempDir(t);
  let failNext = 0;
  const io: SegmentIo = {
    write: async (fd, buffer, offset, length, position) => {
      if (failNext > 0) {
        failNext--;
        // A partial write first, so that the failure leaves bytes behind to be cut.
        await fileSystemIo.write(fd, buffer, offset, Math.ceil(length / 2), position);
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return fileSystemIo.write(fd, buffer, offset, length, position);
    },
    datasync: fileSystemIo.datasync,
  };
  const { logger, entries } = capturingLogger();
  const log = await PartitionLog.open(logOptions(partitionDir(dataDir)), logger, io);
  assert.equal(await log.append(records(2)), 0n);

  failNext = 1;
  const failures = await Promise.allSettled([log.append(records(1, 100)), log.append(records(2, 101))]);
  for (const failure of failures) {
    assert.equal(failure.status, 'rejected');
    const error = (failure as PromiseRejectedResult).reason;
    assert.ok(error instanceof StorageError);
    assert.equal(error.code, 'UNAVAILABLE');
    assert.equal(error.retriable, true);
    assert.match(error.message, /ENOSPC: no space left on device/);
  }
  assert.ok(entries.some((entry) => entry.level === 40 && entry.msg === 'local log: append failed'));

  assert.equal(await log.append(records(2, 2)), 2n, 'the failed records did not use up offsets');
  await log.close();
  assert.deepEqual(await bodies(dataDir), ['record-0', 'record-1', 'record-2', 'record-3']);

  const reopened = await PartitionLog.open(logOptions(partitionDir(dataDir)), silentLogger());
  t.after(() => reopened.close());
  assert.equal(reopened.nextOffset, 4n);
});

test("a failed fdatasync under 'fsync' fails the appends waiting on it; the log stays usable", async (t) => {
  const dataDir = tempDir(t);
  let failSync = true;
  const io: SegmentIo = {
    write: fileSystemIo.write,
    datasync: async (fd) => {
      if (failSync) {
        failSync = false;
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      }
      return fileSystemIo.datasync(fd);
    },
  };
  const log = await PartitionLog.open(logOptions(partitionDir(dataDir), { flushPolicy: 'fsync' }), silentLogger(), io);
  t.after(() => log.close());
  await assert.rejects(log.append(records(1)), (error: unknown) => {
    assert.ok(error instanceof StorageError);
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /EIO/);
    return true;
  });
  const offset = await log.append(records(1, 1));
  assert.equal(offset, 1n, 'the record whose sync failed is still in the file, so it keeps its offset');
});

test('close lets queued appends finish; later appends fail with CLOSED', async (t) => {
  const dataDir = tempDir(t);
  const io = countingIo();
  const log = await PartitionLog.open(logOptions(partitionDir(dataDir)), silentLogger(), io);
  const queued = log.append(records(2));
  const closed = log.close();
  assert.equal(log.close(), closed, 'close is idempotent');
  await assert.rejects(log.append(records(1, 2)), (error: unknown) => {
    assert.ok(error instanceof StorageError);
    assert.equal(error.code, 'CLOSED');
    return true;
  });
  assert.equal(await queued, 0n);
  await closed;
  assert.equal(io.syncs, 1, 'close synced the written records');
  await log.flush();
  assert.deepEqual(await bodies(dataDir), ['record-0', 'record-1']);
});
