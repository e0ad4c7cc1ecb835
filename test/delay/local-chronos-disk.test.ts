/**
 * The local Chronos and its disk: a journal that cannot be read stops the start instead of losing
 * what it holds; it is read in bounded chunks; bodies stay on disk, not in memory; adds are
 * journaled with group commit before they resolve; a full disk refuses adds (never half-written)
 * and delays a delivery's outcome until space returns, without crashing the process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ResultCode } from '../../src/protocol/result-codes';
import { silentLogger } from '../../src/log';
import type { ProducerMessage } from '../../src/core/message';
import { DelayAction, DelayType } from '../../src/delay/delay-check';
import { formatDelayId, type DelayKey } from '../../src/delay/delay-id';
import { fileSystemReadIo, type JournalReadIo } from '../../src/delay/journal-reader';
import { fileSystemWriteIo, type JournalWriteIo } from '../../src/delay/journal-writer';
import { LocalChronos, type ChronosIo } from '../../src/delay/local-chronos';
import { tempDir } from '../helpers/config';
import { FakeTimers } from '../helpers/fake-timers';
import { capturingLogger } from '../storage/local/helpers';
import { eventually } from '../helpers/wait';

const NOW_S = 1_763_800_000n;
const NOW_MS = Number(NOW_S) * 1000;

function key(timestamp: bigint): DelayKey {
  return { timestamp, type: DelayType.DELAY, expire: timestamp + 172_800n, times: 0n, timed: 0n, interval: 0n, seq: 0, uuid: randomUUID() };
}

const add = (chronos: LocalChronos, k: DelayKey, body: Buffer | string) =>
  chronos.accept({ action: DelayAction.ADD, key: k, topic: 'user', body: Buffer.from(body), tags: 'T', properties: new Map([['p', 'v']]) });

const journalOf = (dir: string) => path.join(dir, 'journal.jsonl');

/** A chronos on `dir` at NOW_MS whose deliveries are recorded; closed after the test. */
function chronosOn(t: TestContext, dir: string, io: ChronosIo = {}, logger = silentLogger(), code = ResultCode.OK) {
  const delivered: ProducerMessage[] = [];
  const chronos = new LocalChronos(dir, (m) => (delivered.push(m), code), logger, { clock: () => NOW_MS, io });
  t.after(() => chronos.close());
  return { chronos, delivered };
}

/** A file system that fails writes with ENOSPC while `full`, the first failing write after writing half of what it was given. */
function fullableDisk() {
  const state = { full: false, writes: 0, halfWritten: false, cuts: 0 };
  const write: JournalWriteIo = {
    write: async (fd, buffer, offset, length, position) => {
      state.writes++;
      if (!state.full) return fileSystemWriteIo.write(fd, buffer, offset, length, position);
      if (!state.halfWritten && length > 1) {
        state.halfWritten = true;
        return fileSystemWriteIo.write(fd, buffer, offset, length >> 1, position);
      }
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    },
    truncate: async (fd, length) => {
      await fileSystemWriteIo.truncate(fd, length);
      state.cuts++;
    },
  };
  return { state, write };
}

test('a journal that cannot be read stops the start with an error, and is left as it was', async (t) => {
  const dir = tempDir(t);
  const { chronos } = chronosOn(t, dir);
  for (let i = 0; i < 20; i++) await add(chronos, key(NOW_S + 100n), `kept ${i}`);
  const before = fs.readFileSync(journalOf(dir));

  let reads = 0;
  const failing: JournalReadIo = {
    read: (fd, buffer, length, position) => {
      if (++reads === 2) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      return fileSystemReadIo.read(fd, buffer, length, position);
    },
  };
  const { logger, entries } = capturingLogger();
  assert.throws(() => new LocalChronos(dir, () => ResultCode.OK, logger, { clock: () => NOW_MS, io: { read: failing, chunkBytes: 256 } }), /could not be read: EIO/);
  assert.ok(entries.some((e) => e['level'] === 50 && String(e['msg']).includes('could not be read')), 'an error line');
  assert.deepEqual(fs.readFileSync(journalOf(dir)), before, 'the journal is untouched');
  const { chronos: again } = chronosOn(t, dir);
  assert.equal(again.status().pending, 20, 'a start that can read it has every message');
});

