import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { silentLogger } from '../../../src/log';
import { readRecords } from '../../../src/storage/local/log-reader';
import { PartitionLog } from '../../../src/storage/local/partition-log';
import type { StoredRecord } from '../../../src/storage/local/record';
import { CRASH_TOPIC, crashMessage } from '../../fixtures/local-writer';
import { logOptions, records, tempDir } from './helpers';

const WRITER = path.join(__dirname, '../../fixtures/local-writer.js');
const KILL_AFTER_ACKNOWLEDGED = 1500;
/** The kill comes a little after the threshold, so that it is not in step with the writer's output. */
const KILL_DELAY_MAX_MS = 30;

/** Fails unless `stored` is the gap-free run of offsets 0.. holding exactly what the writer sent. */
function assertIntactPrefix(stored: StoredRecord[]): void {
  stored.forEach((record, index) => {
    assert.equal(record.offset, BigInt(index), 'offsets run from 0 without gaps');
    const sequence = Number(record.properties.get('sequence'));
    const sent = crashMessage(sequence);
    assert.equal(record.key, sent.key);
    assert.equal(record.tags, sent.tags);
    assert.equal(record.timestamp, sent.timestamp);
    assert.ok(record.body.equals(sent.body), `body of offset ${record.offset}`);
  });
}

const options = { timeout: 120_000 };

test('every record acknowledged under flushPolicy write survives a kill -9 of the writer', options, async (t) => {
  const dataDir = tempDir(t);
  const child = spawn(process.execPath, [WRITER, dataDir, '200000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));

  const acknowledged = new Map<bigint, number>();
  let unfinishedLine = '';
  let stderr = '';
  let readWhileWriting: Promise<StoredRecord[]> | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (unfinishedLine + chunk).split('\n');
    unfinishedLine = lines.pop() ?? '';
    for (const line of lines) {
      const [offset, sequence] = line.split(' ');
      acknowledged.set(BigInt(offset), Number(sequence));
    }
    if (readWhileWriting === undefined && acknowledged.size >= KILL_AFTER_ACKNOWLEDGED / 4) {
      readWhileWriting = readRecords(dataDir, CRASH_TOPIC, 0);
    }
    if (acknowledged.size >= KILL_AFTER_ACKNOWLEDGED && killTimer === undefined) {
      killTimer = setTimeout(() => child.kill('SIGKILL'), Math.random() * KILL_DELAY_MAX_MS);
    }
  });

  assert.equal(await exited, 'SIGKILL', `the writer was killed mid-stream, not stopped otherwise: ${stderr}`);
  assert.ok(acknowledged.size >= KILL_AFTER_ACKNOWLEDGED);
  assert.ok(readWhileWriting !== undefined);
  const seenWhileWriting = await readWhileWriting;
  assert.ok(seenWhileWriting.length > 0, 'the reader saw records of a log another process was writing');
  assertIntactPrefix(seenWhileWriting);

  // Straight after the kill, before any recovery: whatever tail the kill left is simply not read.
  const afterKill = await readRecords(dataDir, CRASH_TOPIC, 0);
  assertIntactPrefix(afterKill);
  for (const [offset, sequence] of acknowledged) {
    const record = afterKill[Number(offset)];
    assert.ok(record !== undefined, `acknowledged offset ${offset} is in the log`);
    const storedSequence = record.properties.get('sequence');
    assert.equal(storedSequence, String(sequence), `offset ${offset} holds the acknowledged message`);
  }

  // Reopening for writing cuts any torn tail and appends right after the last whole record.
  const directory = path.join(dataDir, CRASH_TOPIC, '0');
  const log = await PartitionLog.open(logOptions(directory, { segmentBytes: 256 * 1024 }), silentLogger());
  assert.equal(log.nextOffset, BigInt(afterKill.length));
  assert.equal(await log.append(records(1)), BigInt(afterKill.length));
  await log.close();
  const afterRecovery = await readRecords(dataDir, CRASH_TOPIC, 0);
  assert.equal(afterRecovery.length, afterKill.length + 1);
  assertIntactPrefix(afterRecovery.slice(0, afterKill.length));
});
