/**
 * How long a request refused by the limiter waits before its one retry (DDMQ ProducerPool,
 * reference section 5.3), from the topic's `limiterFailureRetryInterval`: 0 = no retry, > 0 = that
 * many ms, -1 = min(timeout - 10, 100) ms provided timeout - 10 > 10. undefined = answer 15 now.
 */
export function deferredRetryDelay(limiterFailureRetryInterval: number, timeoutMs: number): number | undefined {
  if (limiterFailureRetryInterval > 0) return limiterFailureRetryInterval;
  if (limiterFailureRetryInterval === 0) return undefined;
  const budget = timeoutMs - 10;
  return budget > 10 ? Math.min(budget, 100) : undefined;
}
