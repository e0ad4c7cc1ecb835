/**
 * The local Chronos: messages keyed by their whole id, cancels matched as DDMQ's Chronos matches its
 * tombstones, and a journal that stays proportional to what is pending (compaction rewrites it, and
 * a restart from the compacted journal delivers exactly what was pending, loops where they were),
 * reads journals of the earlier format, and survives a torn last line.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { ResultCode } from '../../src/protocol/result-codes';
import { silentLogger } from '../../src/log';
import type { ProducerMessage } from '../../src/core/message';
import { DelayAction, DelayType } from '../../src/delay/delay-check';
import { formatDelayId, parseDelayId, type DelayKey } from '../../src/delay/delay-id';
import { firingKey } from '../../src/delay/loop-schedule';
import { LocalChronos } from '../../src/delay/local-chronos';
import { tempDir } from '../helpers/config';
import { capturingLogger } from '../storage/local/helpers';
import { eventually } from '../helpers/wait';

const NOW_S = 1_763_800_000n;

function key(timestamp: bigint, shape: Partial<DelayKey> = {}): DelayKey {
  return { timestamp, type: DelayType.DELAY, expire: timestamp + 172_800n, times: 1n, timed: 0n, interval: 0n, seq: 0, uuid: randomUUID(), ...shape };
}

function add(chronos: LocalChronos, k: DelayKey, body: string): Promise<void> {
  return chronos.accept({ action: DelayAction.ADD, key: k, topic: 'user', body: Buffer.from(body), tags: undefined, properties: new Map([['p', body]]) });
}

const journalLines = (dir: string) => fs.readFileSync(path.join(dir, 'journal.jsonl'), 'utf8').split('\n').filter(Boolean).length;

test('the journal is compacted to what is pending, and a restart from it delivers exactly that', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  let nowMs = Number(NOW_S) * 1000;
  const delivered: ProducerMessage[] = [];
  const first = new LocalChronos(dir, (m) => (delivered.push(m), ResultCode.OK), silentLogger(), { clock: () => nowMs, compactAfterLines: 50 });
  t.after(() => first.stop());

  const loop = key(NOW_S, { type: DelayType.LOOP_DELAY, times: 5n, interval: 10n });
  await add(first, loop, 'loop');
  // two deliveries of the loop: now, and 10 s later
  first.start();
  await eventually(() => (delivered.length === 1 ? true : undefined), 5000, 'the first loop delivery');
  nowMs += 10_000;
  await eventually(() => (delivered.length === 2 ? true : undefined), 5000, 'the second loop delivery');
  first.stop();
  // then enough traffic for compactions, which must carry the loop's progress over
  const later = Array.from({ length: 100 }, (_, i) => key(NOW_S + 1000n + BigInt(i)));
  await Promise.all(later.map((k, i) => add(first, k, `later-${i}`)));
  for (const k of later.slice(10)) await first.accept({ action: DelayAction.CANCEL, key: k, topic: 'user', body: Buffer.alloc(0), tags: undefined, properties: undefined });
  assert.deepEqual(delivered.map((m) => m.key!.split('-').slice(0, 7).join('-')), [
    `${NOW_S}-3-${NOW_S + 172_800n}-5-0-10-0`,
    `${NOW_S + 10n}-3-${NOW_S + 172_800n}-5-1-10-0`,
  ]);
  await first.idle();
  // one loop, two deliveries, 100 adds and 90 cancels would be 193 lines
  assert.ok(journalLines(dir) <= 50, `journal of ${journalLines(dir)} lines for 11 pending messages`);

  // a restart long after every trigger time: each pending message is delivered, the loop its three
  // remaining times
  nowMs = Number(NOW_S + 5000n) * 1000;
  const again: ProducerMessage[] = [];
  const second = new LocalChronos(dir, (m) => (again.push(m), ResultCode.OK), silentLogger(), { clock: () => nowMs, compactAfterLines: 50 });
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
  await add(new LocalChronos(dir, none, silentLogger(), { clock: () => nowMs }), key(NOW_S + 100n), 'before the crash');
  fs.appendFileSync(path.join(dir, 'journal.jsonl'), '{"op":"add","key":{"timesta'); // the crash
  fs.writeFileSync(path.join(dir, 'journal.jsonl.compacting'), '{"op":"add"'); // and one mid-compaction
  await add(new LocalChronos(dir, none, silentLogger(), { clock: () => nowMs }), key(NOW_S + 100n), 'after the restart');
  assert.equal(fs.existsSync(path.join(dir, 'journal.jsonl.compacting')), false, 'the unfinished compaction is discarded');

  const delivered: string[] = [];
  const third = new LocalChronos(dir, (m) => (delivered.push(m.body!.toString()), ResultCode.OK), silentLogger(), { clock: () => nowMs + 200_000 });
  t.after(() => third.stop());
  third.start();
  await eventually(() => (delivered.length === 2 ? true : undefined), 5000, 'both messages delivered');
  assert.deepEqual(delivered.sort(), ['after the restart', 'before the crash']);
});

/** A local Chronos on a clock the test moves; its deliveries' keys and bodies, in order. */
function chronosAt(t: TestContext, dir: string, startS: bigint, compactAfterLines?: number) {
  const clock = { nowMs: Number(startS) * 1000 };
  const delivered: { key: string; body: string }[] = [];
  const record = (m: ProducerMessage) => (delivered.push({ key: m.key!, body: m.body!.toString() }), ResultCode.OK);
  const chronos = new LocalChronos(dir, record, silentLogger(), { clock: () => clock.nowMs, compactAfterLines });
  t.after(() => chronos.stop());
  chronos.start();
  /**
   * Moves the clock to `s` and waits for the `count`th delivery of `body`, which proves a tick ran
   * at `s`, and for the outcomes to be journaled (a loop's next firing is scheduled only then).
   */
  const reach = async (s: bigint, body: string, count = 1) => {
    clock.nowMs = Number(s) * 1000;
    await eventually(() => (delivered.filter((d) => d.body === body).length >= count ? true : undefined), 5000, `delivery ${count} of ${body}`);
    await chronos.idle();
  };
  return { chronos, delivered, reach, bodies: () => delivered.map((d) => d.body) };
}

