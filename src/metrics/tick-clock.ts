/**
 * A clock for the metrics' latencies that reads the system clock once per run of callbacks, not once
 * per call. The answers of an auto-batch, and every frame of one read, are settled in one run (one
 * I/O callback and the microtasks it causes); they leave in one write (server/coalesce.ts) at its
 * end, so one reading serves all of them. At a few readings per message, performance.now() was most
 * of what metrics cost the hot path (47 ns each on a quiet machine, over 120 ns under load); here a
 * call that finds the run's reading is a field load. The reading is dropped by process.nextTick,
 * which Node runs when the synchronous part of a callback, or a whole drain of the microtask queue
 * (where promises settle, a batch's answers among them), is over: a reading never outlives the run
 * it was taken in.
 */
export function tickClock(read: () => number = () => performance.now()): () => number {
  let reading = 0;
  let fresh = false;
  const expire = () => {
    fresh = false;
  };
  return () => {
    if (!fresh) {
      reading = read();
      fresh = true;
      process.nextTick(expire);
    }
    return reading;
  };
}
