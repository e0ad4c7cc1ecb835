/**
 * Coalesces single messages bound for one (cluster, topic) into multi-message storage sends.
 *
 * A batch goes out when it is full (`maxMessages` or `maxBytes`), when its first message has waited
 * `lingerMs`, or when its most urgent member would otherwise miss its deadline (it is sent
 * `urgencyMarginMs` before that deadline at the latest). At most `maxInFlight` batches are out at
 * once; while they are, arrivals accumulate, which is what makes batches grow under load even with
 * no linger at all. Each caller gets the outcome of its own message.
 */
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

/** For a storage that breaks its one-outcome-per-message contract. */
const missingOutcome: SendOutcome = { ok: false, error: new StorageError('UNKNOWN', 'the storage gave no outcome for this message', false) };

export class BatchQueue {
  private queue: BatchMember[] = [];
  private queuedBytes = 0;
  private firstQueuedAt = 0;
  private inFlight = 0;
  private timer: unknown;
  private timerAt = Infinity;

  constructor(
    private readonly storage: ClusterStorage,
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
    if (this.queue.length === 0) this.firstQueuedAt = this.timers.now();
    this.queue.push(member);
    this.queuedBytes += member.message.body.length;
    this.pump();
  }

  /** Sends what is due, as long as a batch may go out; otherwise arms the timer for the next due time. */
  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.settings.maxInFlight) {
      const dueAt = this.dueAt();
      if (dueAt > this.timers.now()) {
        this.arm(dueAt);
        return;
      }
      this.sendBatch(this.takeBatch());
    }
    if (this.queue.length === 0) this.disarm();
  }

  /** When the head batch must go: now if it is full, else at linger or urgency, whichever is first. */
  private dueAt(): number {
    if (this.queue.length >= this.settings.maxMessages || this.queuedBytes >= this.settings.maxBytes) return -Infinity;
    let due = this.firstQueuedAt + this.settings.lingerMs;
    const limit = Math.min(this.queue.length, this.settings.maxMessages);
    for (let i = 0; i < limit; i++) due = Math.min(due, this.queue[i]!.deadline - this.settings.urgencyMarginMs);
    return due;
  }

  private takeBatch(): BatchMember[] {
    this.dropExpired();
    let bytes = 0;
    let count = 0;
    while (count < this.queue.length && count < this.settings.maxMessages) {
      const size = this.queue[count]!.message.body.length;
      // a batch holds at least one message, however large
      if (count > 0 && bytes + size > this.settings.maxBytes) break;
      bytes += size;
      count++;
    }
    const batch = this.queue.splice(0, count);
    this.queuedBytes -= bytes;
    if (this.queue.length > 0) this.firstQueuedAt = this.timers.now();
    return batch;
  }

  /**
   * Members whose caller has been answered 12 already are not sent: their SDK has retried by now,
   * and keeping them would let the queue grow past every memory bound while a broker stalls.
   */
  private dropExpired(): void {
    const now = this.timers.now();
    if (!this.queue.some((m) => m.deadline <= now)) return;
    const expired = new StorageError('TIMEOUT', 'the deadline passed while the message waited for its batch', false);
    this.queue = this.queue.filter((m) => {
      if (m.deadline > now) return true;
      this.queuedBytes -= m.message.body.length;
      m.resolve({ ok: false, error: expired });
      return false;
    });
  }

  private sendBatch(batch: BatchMember[]): void {
    if (batch.length === 0) return;
    this.inFlight++;
    this.storage
      .send(batch.map((m) => m.message))
      .catch((error: unknown) => {
        // the contract says send never rejects; a bug must still answer every caller
        const failure = new StorageError('UNKNOWN', `batch send failed: ${String(error)}`, false, { cause: error });
        return batch.map((): SendOutcome => ({ ok: false, error: failure }));
      })
      .then((outcomes) => {
        this.inFlight--;
        try {
          batch.forEach((member, i) => member.resolve(outcomes[i] ?? missingOutcome));
        } finally {
          // whatever a member does with its outcome, the queue goes on
          this.pump();
          if (this.queue.length === 0 && this.inFlight === 0) this.onIdle();
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
