/**
 * The firing arithmetic in closed form agrees with stepping through the firings one at a time, as
 * DDMQ's Chronos does (InternalKey.nextUniqDelayMsgId, KeyUtils.isInvalidMsg).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DelayType } from '../../src/delay/delay-check';
import type { DelayKey } from '../../src/delay/delay-id';
import { firingKey, lastFiring, originOf, secondsBeforeFiring, secondsToFiring } from '../../src/delay/loop-schedule';

const T0 = 1_763_800_000n;
const loop = (type: number, interval: bigint, times: bigint, expire: bigint): DelayKey =>
  ({ timestamp: T0, type, expire: T0 + expire, times, timed: 0n, interval, seq: 1, uuid: '14f22520-ad72-11e7-91be-6ee54da579e3' });

/** The firings Chronos makes, stepping: one more while `timed < times` and not past `expire`. */
function stepped(origin: DelayKey): DelayKey[] {
  const firings = [origin];
  for (;;) {
    const last = firings.at(-1)!;
    if (origin.type === DelayType.DELAY) return firings;
    const timed = last.timed + 1n;
    const next = { ...last, timed, timestamp: last.timestamp + secondsBeforeFiring(origin, timed) };
    if (next.timed >= origin.times || next.timestamp > origin.expire) return firings;
    firings.push(next);
  }
}

test('an exponent loop waits interval^n seconds before firing n, a day once that is more than a day', () => {
  const k = loop(DelayType.LOOP_EXPONENT_DELAY, 10n, 10n, 1_000_000n);
  assert.deepEqual([1n, 2n, 3n, 4n, 5n, 6n].map((n) => secondsBeforeFiring(k, n)), [10n, 100n, 1000n, 10_000n, 86_400n, 86_400n]);
  assert.equal(secondsBeforeFiring(loop(DelayType.LOOP_DELAY, 7n, 3n, 100n), 2n), 7n);
});

test('firing times, origins and last firings in closed form match stepping through the loop', () => {
  const shapes: DelayKey[] = [loop(DelayType.DELAY, 0n, 0n, 172_800n)];
  for (const interval of [2n, 3n, 7n, 60n, 294n, 86_400n, 100_000n]) {
    for (const times of [1n, 2n, 5n, 40n]) {
      for (const expire of [1n, 59n, 3600n, 400_000n, 5_000_000n]) {
        shapes.push(loop(DelayType.LOOP_DELAY, interval, times, expire), loop(DelayType.LOOP_EXPONENT_DELAY, interval, times, expire));
      }
    }
  }
  for (const origin of shapes) {
    const firings = stepped(origin);
    const what = JSON.stringify(origin, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    assert.equal(lastFiring(origin), BigInt(firings.length - 1), `last firing of ${what}`);
    for (const firing of firings) {
      assert.deepEqual(firingKey(origin, firing.timed), firing, `firing ${firing.timed} of ${what}`);
      assert.equal(secondsToFiring(origin, firing.timed), firing.timestamp - origin.timestamp);
      assert.deepEqual(originOf(firing), origin, `origin of firing ${firing.timed} of ${what}`);
    }
  }
});

test('a plain delay has one firing: an id of it with another timed is no firing of any message', () => {
  const delay = loop(DelayType.DELAY, 0n, 0n, 172_800n);
  assert.deepEqual(originOf(delay), delay);
  assert.equal(originOf({ ...delay, timed: 1n }), undefined);
});
