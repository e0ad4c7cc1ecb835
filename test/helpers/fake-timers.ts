/** A manual clock for timing logic: time moves only when the test says, timers fire in order. */
import type { Timers } from '../../src/time/timers';

interface Pending {
  at: number;
  seq: number;
  callback: () => void;
}

export class FakeTimers implements Timers {
  private time = 1_000_000;
  private seq = 0;
  private pending: Pending[] = [];

  now = (): number => this.time;

  set = (callback: () => void, ms: number): unknown => {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, callback };
    this.pending.push(timer);
    return timer;
  };

  clear = (handle: unknown): void => {
    this.pending = this.pending.filter((p) => p !== handle);
  };

  /** Timers set and not yet fired or cleared: a loop that re-arms after async work has done so when this is back up. */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting promise chains settle between them. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      await settle();
      const next = this.pending.filter((p) => p.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.time = next.at;
      next.callback();
    }
    this.time = target;
    await settle();
  }
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}
