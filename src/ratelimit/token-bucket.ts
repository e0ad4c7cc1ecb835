/**
 * A token bucket: `rate` tokens per second, holding at most one second's worth, as Guava's
 * SmoothBursty RateLimiter (DDMQ's limiter) does. It starts with one token, not full, so a limit is
 * not exceeded by a burst the moment it is created or rebuilt. Non-blocking.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly rate: number,
    private readonly clock: () => number,
  ) {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`token bucket rate must be a positive number, got ${rate}`);
    this.tokens = Math.min(1, rate);
    this.updatedAt = clock();
  }

  /**
   * Takes `n` tokens if there are that many, or, for a request larger than the bucket holds, once
   * the bucket is full, going into debt as Guava does: a batch bigger than one second's share must
   * not be refused forever.
   */
  tryTake(n: number): boolean {
    this.refill();
    if (this.tokens < Math.min(n, this.rate)) return false;
    this.tokens -= n;
    return true;
  }

  /** Gives back tokens taken for a request that another bucket then refused. */
  refund(n: number): void {
    this.tokens = Math.min(this.rate, this.tokens + n);
  }

  private refill(): void {
    const now = this.clock();
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.updatedAt) * this.rate) / 1000);
      this.updatedAt = now;
    }
  }
}
