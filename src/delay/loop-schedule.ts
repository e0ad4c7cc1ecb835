/**
 * When a delay message fires, as DDMQ's Chronos computes it (InternalKey.nextUniqDelayMsgId).
 * Firing 0 is at the id's timestamp. A type 3 loop fires again every `interval` seconds; firing n of
 * a type 4 loop comes `interval^n` seconds after firing n-1, or a day when that is more than a day
 * or not positive. A loop fires while n < `times` and its firing time is not past `expire`.
 *
 * Each firing has its own id: the message's id with that firing's timestamp and `timed` = n. That is
 * the key the firing is delivered with, and a cancel may name the message by any of them.
 */
import { DelayType } from './delay-check';
import type { DelayKey } from './delay-id';

const ONE_DAY_SECONDS = 86_400n;

/** Seconds from firing n-1 to firing n (n >= 1). */
export function secondsBeforeFiring(key: DelayKey, n: bigint): bigint {
  if (key.type === DelayType.LOOP_DELAY) return key.interval;
  if (key.type === DelayType.LOOP_EXPONENT_DELAY) return exponentStep(key.interval, n);
  return 0n;
}

/** Seconds from firing 0 to firing n. */
export function secondsToFiring(key: DelayKey, n: bigint): bigint {
  if (n <= 0n) return 0n;
  if (key.type === DelayType.LOOP_DELAY) return key.interval * n;
  if (key.type !== DelayType.LOOP_EXPONENT_DELAY) return 0n;
  const base = key.interval;
  if (base <= 0n) return ONE_DAY_SECONDS * n;
  if (base === 1n) return n;
  // below a day for a few firings at most (base >= 2), a day each after them
  let total = 0n;
  let power = base;
  let j = 1n;
  for (; j <= n && power <= ONE_DAY_SECONDS; j++, power *= base) total += power;
  return total + (n - j + 1n) * ONE_DAY_SECONDS;
}

/**
 * The message (its firing 0, the id the proxy answered the add with) that `firing` is a firing of,
 * or undefined when no message has such a firing (a plain delay fires once, with `timed` 0).
 */
export function originOf(firing: DelayKey): DelayKey | undefined {
  if (firing.type !== DelayType.LOOP_DELAY && firing.type !== DelayType.LOOP_EXPONENT_DELAY) {
    return firing.timed === 0n ? firing : undefined;
  }
  return { ...firing, timestamp: firing.timestamp - secondsToFiring(firing, firing.timed), timed: 0n };
}

/** The key of firing n of the message `origin`. */
export function firingKey(origin: DelayKey, n: bigint): DelayKey {
  return { ...origin, timestamp: origin.timestamp + secondsToFiring(origin, n), timed: n };
}

/** The number of the message's last firing (0 for a plain delay). */
export function lastFiring(origin: DelayKey): bigint {
  if (origin.type !== DelayType.LOOP_DELAY && origin.type !== DelayType.LOOP_EXPONENT_DELAY) return 0n;
  const byTimes = origin.times - 1n;
  const budget = origin.expire - origin.timestamp;
  if (byTimes <= 0n || budget <= 0n) return 0n;
  return minBig(byTimes, firingsWithin(origin, budget, byTimes));
}

/** How many firings after firing 0 come within `budget` seconds of it, counting up to `limit`. */
function firingsWithin(key: DelayKey, budget: bigint, limit: bigint): bigint {
  if (key.type === DelayType.LOOP_DELAY) return key.interval > 0n ? budget / key.interval : limit;
  const base = key.interval;
  if (base <= 0n) return budget / ONE_DAY_SECONDS;
  if (base === 1n) return budget;
  let total = 0n;
  let power = base;
  let n = 0n;
  for (; power <= ONE_DAY_SECONDS; power *= base) {
    if (n === limit || total + power > budget) return n;
    total += power;
    n++;
  }
  return n + (budget - total) / ONE_DAY_SECONDS;
}

/** DDMQ's `(long) Math.pow(base, n)`, a day when more than a day or not positive. */
function exponentStep(base: bigint, n: bigint): bigint {
  if (base <= 0n) return ONE_DAY_SECONDS;
  if (base === 1n) return 1n;
  let power = 1n;
  for (let i = 0n; i < n; i++) {
    power *= base;
    if (power > ONE_DAY_SECONDS) return ONE_DAY_SECONDS;
  }
  return power;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