test('the journal is read in chunks of at most the chunk size, and every message comes back whole', async (t) => {
  const dir = tempDir(t);
  const { chronos } = chronosOn(t, dir);
  const bodies = Array.from({ length: 200 }, (_, i) => `body ${i} ${'b'.repeat(i * 3)}`);
  for (const b of bodies) await add(chronos, key(NOW_S), b);
  await chronos.close();
  const size = fs.statSync(journalOf(dir)).size;

  const asked: number[] = [];
  const counting: JournalReadIo = { read: (fd, buffer, length, position) => (asked.push(length), fileSystemReadIo.read(fd, buffer, length, position)) };
  const { chronos: again, delivered } = chronosOn(t, dir, { read: counting, chunkBytes: 4096 });
  const restoring = asked.length;
  assert.ok(size > 10 * 4096, `a journal of ${size} bytes`);
  assert.ok(restoring >= size / 4096, `${restoring} reads`);
  assert.ok(asked.every((n) => n <= 4096), `no read over the chunk (largest ${Math.max(...asked)})`);
  again.start();
  await eventually(() => (delivered.length === 200 ? true : undefined), 5000, 'every delivery');
  assert.deepEqual(delivered.map((m) => m.body!.toString()).sort(), [...bodies].sort());
  assert.deepEqual([delivered[0]!.tags, delivered[0]!.properties?.get('p')], ['T', 'v']);
});

test("pending messages' bodies stay on disk, after their add and after a restart", { timeout: 60_000 }, async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // twice, a turn apart: buffers a collection finds dead are released by callbacks that run after it
  const held = async () => {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const dir = tempDir(t);
  const MiB = 1 << 20;
  const base = await held();
  const { chronos } = chronosOn(t, dir);
  for (let i = 0; i < 48; i++) await add(chronos, key(NOW_S + 100n), Buffer.alloc(MiB, i));
  const afterAdds = (await held()) - base;
  assert.equal(chronos.status().pending, 48);
  assert.ok(afterAdds < 12 * MiB, `48 pending 1 MiB bodies hold ${(afterAdds / MiB).toFixed(1)} MiB`);
  await chronos.close();

  const restartBase = await held();
  const { chronos: again, delivered } = chronosOn(t, dir);
  const afterRestart = (await held()) - restartBase;
  assert.equal(again.status().pending, 48);
  assert.ok(afterRestart < 12 * MiB, `restored, they hold ${(afterRestart / MiB).toFixed(1)} MiB`);
  // and the bodies are there when they fire
  await again.close();
  const { chronos: late, delivered: lateDeliveries } = chronosOn(t, dir);
  const lateNow = new LocalChronos(dir, (m) => (lateDeliveries.push(m), ResultCode.OK), silentLogger(), { clock: () => NOW_MS + 200_000 });
  await late.close();
  t.after(() => lateNow.close());
  lateNow.start();
  await eventually(() => (lateDeliveries.length === 48 ? true : undefined), 20_000, 'the deliveries');
  assert.ok(lateDeliveries.every((m) => m.body!.length === MiB && m.body!.every((b) => b === m.body![0])));
  assert.equal(delivered.length, 0);
});

test('a pending message costs a few hundred bytes of memory, after its add and after a restart', { timeout: 60_000 }, async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heap = () => (gc(), process.memoryUsage().heapUsed);
  const dir = tempDir(t);
  const COUNT = 20_000;
  const base = heap();
  const { chronos } = chronosOn(t, dir);
  for (let i = 0; i < COUNT; i += 500) await Promise.all(Array.from({ length: 500 }, () => add(chronos, key(NOW_S + 100n), 'b'.repeat(200))));
  const perAdded = (heap() - base) / COUNT;
  await chronos.close();
  const restartBase = heap();
  const { chronos: again } = chronosOn(t, dir);
  const perRestored = (heap() - restartBase) / COUNT;
  assert.equal(again.status().pending, COUNT);
  assert.ok(perAdded < 400 && perRestored < 400, `bytes per pending message: ${perAdded.toFixed(0)} after the adds, ${perRestored.toFixed(0)} restored`);
});

