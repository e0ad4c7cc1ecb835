/**
 * Bounded concurrency and cooperative loops, for work over many items (every topic of a
 * configuration) that must neither flood a peer with requests at once nor hold the event loop
 * while other clients wait for answers.
 */

/**
 * `task(item)` for every item with at most `limit` running at once; resolves with the results in
 * item order. On the first failure no further task starts, and the promise rejects with it once
 * the running ones have settled.
 */
export async function mapConcurrently<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failure) {
      const index = next++;
      try {
        results[index] = await task(items[index]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}

/** Resolves after the event loop has run what was waiting (I/O callbacks included). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `step(item)` for every item, yielding to the event loop after every `chunk` items. */
export async function forEachInChunks<T>(items: Iterable<T>, chunk: number, step: (item: T) => void): Promise<void> {
  let done = 0;
  for (const item of items) {
    step(item);
    if (++done % chunk === 0) await yieldToEventLoop();
  }
}