const cancelOf = (chronos: LocalChronos, k: DelayKey) =>
  chronos.accept({ action: DelayAction.CANCEL, key: k, topic: 'user', body: Buffer.from('c'), tags: undefined, properties: undefined });

test('two adds with the same uuid and different timestamps are two messages, and both are delivered', { timeout: 30_000 }, async (t) => {
  const { chronos, delivered, reach } = chronosAt(t, tempDir(t), NOW_S);
  const uuid = randomUUID();
  const first = key(NOW_S + 10n, { uuid, times: 0n });
  const second = key(NOW_S + 20n, { uuid, times: 0n });
  await add(chronos, first, 'first');
  await add(chronos, second, 'second');
  await reach(NOW_S + 10n, 'first');
  await reach(NOW_S + 20n, 'second');
  assert.deepEqual(delivered.map((d) => d.key), [formatDelayId(first), formatDelayId(second)]);
});

test('a cancel stops only the message whose id it names, not another with the same uuid', { timeout: 30_000 }, async (t) => {
  const { chronos, reach, bodies } = chronosAt(t, tempDir(t), NOW_S);
  const uuid = randomUUID();
  const doomed = key(NOW_S + 10n, { uuid, times: 0n });
  await add(chronos, doomed, 'doomed');
  await add(chronos, key(NOW_S + 10n, { uuid, times: 0n, expire: NOW_S + 99_999n }), 'same uuid, other id');
  // a well-formed id with that uuid that is no message's id cancels nothing
  await cancelOf(chronos, key(NOW_S + 11n, { uuid, times: 0n }));
  await cancelOf(chronos, doomed);
  await add(chronos, key(NOW_S + 10n, { times: 0n }), 'sentinel');
  await reach(NOW_S + 10n, 'sentinel');
  assert.deepEqual(bodies().sort(), ['same uuid, other id', 'sentinel']);
});