test('adds made together are journaled in a few writes, each resolving only once its line is in the file', async (t) => {
  const dir = tempDir(t);
  let writes = 0;
  const counting: JournalWriteIo = { ...fileSystemWriteIo, write: (...args) => (writes++, fileSystemWriteIo.write(...args)) };
  const { chronos } = chronosOn(t, dir, { write: counting });
  const keys = Array.from({ length: 300 }, () => key(NOW_S + 100n));
  const inFileWhenResolved = await Promise.all(
    keys.map((k) => add(chronos, k, 'b').then(() => fs.readFileSync(journalOf(dir), 'utf8').includes(formatDelayId(k)))),
  );
  assert.ok(inFileWhenResolved.every(Boolean), 'every add was in the journal when it resolved');
  assert.ok(writes > 0 && writes <= 10, `${writes} writes for 300 adds`);
  assert.equal(chronos.status().pending, 300);
});

test('an add on a full disk is refused and leaves nothing behind; once space returns adds are kept again', async (t) => {
  const dir = tempDir(t);
  const disk = fullableDisk();
  const { logger, entries } = capturingLogger();
  const { chronos } = chronosOn(t, dir, { write: disk.write }, logger);
  await add(chronos, key(NOW_S + 100n), 'before');
  const size = fs.statSync(journalOf(dir)).size;
  disk.state.full = true;
  const refused = key(NOW_S + 100n);
  await assert.rejects(add(chronos, refused, 'x'.repeat(1000)), { code: 'ENOSPC' });
  assert.equal(disk.state.halfWritten, true, 'the failed write had written part of the line');
  assert.equal(fs.statSync(journalOf(dir)).size, size, 'and that part was cut off');
  assert.equal(chronos.status().pending, 1);
  assert.ok(entries.some((e) => e['msg'] === 'chronos journal: write failed'), 'a log line');

  disk.state.full = false;
  await add(chronos, key(NOW_S + 100n), 'after');
  await chronos.close();
  const { chronos: again, delivered } = chronosOn(t, dir);
  assert.equal(again.status().pending, 2);
  await again.close();
  const late = new LocalChronos(dir, (m) => (delivered.push(m), ResultCode.OK), silentLogger(), { clock: () => NOW_MS + 200_000 });
  t.after(() => late.close());
  late.start();
  await eventually(() => (delivered.length === 2 ? true : undefined), 5000, 'the two kept adds');
  assert.deepEqual(delivered.map((m) => m.body!.toString()).sort(), ['after', 'before']);
  assert.ok(!delivered.some((m) => m.key === formatDelayId(refused)));
});

test('a delivery whose outcome the disk refuses is not made again, and is journaled once space returns', async (t) => {
  const dir = tempDir(t);
  const disk = fullableDisk();
  const timers = new FakeTimers();
  const { logger, entries } = capturingLogger();
  const { chronos, delivered } = chronosOn(t, dir, { write: disk.write, timers }, logger);
  await add(chronos, key(NOW_S), 'due now');
  disk.state.full = true;
  disk.state.halfWritten = true; // whole writes fail here
  chronos.start();
  // a failed write is cut off the file; the retry is armed right after
  const failures = (n: number, what: string) => eventually(() => (disk.state.cuts >= n ? true : undefined), 5000, what);
  await failures(1, 'the failed outcome write');
  assert.ok(entries.some((e) => e['msg'] === 'chronos journal: write failed'), 'a log line');
  await new Promise((r) => setTimeout(r, 400)); // four ticks
  assert.equal(delivered.length, 1, 'delivered once, not again while its outcome is not journaled');
  assert.equal(disk.state.writes, 2, 'the add, then one try of the outcome: no retry before its time');
  await timers.advance(1000);
  await failures(2, 'the retry a second later');
  assert.equal(disk.state.writes, 3);

  disk.state.full = false;
  await timers.advance(1000);
  await eventually(() => (chronos.status().pending === 0 ? true : undefined), 5000, 'the outcome journaled');
  assert.equal(delivered.length, 1);
  await chronos.close();
  const again = new LocalChronos(dir, (m) => (delivered.push(m), ResultCode.OK), silentLogger(), { clock: () => NOW_MS + 200_000 });
  assert.equal(again.status().pending, 0, 'a restart does not deliver it again');
  await again.close();
});

