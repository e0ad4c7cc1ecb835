/**
 * The clock and timer behind the adapter's endpoint hold-offs and Telemetry reopening, injected so
 * that tests can move time by hand. gRPC deadlines stay on the wall clock: they travel to the server.
 */
export interface AdapterTimers {
  now(): number;
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Real time. A pending reopen is unref'd: it must never be what keeps the process running. */
export const realAdapterTimers: AdapterTimers = {
  now: Date.now,
  set: (callback, ms) => setTimeout(callback, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
