/**
 * One message on its way to its storage, bounded by its caller's deadline (DDMQ's rules:
 * docs/ddmq/pipeline.md), as one object per
 * request: sendSync's hot path runs tens of thousands of times a second, and the chain of promises
 * and closures it took before (an async retry loop inside a deadline race inside the batcher's
 * promise) was a third of the proxy's allocations.
 *
 * - The first attempt goes through the auto-batcher when allowed. A retriable failure is retried
 *   alone, on the cluster's current storage, with backoff, while the deadline allows; a
 *   non-retriable one is answered at once.
 * - With `expiryRetry`, DDMQ's one extra attempt starts EXPIRY_RETRY_MS before the deadline if
 *   nothing has answered yet, so that no answer comes later than the caller's timeout (DDMQ makes
 *   it after). When the first attempt is waiting to retry, the extra attempt is that retry, made
 *   early. When it is out, the extra attempt goes beside it, not cancelling it (a message can be
 *   stored twice, as in DDMQ), and stands for the retry the first attempt would make if it failed
 *   retriably meanwhile.
 * - The first success of either answers OK. A failure answers only once neither attempt can still
 *   store the message: the first attempt's code if it gave up, else the extra attempt's. (DDMQ
 *   answers whichever completes first, so a fast failure of the extra attempt hid the first's
 *   success, and the SDK's retry then stored the message again.)
 * - 12 at the deadline; nothing answers after it, and nothing is sent after the answer: an attempt
 *   still waiting for its batch or for its storage's budget is withdrawn the moment the caller is
 *   answered, so that a stalled broker cannot make the proxy hold messages nobody waits for.
 */
import type { BatchMember } from '../batch/batch-queue';
import type { RetryReason } from '../metrics/proxy-metrics';
import type { Timers } from '../time/timers';
import { ResultCode } from '../protocol/result-codes';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../storage/storage';
import type { ClusterRoute, ServedTopic } from './routing-table';

/** DDMQ's DEFAULT_MQ_SEND_RETRY_TIMEOUT_MS: the budget of the extra attempt before the deadline. */
export const EXPIRY_RETRY_MS = 30;
const FIRST_BACKOFF_MS = 5;
const MAX_BACKOFF_MS = 100;

/** The waits between retries of a failed send: 5 ms doubling to 100 ms, while one ends before the deadline. */
export class Backoff {
  private wait = FIRST_BACKOFF_MS;

  constructor(private readonly deadline: number) {}

  /** The next wait, or undefined when another try would not start before the deadline. */
  next(now: number): number | undefined {
    const wait = this.wait;
    if (now + wait >= this.deadline) return undefined;
    this.wait = Math.min(wait * 2, MAX_BACKOFF_MS);
    return wait;
  }
}

/** A validated message and the cluster it was routed to. */
export interface RoutedMessage {
  readonly topic: ServedTopic;
  readonly cluster: ClusterRoute;
  readonly storage: ClusterStorage;
  readonly outgoing: OutgoingMessage;
}

/** Where an attempt waits before it is sent: a batch queue, or its storage's full budget. */
export interface SendWait {
  /** Takes the attempt out, unsent; nothing happens once it has been sent. */
  withdraw(member: BatchMember): void;
}

/** What a delivery needs from the pipeline that runs it. */
export interface DeliveryContext {
  readonly timers: Timers;
  /**
   * Sends `sink.message` on the route's storage, auto-batched if `batchable` allows; the outcome
   * goes to `sink`. `retry`: an attempt after the first, for that reason (never batched; counted
   * when handed to the storage). Returns where the attempt waits, unless it was sent at once.
   */
  dispatch(route: RoutedMessage, sink: BatchMember, batchable: boolean, retry?: RetryReason): SendWait | undefined;
  /** The route on its cluster's storage as configured now (a configuration change may have replaced it). */
  current(route: RoutedMessage): RoutedMessage;
  /** The result code of a failed send (and its log line). */
  failed(outcome: Extract<SendOutcome, { ok: false }>): ResultCode;
}

/** DDMQ's extra attempt while it is out beside an attempt of the first's. */
interface ExtraAttempt extends BatchMember {
  /** Where it waits to be sent, if it had to. */
  waiting: SendWait | undefined;
  /** The first attempt gave up meanwhile with this failure: the answer if the extra attempt fails too. */
  firstFailure: Extract<SendOutcome, { ok: false }> | undefined;
  /** The first attempt failed retriably meanwhile: the extra attempt stands for its next retry. */
  standsForRetry: boolean;
}

