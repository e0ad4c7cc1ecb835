/**
 * The local Chronos journal stays proportional to what is pending: compaction rewrites it, and a
 * restart from the compacted journal delivers exactly what was pending, loops where they were.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ResultCode } from '../../src/protocol/result-codes';
import { silentLogger } from '../../src/log';
import type { ProducerMessage } from '../../src/core/message';
import { DelayAction, DelayType } from '../../src/delay/delay-check';
import type { DelayKey } from '../../src/delay/delay-id';
import { LocalChronos } from '../../src/delay/local-chronos';
import { tempDir } from '../helpers/config';
import { eventually } from '../helpers/wait';

const NOW_S = 1_763_800_000n;

function key(timestamp: bigint, shape: Partial<DelayKey> = {}): DelayKey {
  return { timestamp, type: DelayType.DELAY, expire: timestamp + 172_800n, times: 1n, timed: 0n, interval: 0n, seq: 0, uuid: randomUUID(), ...shape };
}

function add(chronos: LocalChronos, k: DelayKey, body: string): void {
  chronos.accept({ action: DelayAction.ADD, key: k, topic: 'user', body: Buffer.from(body), tags: undefined, properties: new Map([['p', body]]) });
}

const journalLines = (dir: string) => fs.readFileSync(path.join(dir, 'journal.jsonl'), 'utf8').split('\n').filter(Boolean).length;

test('the journal is compacted to what is pending, and a restart from it delivers exactly that', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  let nowMs = Number(NOW_S) * 1000;
  const delivered: ProducerMessage[] = [];
  const first = new LocalChronos(dir, (m) => (delivered.push(m), ResultCode.OK), silentLogger(), () => nowMs, 50);
  t.after(() => first.stop());

  const loop = key(NOW_S, { type: DelayType.LOOP_DELAY, times: 5n, interval: 10n });
  add(first, loop, 'loop');
  // two deliveries of the loop: now, and 10 s later
  first.start();
  await eventually(() => (delivered.length === 1 ? true : undefined), 5000, 'the first loop delivery');
  nowMs += 10_000;
  await eventually(() => (delivered.length === 2 ? true : undefined), 5000, 'the second loop delivery');
  first.stop();
  // then enough traffic for compactions, which must carry the loop's progress over
  const later = Array.from({ length: 100 }, (_, i) => key(NOW_S + 1000n + BigInt(i)));
  later.forEach((k, i) => add(first, k, `later-${i}`));
  for (const k of later.slice(10)) first.accept({ action: DelayAction.CANCEL, key: k, topic: 'user', body: Buffer.alloc(0), tags: undefined, properties: undefined });
  assert.deepEqual(delivered.map((m) => m.key!.split('-').slice(0, 7).join('-')), [
    `${NOW_S}-3-${NOW_S + 172_800n}-5-0-10-0`,
    `${NOW_S + 10n}-3-${NOW_S + 172_800n}-5-1-10-0`,
  ]);
  // one loop, two deliveries, 100 adds and 90 cancels would be 193 lines
  assert.ok(journalLines(dir) <= 50, `journal of ${journalLines(dir)} lines for 11 pending messages`);

  // a restart long after every trigger time: each pending message is delivered, the loop its three
  // remaining times
  nowMs = Number(NOW_S + 5000n) * 1000;
  const again: ProducerMessage[] = [];
  const second = new LocalChronos(dir, (m) => (again.push(m), ResultCode.OK), silentLogger(), () => nowMs, 50);
  t.after(() => second.stop());
  second.start();
  await eventually(() => (again.length === 13 ? true : undefined), 5000, 'the 13 deliveries');
  await new Promise((r) => setTimeout(r, 300)); // nothing more comes
  assert.equal(again.length, 13);
  const bodies = again.map((m) => m.body!.toString());
  assert.deepEqual(bodies.filter((b) => b.startsWith('later-')).sort(), later.slice(0, 10).map((_, i) => `later-${i}`).sort());
  const loopAgain = again.filter((m) => m.body!.toString() === 'loop');
  assert.deepEqual(
    loopAgain.map((m) => m.key!.split('-').slice(0, 7).join('-')),
    [2n, 3n, 4n].map((timed) => `${NOW_S + 10n * timed}-3-${NOW_S + 172_800n}-5-${timed}-10-0`),
    'the loop resumes at its third delivery',
  );
  assert.equal(loopAgain[0]!.properties?.get('p'), 'loop');
});

test('a journal line torn by a crash is cut at start, so what is journaled next is not lost', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const nowMs = Number(NOW_S) * 1000;
  const none = () => ResultCode.OK;
  add(new LocalChronos(dir, none, silentLogger(), () => nowMs), key(NOW_S + 100n), 'before the crash');
  fs.appendFileSync(path.join(dir, 'journal.jsonl'), '{"op":"add","key":{"timesta'); // the crash
  fs.writeFileSync(path.join(dir, 'journal.jsonl.compacting'), '{"op":"add"'); // and one mid-compaction
  add(new LocalChronos(dir, none, silentLogger(), () => nowMs), key(NOW_S + 100n), 'after the restart');
  assert.equal(fs.existsSync(path.join(dir, 'journal.jsonl.compacting')), false, 'the unfinished compaction is discarded');

  const delivered: string[] = [];
  const third = new LocalChronos(dir, (m) => (delivered.push(m.body!.toString()), ResultCode.OK), silentLogger(), () => nowMs + 200_000);
  t.after(() => third.stop());
  third.start();
  await eventually(() => (delivered.length === 2 ? true : undefined), 5000, 'both messages delivered');
  assert.deepEqual(delivered.sort(), ['after the restart', 'before the crash']);
});
