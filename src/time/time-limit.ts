/**
 * A promise raced against a timer whose handle is cleared either way, so that no bounded wait
 * leaves a timer behind to hold the process open.
 */

/** What timeLimit resolves with when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/** `promise`'s outcome (a rejection included), or TIMED_OUT if it has not settled within `ms`. */
export function timeLimit<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(resolve, ms, TIMED_OUT)));
  return Promise.race([promise, timeUp]).finally(() => clearTimeout(timer));
}
