/**
 * How long a request refused by the limiter waits before its one retry (DDMQ's ProducerPool; docs/ddmq/rate-limit.md), from
 * the topic's `limiterFailureRetryInterval`: 0 = no retry, -1 = min(timeout - 10, 100) ms provided
 * timeout - 10 > 10, anything else = that many ms (none when negative: DDMQ's scheduler runs a
 * negative delay at once). undefined = answer 15 now.
 */
export function deferredRetryDelay(limiterFailureRetryInterval: number, timeoutMs: number): number | undefined {
  if (limiterFailureRetryInterval === 0) return undefined;
  if (limiterFailureRetryInterval !== -1) return Math.max(limiterFailureRetryInterval, 0);
  const budget = timeoutMs - 10;
  return budget > 10 ? Math.min(budget, 100) : undefined;
}