export class MessageDelivery implements BatchMember {
  /** The message is the same on every attempt; only the storage it goes to may change. */
  readonly message: OutgoingMessage;
  private answered = false;
  /** Where the first attempt (or its latest retry) waits to be sent, if it had to. */
  private waiting: SendWait | undefined;
  /** The extra attempt's timer, then the deadline's (one at a time: the hot path makes one per request). */
  private timer: unknown;
  /** The next retry after a retriable failure, while it waits. */
  private retryTimer: unknown;
  /** Made on the first retriable failure: most messages never need one. */
  private backoff: Backoff | undefined;
  /** Made on the expiry path only, while the extra attempt is out beside the first. */
  private extra: ExtraAttempt | undefined;

  constructor(
    private readonly context: DeliveryContext,
    private route: RoutedMessage,
    readonly deadline: number,
    private readonly expiryRetry: boolean,
    private readonly answer: (code: ResultCode) => void,
  ) {
    this.message = route.outgoing;
  }

  start(batchable: boolean): void {
    const timers = this.context.timers;
    this.timer = this.expiryRetry
      ? timers.set(() => this.retryBeforeExpiry(), Math.max(0, this.deadline - EXPIRY_RETRY_MS - timers.now()))
      : timers.set(() => this.finish(ResultCode.FAIL_TIMEOUT), Math.max(0, this.deadline - timers.now()));
    this.waiting = this.context.dispatch(this.route, this, batchable);
  }

  /** The outcome of the first attempt or of one of its retries. */
  resolve(outcome: SendOutcome): void {
    if (this.answered) return;
    if (outcome.ok) {
      this.finish(ResultCode.OK);
      return;
    }
    const timers = this.context.timers;
    const wait = outcome.error.retriable ? (this.backoff ??= new Backoff(this.deadline)).next(timers.now()) : undefined;
    const extra = this.extra;
    if (wait === undefined) {
      if (extra) extra.firstFailure = outcome;
      else this.finish(this.context.failed(outcome));
    } else if (extra) {
      extra.standsForRetry = true;
    } else {
      this.retryTimer = timers.set(() => {
        this.retryTimer = undefined;
        this.retry();
      }, wait);
    }
  }

  /** A resend after a retriable failure, also when the deadline makes it early: it is no attempt beside another. */
  private retry(): void {
    this.route = this.context.current(this.route);
    this.waiting = this.context.dispatch(this.route, this, false, 'retriable_failure');
  }

  private retryBeforeExpiry(): void {
    const timers = this.context.timers;
    this.timer = timers.set(() => this.finish(ResultCode.FAIL_TIMEOUT), Math.max(0, this.deadline - timers.now()));
    if (this.retryTimer !== undefined) {
      // the first attempt waits to retry: the extra attempt is that retry, made now
      timers.clear(this.retryTimer);
      this.retryTimer = undefined;
      this.retry();
      return;
    }
    const route = this.context.current(this.route);
    const extra: ExtraAttempt = {
      message: route.outgoing,
      deadline: this.deadline,
      resolve: (outcome) => this.resolveExtra(outcome),
      waiting: undefined,
      firstFailure: undefined,
      standsForRetry: false,
    };
    this.extra = extra;
    extra.waiting = this.context.dispatch(route, extra, false, 'deadline_attempt');
  }

  /** The extra attempt's outcome: it answers, or hands over to the first attempt. */
  private resolveExtra(outcome: SendOutcome): void {
    const extra = this.extra;
    if (this.answered || !extra) return;
    this.extra = undefined;
    if (outcome.ok) this.finish(ResultCode.OK);
    // as the first attempt's retry, its failure goes on with the first attempt's backoff
    else if (extra.standsForRetry) this.resolve(outcome);
    else if (extra.firstFailure) this.finish(this.context.failed(extra.firstFailure));
    // otherwise the first attempt is still out, and its outcome decides
  }

  private finish(code: ResultCode): void {
    if (this.answered) return;
    this.answered = true;
    this.context.timers.clear(this.timer);
    if (this.retryTimer !== undefined) this.context.timers.clear(this.retryTimer);
    this.waiting?.withdraw(this);
    const extra = this.extra;
    extra?.waiting?.withdraw(extra);
    this.answer(code);
  }
}