test("a loop is cancelled by any of its firings' ids: a made one stops it now, a later one stops it before that firing", { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const { chronos, delivered, reach } = chronosAt(t, dir, NOW_S, 1);
  const stoppedNow = key(NOW_S, { type: DelayType.LOOP_EXPONENT_DELAY, times: 5n, interval: 2n, expire: NOW_S + 1000n });
  const stoppedLater = key(NOW_S, { type: DelayType.LOOP_DELAY, times: 6n, interval: 10n, expire: NOW_S + 1000n });
  await add(chronos, stoppedNow, 'exponent');
  await add(chronos, stoppedLater, 'loop');
  await reach(NOW_S, 'loop');
  await reach(NOW_S + 2n, 'exponent', 2); // the exponent loop's second firing, 2^1 s after the first
  const exponentKeys = delivered.filter((d) => d.body === 'exponent').map((d) => d.key);
  assert.deepEqual(exponentKeys, [formatDelayId(stoppedNow), formatDelayId(firingKey(stoppedNow, 1n))]);
  await cancelOf(chronos, parseDelayId(exponentKeys[1]!)); // the key of its last delivery
  // the loop's firing 3 (at +30 s) is named before it comes: firings 1 and 2 are still delivered
  await cancelOf(chronos, firingKey(stoppedLater, 3n));
  chronos.stop();
  await chronos.idle();
  const throwaway = key(NOW_S + 500n, { times: 0n });
  await add(chronos, throwaway, 'throwaway');
  await cancelOf(chronos, throwaway);
  await chronos.idle();
  assert.equal(journalLines(dir), 1, 'compacted to the loop that is left');

  // the cancel of a later firing is journaled: a restart (after a compaction) keeps it
  const { chronos: restarted, delivered: after, reach: reachAfter } = chronosAt(t, dir, NOW_S + 10n);
  for (let i = 0; i < 3; i++) await add(restarted, key(NOW_S + 200n + BigInt(i), { times: 0n }), `sentinel ${i}`);
  await reachAfter(NOW_S + 10n, 'loop');
  await reachAfter(NOW_S + 20n, 'loop', 2);
  await reachAfter(NOW_S + 200n, 'sentinel 0');
  await reachAfter(NOW_S + 202n, 'sentinel 2');
  assert.deepEqual(
    after.filter((d) => d.body !== 'exponent' && !d.body.startsWith('sentinel')).map((d) => d.key),
    [1n, 2n].map((n) => formatDelayId(firingKey(stoppedLater, n))),
  );
  assert.equal(after.filter((d) => d.body === 'exponent').length, 0, 'the exponent loop stays stopped');
});

test('a journal written before messages were keyed by id loads as it was written, and takes new lines', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const [u1, u2, u3, u4] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const keyJson = (ts: bigint, uuid: string, type = 2, times = 0, interval = 0) =>
    ({ timestamp: `${ts}`, type, expire: `${ts + 172_800n}`, times: `${times}`, timed: '0', interval: `${interval}`, seq: 0, uuid });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  // as the previous release wrote them: one message per uuid, cancels and deliveries by uuid
  const legacy = [
    { op: 'add', key: keyJson(NOW_S, u1, 3, 3, 10), topic: 'user', body: b64('loop'), properties: { p: 'v' } },
    { op: 'fired', uuid: u1, timed: '1' },
    { op: 'add', key: keyJson(NOW_S + 5n, u2), topic: 'user', body: b64('cancelled') },
    { op: 'cancel', uuid: u2 },
    { op: 'add', key: keyJson(NOW_S + 5n, u3), topic: 'user', body: b64('replaced') },
    { op: 'add', key: keyJson(NOW_S + 6n, u3), topic: 'user', body: b64('replacement'), tags: 'T' },
    { op: 'add', key: keyJson(NOW_S + 1000n, u4, 3, 3, 10), topic: 'user', body: b64('compacted'), fireAt: `${NOW_S + 1010n}`, timed: '1' },
  ];
  fs.writeFileSync(path.join(dir, 'journal.jsonl'), legacy.map((l) => `${JSON.stringify(l)}\n`).join(''));

  const { chronos, delivered, reach } = chronosAt(t, dir, NOW_S + 10n);
  // a line of the new format after the old ones: the compacted loop is cancelled by its next firing's id
  const compacted = parseDelayId(`${NOW_S + 1000n}-3-${NOW_S + 1000n + 172_800n}-3-0-10-0-${u4}`);
  await cancelOf(chronos, firingKey(compacted, 1n));
  const sentinel = key(NOW_S + 1010n, { times: 0n });
  await add(chronos, sentinel, 'sentinel');
  await reach(NOW_S + 10n, 'loop');
  await reach(NOW_S + 1010n, 'sentinel');
  assert.deepEqual(
    delivered.map((d) => [d.body, d.key]),
    [
      // both due at the start, in the order of their trigger times
      ['replacement', `${NOW_S + 6n}-2-${NOW_S + 6n + 172_800n}-0-0-0-0-${u3}`],
      ['loop', `${NOW_S + 10n}-3-${NOW_S + 172_800n}-3-1-10-0-${u1}`],
      ['loop', `${NOW_S + 20n}-3-${NOW_S + 172_800n}-3-2-10-0-${u1}`],
      ['sentinel', formatDelayId(sentinel)],
    ],
  );
});

