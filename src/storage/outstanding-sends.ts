/**
 * The sends a storage has not answered yet, and the one timer that gives up on those out longer
 * than a bound. A timer per send, or a Set of sends stamped with the clock, would cost the hot path
 * several hundred nanoseconds a message (a clock read, an object hash); here a send is stamped with
 * the number of the current tick, and linked at the newer end of a list kept in start order.
 *
 * While sends are out, a timer ticks ten times per bound and gives up on the sends started at
 * least a full bound before: a send is answered after the bound and at most about a tenth of it
 * later (a late timer makes it later still), never earlier. With nothing out, nothing ticks.
 */
import type { Timers } from '../time/timers';

const TICKS_PER_BOUND = 10;

/** A send out at the storage, linked into its OutstandingSends while it is. */
export abstract class OutstandingSend {
  /** The tick during which it started. */
  tick = 0;
  older: OutstandingSend | undefined = undefined;
  newer: OutstandingSend | undefined = undefined;

  /** Out past the bound (it has left the list): answer it now. */
  abstract expire(): void;
}

export class OutstandingSends {
  private oldest: OutstandingSend | undefined;
  private newest: OutstandingSend | undefined;
  private tick = 0;
  private ticking = false;
  private readonly tickMs: number;
  /** Ticks past the one a send started in after which a full bound has passed, wherever in its tick it started. */
  private readonly ticksToExpiry: number;

  constructor(
    private readonly timers: Timers,
    boundMs: number,
  ) {
    this.tickMs = Math.ceil(boundMs / TICKS_PER_BOUND);
    this.ticksToExpiry = Math.ceil(boundMs / this.tickMs) + 1;
  }

  add(send: OutstandingSend): void {
    send.tick = this.tick;
    send.older = this.newest;
    if (this.newest) this.newest.newer = send;
    else this.oldest = send;
    this.newest = send;
    if (!this.ticking) {
      this.ticking = true;
      this.arm();
    }
  }

  /** The send was answered: it leaves the list (once; it must be in it). */
  delete(send: OutstandingSend): void {
    if (send.older) send.older.newer = send.newer;
    else this.oldest = send.newer;
    if (send.newer) send.newer.older = send.older;
    else this.newest = send.older;
    send.older = undefined;
    send.newer = undefined;
  }

  private arm(): void {
    this.timers.set(() => this.advance(), this.tickMs);
  }

  private advance(): void {
    this.tick++;
    const due = this.tick - this.ticksToExpiry;
    for (let send = this.oldest; send && send.tick <= due; send = this.oldest) {
      this.delete(send);
      send.expire();
    }
    if (this.oldest) this.arm();
    else this.ticking = false;
  }
}