/** A real small disk: a tmpfs of `size` mounted on a fresh directory, unmounted after the test. */
function smallDisk(t: TestContext, size: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.after(() => {
    execFileSync('umount', ['-l', dir]);
    fs.rmdirSync(dir);
  });
  return dir;
}

/** Fills the file system `dir` is on with `filler`, to its last byte. */
function fill(filler: string): void {
  const fd = fs.openSync(filler, 'w');
  const block = Buffer.alloc(64 << 10);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  for (let n = 1; n > 0; ) {
    try {
      n = fs.writeSync(fd, Buffer.alloc(1));
    } catch {
      n = 0;
    }
  }
  fs.closeSync(fd);
}

const PAGE = 4096;
const dueNow = { action: DelayAction.ADD, key: key(NOW_S), topic: 'user', body: Buffer.from('due now'), tags: 'x', properties: undefined };

/** How long the tags of `delay` must be for its journal line to fill whole pages (tmpfs allocates by page). */
async function pageFillingTags(t: TestContext, delay: typeof dueNow): Promise<number> {
  const probeDir = tempDir(t);
  const probe = new LocalChronos(probeDir, () => ResultCode.OK, silentLogger(), { clock: () => NOW_MS });
  await probe.accept(delay);
  await probe.close();
  const length = fs.statSync(journalOf(probeDir)).size;
  return 1 + ((PAGE - (length % PAGE)) % PAGE);
}

test('on a real full disk a delivery neither crashes the proxy nor is made again, and adds answer an error until space returns', { timeout: 30_000 }, async (t) => {
  const dir = smallDisk(t, '2m');
  const chronosDir = path.join(dir, 'chronos');
  const delivered: string[] = [];
  const { logger, entries } = capturingLogger();
  const chronos = new LocalChronos(chronosDir, (m) => (delivered.push(m.body!.toString()), ResultCode.OK), logger, { clock: () => NOW_MS });
  t.after(() => chronos.close());
  await chronos.accept({ ...dueNow, tags: 'x'.repeat(await pageFillingTags(t, dueNow)) });
  assert.equal(fs.statSync(journalOf(chronosDir)).size % PAGE, 0, 'the journal ends at a page end: its next line needs a new page');
  fill(path.join(dir, 'filler'));
  chronos.start();
  await eventually(() => (entries.some((e) => e['msg'] === 'chronos journal: write failed') ? true : undefined), 5000, 'the failed outcome write');
  await assert.rejects(add(chronos, key(NOW_S + 100n), 'refused'), { code: 'ENOSPC' });
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(delivered, ['due now']);

  fs.rmSync(path.join(dir, 'filler'));
  await eventually(() => (chronos.status().pending === 0 ? true : undefined), 5000, 'the outcome journaled once space returned');
  await add(chronos, key(NOW_S + 100n), 'kept');
  await chronos.close();
  const again = new LocalChronos(chronosDir, () => ResultCode.OK, silentLogger(), { clock: () => NOW_MS });
  assert.equal(again.status().pending, 1, 'only the add made after space returned is pending; the delivery is not repeated');
  await again.close();
});

test('after stop() no delivery starts, however many are due; close() then waits only for those under way', async (t) => {
  const dir = tempDir(t);
  const answers: (() => void)[] = [];
  const delivered: ProducerMessage[] = [];
  const deliver = (m: ProducerMessage) => {
    delivered.push(m);
    return new Promise<ResultCode>((resolve) => answers.push(() => resolve(ResultCode.OK)));
  };
  const chronos = new LocalChronos(dir, deliver, silentLogger(), { clock: () => NOW_MS, io: {} });
  t.after(() => chronos.close());
  const due = 3000;
  for (let i = 0; i < due; i++) await add(chronos, key(NOW_S - 1n), `due ${i}`);
  chronos.start();
  await eventually(() => (delivered.length > 0 ? true : undefined), 5000, 'deliveries under way');
  const underWay = delivered.length;
  assert.ok(underWay < due, `${underWay} under way at once, not all ${due}`);
  chronos.stop();
  for (const answer of answers.splice(0)) answer();
  await chronos.close();
  assert.equal(delivered.length, underWay, 'none started after stop()');
  assert.equal(chronos.status().pending, due - underWay, 'the rest still pending, for the next start');
});