test('a delivery refused for good drops its message, counted and logged at most once a second per code', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  let nowMs = Number(NOW_S) * 1000;
  const { logger, entries } = capturingLogger();
  const refusedBodies: string[] = [];
  const refuse = (m: ProducerMessage) => (refusedBodies.push(m.body!.toString()), ResultCode.FAIL_ILLEGAL_MSG);
  const chronos = new LocalChronos(dir, refuse, logger, { clock: () => nowMs });
  t.after(() => chronos.stop());
  for (let i = 0; i < 3; i++) await add(chronos, key(NOW_S, { times: 0n }), `now ${i}`);
  await add(chronos, key(NOW_S + 5n, { times: 0n }), 'later');
  chronos.start();
  await eventually(() => (chronos.status().dropped === 3 ? true : undefined), 5000, 'three drops');
  nowMs += 5000;
  await eventually(() => (chronos.status().dropped === 4 ? true : undefined), 5000, 'the fourth drop');
  chronos.stop();
  await chronos.idle();
  assert.deepEqual(chronos.status(), { pending: 0, dropped: 4 });
  const drops = entries.filter((e) => e['msg'] === 'chronos: delivery refused for good; the delay message is dropped');
  assert.deepEqual(
    drops.map((e) => [e['code'], e['dropped'], e['count']]),
    [[ResultCode.FAIL_ILLEGAL_MSG, 1, 1], [ResultCode.FAIL_ILLEGAL_MSG, 4, 3]],
  );

  // dropped for good: a restart does not deliver them again
  const again = new LocalChronos(dir, refuse, silentLogger(), { clock: () => nowMs });
  assert.deepEqual(again.status(), { pending: 0, dropped: 0 });
  assert.deepEqual(refusedBodies.sort(), ['later', 'now 0', 'now 1', 'now 2']);
});

test('while compactions run, adds, cancels and deliveries go on, and every message is delivered with its own body', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const { chronos, delivered, reach } = chronosAt(t, dir, NOW_S, 20);
  const loop = key(NOW_S, { type: DelayType.LOOP_DELAY, times: 3n, interval: 100n, expire: NOW_S + 1000n });
  await add(chronos, loop, 'loop');
  await reach(NOW_S, 'loop'); // in progress: its record is rewritten by compaction
  const kept: string[] = [];
  for (let round = 0; round < 10; round++) {
    const keys = Array.from({ length: 30 }, (_, i) => key(NOW_S + 50n + BigInt(i), { times: 0n }));
    // all at once: compactions start while the rest of the round is being journaled
    await Promise.all(keys.map((k, i) => add(chronos, k, `r${round}-${i}-${'x'.repeat(round * 10 + i)}`)));
    await Promise.all(keys.slice(0, 27).map((k) => cancelOf(chronos, k)));
    kept.push(...[27, 28, 29].map((i) => `r${round}-${i}-${'x'.repeat(round * 10 + i)}`));
  }
  await chronos.idle();
  assert.ok(journalLines(dir) < 100, `${journalLines(dir)} lines for ${chronos.status().pending} pending`);
  await reach(NOW_S + 100n, 'loop', 2);
  for (const body of kept) await reach(NOW_S + 100n, body);
  assert.deepEqual(delivered.map((d) => d.body).filter((b) => b !== 'loop').sort(), [...kept].sort());
  chronos.stop();

  // and a restart from the compacted journal has the loop's last firing only
  const { delivered: after, reach: reachAfter } = chronosAt(t, dir, NOW_S + 200n);
  await reachAfter(NOW_S + 200n, 'loop');
  assert.deepEqual(after.map((d) => d.key), [formatDelayId(firingKey(loop, 2n))]);
});
