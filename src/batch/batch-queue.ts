/**
 * Coalesces single messages bound for one (cluster, topic) into multi-message storage sends.
 *
 * A batch goes out when it is full (`maxMessages` or `maxBytes`), when its first message has waited
 * `lingerMs`, or when its most urgent member would otherwise miss its deadline (it is sent
 * `urgencyMarginMs` before that deadline at the latest). At most `maxInFlight` batches are out at
 * once; while they are, arrivals accumulate, which is what makes batches grow under load even with
 * no linger at all, and a batch goes only when its bytes fit the storage's budget
 * (core/storage-budget.ts), waiting in the queue until they do. Each caller gets the outcome of its
 * own message; a member whose caller is answered before its batch goes (12 at its deadline) is
 * withdrawn at once, and never sent. How long each batch waited to go (from its first member's
 * arrival, or from the previous batch's departure for members that arrived meanwhile) is its
 * cluster's linger histogram.
 */
import { handOver, type BudgetWaiter, type StorageBudget } from '../core/storage-budget';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../storage/storage';
import { StorageError } from '../storage/storage';
import type { Timers } from '../time/timers';

export interface BatchSettings {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly lingerMs: number;
  readonly maxInFlight: number;
  /** Time a batch is given to reach the broker before its most urgent member's deadline. */
  readonly urgencyMarginMs: number;
}

/** A message waiting for its batch, and where its outcome goes (once). */
export interface BatchMember {
  readonly message: OutgoingMessage;
  readonly deadline: number;
  readonly resolve: (outcome: SendOutcome) => void;
}

const expired: SendOutcome = { ok: false, error: new StorageError('TIMEOUT', 'the deadline passed while the message waited for its batch', false) };

export class BatchQueue implements BudgetWaiter {
  /** In arrival order; a Set, so that a member withdrawn by its answered caller leaves in O(1). */
  private readonly queue = new Set<BatchMember>();
  private queuedBytes = 0;
  private firstQueuedAt = 0;
  private inFlight = 0;
  /** The next batch waits for bytes of the storage's budget. */
  private waitingForBudget = false;
  private timer: unknown;
  private timerAt = Infinity;

  constructor(
    private readonly storage: ClusterStorage,
    private readonly budget: StorageBudget,
    private settings: BatchSettings,
    private readonly timers: Timers,
    /** Called when the queue is empty with nothing in flight, so its owner can drop it. */
    private readonly onIdle: () => void = () => undefined,
  ) {}

  /**
   * New settings for the batches formed from now on: a smaller maxMessages or maxBytes cuts the
   * next one, a changed lingerMs moves the send of the messages waiting (still counted from the
   * first one's arrival), and with a smaller maxInFlight the batches out finish, the next going
   * once fewer than the new bound are out.
   */
  configure(settings: BatchSettings): void {
    this.settings = settings;
    // the armed timer was for the old linger
    this.disarm();
    this.pump();
  }

  enqueue(member: BatchMember): void {
    if (this.queue.size === 0) this.firstQueuedAt = this.timers.now();
    this.queue.add(member);
    this.queuedBytes += member.message.body.length;
    this.pump();
  }

  /**
   * Takes a member out before it is sent (its caller was answered): it must neither be sent later
   * nor hold its bytes while a stalled broker keeps the batch in flight from returning. Once its
   * batch has gone, this does nothing.
   */
  withdraw(member: BatchMember): void {
    if (!this.queue.delete(member)) return;
    this.queuedBytes -= member.message.body.length;
    if (this.queue.size > 0) {
      // a smaller next batch may fit the budget now
      if (this.waitingForBudget) this.budget.grant();
      return;
    }
    this.disarm();
    if (this.waitingForBudget) {
      this.waitingForBudget = false;
      this.budget.withdraw(this);
    }
    if (this.inFlight === 0) this.onIdle();
  }

  /** Body bytes of the batch that would go now: the budget reads them when the queue's turn comes. */
  get bytes(): number {
    return this.nextBatch().bytes;
  }

  granted(): void {
    this.waitingForBudget = false;
    const { count, bytes } = this.nextBatch();
    this.sendBatch(count, bytes);
    this.pump();
  }

  /** Sends what is due, as long as a batch may go out; otherwise arms the timer for the next due time. */
  private pump(): void {
    while (this.queue.size > 0 && this.inFlight < this.settings.maxInFlight && !this.waitingForBudget) {
      const dueAt = this.dueAt();
      if (dueAt > this.timers.now()) {
        this.arm(dueAt);
        return;
      }
      const { count, bytes } = this.nextBatch();
      if (!this.budget.tryTake(bytes)) {
        this.waitingForBudget = true;
        this.budget.wait(this);
        return;
      }
      this.sendBatch(count, bytes);
    }
    if (this.queue.size === 0) this.disarm();
  }

  /** When the head batch must go: now if it is full, else at linger or urgency, whichever is first. */
  private dueAt(): number {
    if (this.queue.size >= this.settings.maxMessages || this.queuedBytes >= this.settings.maxBytes) return -Infinity;
    let due = this.firstQueuedAt + this.settings.lingerMs;
    let i = 0;
    for (const member of this.queue) {
      if (i++ === this.settings.maxMessages) break;
      due = Math.min(due, member.deadline - this.settings.urgencyMarginMs);
    }
    return due;
  }

  /** The members at the head that the next batch takes, and their bytes. */
  private nextBatch(): { count: number; bytes: number } {
    let bytes = 0;
    let count = 0;
    for (const member of this.queue) {
      const size = member.message.body.length;
      if (count === this.settings.maxMessages) break;
      // a batch holds at least one message, however large
      if (count > 0 && bytes + size > this.settings.maxBytes) break;
      bytes += size;
      count++;
    }
    return { count, bytes };
  }

  /**
   * Sends the first `count` members, whose `bytes` the budget has counted. A member whose deadline
   * has passed (its caller is being answered 12) is answered, not sent, and its bytes go back.
   */
  private sendBatch(count: number, bytes: number): void {
    const now = this.timers.now();
    const batch: BatchMember[] = [];
    const late: BatchMember[] = [];
    for (const member of this.queue) {
      if (batch.length + late.length === count) break;
      this.queue.delete(member);
      (member.deadline > now ? batch : late).push(member);
    }
    this.queuedBytes -= bytes;
    const lingeredMs = now - this.firstQueuedAt;
    if (this.queue.size > 0) this.firstQueuedAt = now;
    if (late.length > 0) {
      const lateBytes = late.reduce((sum, m) => sum + m.message.body.length, 0);
      this.budget.give(lateBytes);
      bytes -= lateBytes;
      for (const member of late) member.resolve(expired);
    }
    if (batch.length === 0) {
      // every member was late: nothing is out for this queue, which may be empty now
      if (this.queue.size === 0 && this.inFlight === 0) this.onIdle();
      return;
    }
    this.budget.metrics.batchLinger.observe(lingeredMs / 1000);
    this.inFlight++;
    handOver(this.budget, this.storage, batch.map((m) => m.message), bytes, (outcomes) => {
      this.inFlight--;
      try {
        batch.forEach((member, i) => member.resolve(outcomes[i]!));
      } finally {
        // whatever a member does with its outcome, the queue goes on
        this.pump();
        if (this.queue.size === 0 && this.inFlight === 0) this.onIdle();
      }
    });
  }
  private arm(at: number): void {
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.disarm();
    this.timerAt = at;
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.pump();
    }, Math.max(0, at - this.timers.now()));
  }

  private disarm(): void {
    if (this.timer === undefined) return;
    this.timers.clear(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
