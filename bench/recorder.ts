/**
 * What one measured run saw. A call belongs to the measurement when it was issued (for the open
 * loop: scheduled) inside the measured window; calls of the warm-up still count as outstanding, so
 * "unanswered" covers every call of the run.
 */
import { build } from 'hdr-histogram-js';
import type { Outcome } from './frames';

/** Outcome of a call whose connection closed before it was answered: it counts as unanswered. */
export const LOST = 'lost: connection closed';

export interface Measurement {
  calls: number;
  okMessages: number;
  msgsPerSec: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
  /** Answers other than OK, by result code or label. */
  failures: Record<string, number>;
  /** Calls of the whole run (warm-up included) never answered: still outstanding or lost. */
  unanswered: number;
  /** OK messages of the calls issued in each second of the window. */
  okPerSecond: number[];
}

export class Recorder {
  private readonly latencyUs = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  private readonly failures = new Map<string, number>();
  private readonly okPerSecond: number[];
  private calls = 0;
  private okMessages = 0;
  private outstanding = 0;
  private lost = 0;
  private onDrained: (() => void) | undefined;

  readonly windowEnd: number;

  /** The window is [windowStart, windowStart + durationMs) in performance.now() milliseconds. */
  constructor(
    readonly windowStart: number,
    private readonly durationMs: number,
  ) {
    this.windowEnd = windowStart + durationMs;
    this.okPerSecond = new Array<number>(Math.ceil(durationMs / 1000)).fill(0);
  }

  issued(): void {
    this.outstanding++;
  }

  /** Latency runs from `issuedAt` (for the open loop the scheduled time) to now. */
  answered(issuedAt: number, outcome: Outcome, messages: number): void {
    this.outstanding--;
    if (outcome === LOST) this.lost++;
    else if (issuedAt >= this.windowStart && issuedAt < this.windowEnd) {
      this.calls++;
      this.latencyUs.recordValue(Math.max(1, Math.round((performance.now() - issuedAt) * 1000)));
      if (outcome === 0) {
        this.okMessages += messages;
        this.okPerSecond[Math.floor((issuedAt - this.windowStart) / 1000)]! += messages;
      } else {
        const key = String(outcome);
        this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
      }
    }
    if (this.outstanding === 0) this.onDrained?.();
  }

  /** Resolves when every issued call is answered, or after `graceMs`. */
  drained(graceMs: number): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, graceMs);
      this.onDrained = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  result(): Measurement {
    const ms = (percentile: number) => this.latencyUs.getValueAtPercentile(percentile) / 1000;
    return {
      calls: this.calls,
      okMessages: this.okMessages,
      msgsPerSec: this.okMessages / (this.durationMs / 1000),
      latencyMs: { p50: ms(50), p99: ms(99), p999: ms(99.9), max: this.latencyUs.maxValue / 1000 },
      failures: Object.fromEntries(this.failures),
      unanswered: this.outstanding + this.lost,
      okPerSecond: this.okPerSecond,
    };
  }
}
