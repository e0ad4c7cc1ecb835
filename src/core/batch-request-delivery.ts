/**
 * One sendBatchSync request on its way, its messages validated and routed: one send per storage,
 * each within its storage's budget; the messages that failed retriably are resent (only they, on
 * their cluster's current storage) with backoff while the deadline allows. The answer is OK, or the
 * code of the first failed message in request order, or 12 at the deadline. Nothing is sent after
 * the answer: a send still waiting for its budget is withdrawn, and no resend follows.
 */
import type { RetryReason } from '../metrics/proxy-metrics';
import { ResultCode } from '../protocol/result-codes';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../storage/storage';
import type { Timers } from '../time/timers';
import { groupBy } from '../util/group-by';
import { Backoff, type RoutedMessage } from './message-delivery';
import type { PendingSend } from './storage-budget';

/** What a batch request needs from the pipeline that runs it. */
export interface BatchRequestContext {
  readonly timers: Timers;
  /**
   * Sends within the storage's budget; returns the send when it has to wait for it. `retry`: the
   * messages are sent again, for that reason (counted when handed to the storage).
   */
  send(storage: ClusterStorage, messages: readonly OutgoingMessage[], done: (outcomes: SendOutcome[]) => void, retry?: RetryReason): PendingSend | undefined;
  /** The route on its cluster's storage as configured now. */
  current(route: RoutedMessage): RoutedMessage;
  /** The result code of a failed send (and its log line). */
  failed(outcome: Extract<SendOutcome, { ok: false }>): ResultCode;
}

export class BatchRequestDelivery {
  private readonly outcomes: SendOutcome[];
  /** Indices of the messages the current round sends. */
  private pending: number[];
  /** Sends of the current round not returned yet. */
  private outstanding = 0;
  /** Sends of the current round that had to wait for their budget. */
  private readonly waits: PendingSend[] = [];
  private answered = false;
  private deadlineTimer: unknown;
  private resendTimer: unknown;
  /** Made on the first retriable failure. */
  private backoff: Backoff | undefined;

  constructor(
    private readonly context: BatchRequestContext,
    private readonly routes: RoutedMessage[],
    private readonly deadline: number,
    private readonly answer: (code: ResultCode) => void,
  ) {
    this.outcomes = new Array<SendOutcome>(routes.length);
    this.pending = routes.map((_, i) => i);
  }

  start(): void {
    const timers = this.context.timers;
    this.deadlineTimer = timers.set(() => this.finish(ResultCode.FAIL_TIMEOUT), Math.max(0, this.deadline - timers.now()));
    this.sendPending();
  }

  private sendPending(retry?: RetryReason): void {
    const byStorage = groupBy(this.pending, (i) => this.routes[i]!.storage);
    this.outstanding = byStorage.size;
    this.waits.length = 0;
    for (const [storage, indices] of byStorage) {
      const messages = indices.map((i) => this.routes[i]!.outgoing);
      const wait = this.context.send(storage, messages, (results) => this.sent(indices, results), retry);
      if (wait) this.waits.push(wait);
    }
  }

  private sent(indices: readonly number[], results: readonly SendOutcome[]): void {
    if (this.answered) return;
    indices.forEach((index, j) => (this.outcomes[index] = results[j]!));
    if (--this.outstanding > 0) return;
    this.pending = this.pending.filter((i) => {
      const outcome = this.outcomes[i]!;
      return !outcome.ok && outcome.error.retriable;
    });
    const timers = this.context.timers;
    const wait = this.pending.length > 0 ? (this.backoff ??= new Backoff(this.deadline)).next(timers.now()) : undefined;
    if (wait === undefined) {
      this.finish(this.result());
      return;
    }
    this.resendTimer = timers.set(() => {
      this.resendTimer = undefined;
      for (const i of this.pending) this.routes[i] = this.context.current(this.routes[i]!);
      this.sendPending('retriable_failure');
    }, wait);
  }

  private result(): ResultCode {
    for (const outcome of this.outcomes) {
      if (!outcome.ok) return this.context.failed(outcome);
    }
    return ResultCode.OK;
  }

  private finish(code: ResultCode): void {
    if (this.answered) return;
    this.answered = true;
    const timers = this.context.timers;
    timers.clear(this.deadlineTimer);
    if (this.resendTimer !== undefined) timers.clear(this.resendTimer);
    for (const wait of this.waits) wait.withdraw();
    this.answer(code);
  }
}
