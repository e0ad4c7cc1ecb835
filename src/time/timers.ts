/**
 * The clock and timers that time-dependent logic is given rather than reaching for Date.now and
 * setTimeout itself, so that tests can move time by hand (test/helpers/fake-timers.ts).
 */
export interface Timers {
  now(): number;
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  now: Date.now,
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Real time for background work (reconnects, refreshes): a pending timer never keeps the process running. */
export const backgroundTimers: Timers = {
  now: Date.now,
  set: (callback, ms) => setTimeout(callback, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
