/**
 * A budget of bytes per storage: the body bytes handed to it (storage.send called) whose send has
 * not returned yet. The server's in-flight budget counts requests until they are answered, but a
 * caller answered 12 leaves its message with the storage, whose broker client holds it until the
 * broker answers or the client gives up (kafkajs: its request timeout, on every retry). A broker that
 * accepts connections and never answers would collect every message sent meanwhile; with this
 * budget, a send that does not fit waits, unsent, until bytes return, and one whose caller is
 * answered meanwhile is withdrawn and never sent.
 *
 * Waiters go in arrival order. A send larger than the whole budget goes when nothing else is out,
 * so every message can be sent.
 *
 * Every storage send goes through handOver here (single messages, auto-batches, retries, extra
 * attempts), so this is where each one is counted, once: its messages and bytes, its messages
 * sent again (a retry or extra attempt is counted only once handed over, not while it waits for
 * budget, from which it may be withdrawn), its write latency, its messages stored or failed by
 * code, into the children of its storage's cluster resolved when the storage's budget is made.
 * With metrics off a send counts nothing and reads no clock.
 */
import { METRICS_OFF, type ClusterMetrics, type ProxyMetrics, type RetryReason } from '../metrics/proxy-metrics';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../storage/storage';
import { isWellFormedOutcome } from '../storage/outcome-check';
import { StorageError } from '../storage/storage';

/** A send waiting for bytes of its storage's budget. */
export interface BudgetWaiter {
  /** Body bytes it hands to the storage, read when its turn comes. */
  readonly bytes: number;
  /** Its bytes are counted: it hands them to the storage now. */
  granted(): void;
}

export class StorageBudget {
  private handed = 0;
  /** In arrival order; a Set, so that a withdrawn waiter leaves in O(1). */
  private readonly waiters = new Set<BudgetWaiter>();

  constructor(
    private readonly owner: StorageBudgets,
    /** The children of the storage's cluster, which its sends count into. */
    readonly metrics: ClusterMetrics,
  ) {}

  /** Milliseconds, for write latencies. */
  get clock(): () => number {
    return this.owner.clock;
  }

  /** Whether its sends are counted (metrics on). */
  get counting(): boolean {
    return this.owner.counting;
  }

  /** Counts `bytes` as handed when they fit and nothing waits before them. */
  tryTake(bytes: number): boolean {
    if (this.waiters.size > 0 || !this.fits(bytes)) return false;
    this.take(bytes);
    return true;
  }

  /** `waiter.granted()` is called once its bytes fit, after those of every waiter before it. */
  wait(waiter: BudgetWaiter): void {
    this.waiters.add(waiter);
    this.owner.waiting.add(this);
    this.metrics.budgetWaiting.inc();
    this.metrics.budgetWaits.inc();
  }

  /** The waiter leaves the line; those after it may fit now. */
  withdraw(waiter: BudgetWaiter): void {
    if (this.remove(waiter)) this.grant();
  }

  /** Bytes a send has returned. */
  give(bytes: number): void {
    this.handed -= bytes;
    this.metrics.inFlightBytes.dec(bytes);
    this.grant();
  }

  /**
   * Lets waiters go, in order, while the first of them fits; also when a waiter's bytes have
   * shrunk (a batch member withdrawn).
   */
  grant(): void {
    for (const waiter of this.waiters) {
      const bytes = waiter.bytes;
      if (!this.fits(bytes)) return;
      this.remove(waiter);
      this.take(bytes);
      waiter.granted();
    }
  }

  private remove(waiter: BudgetWaiter): boolean {
    const removed = this.waiters.delete(waiter);
    if (!removed) return false;
    this.metrics.budgetWaiting.dec();
    if (this.waiters.size === 0) this.owner.waiting.delete(this);
    return true;
  }

  private take(bytes: number): void {
    this.handed += bytes;
    this.metrics.inFlightBytes.inc(bytes);
  }

  private fits(bytes: number): boolean {
    return this.handed === 0 || this.handed + bytes <= this.owner.limitBytes;
  }
}

export interface BudgetOptions {
  /** Where sends are counted (default: nowhere). */
  readonly metrics?: ProxyMetrics;
  /** Milliseconds, for write latencies (default: performance.now; none read with metrics off). */
  readonly clock?: () => number;
}

/** One budget per storage, of `limitBytes` each; a storage replaced by a configuration change gets its own. */
export class StorageBudgets {
  private readonly budgets = new WeakMap<ClusterStorage, StorageBudget>();
  /** Budgets someone waits for: a larger limit lets them go at once. */
  readonly waiting = new Set<StorageBudget>();
  private readonly metrics: ProxyMetrics;
  readonly clock: () => number;
  readonly counting: boolean;

  constructor(
    private limit: number,
    { metrics = METRICS_OFF, clock = () => performance.now() }: BudgetOptions = {},
  ) {
    this.metrics = metrics;
    this.counting = metrics.enabled;
    this.clock = clock;
    metrics.storageInFlightLimit.sample(() => this.limit);
  }

  get limitBytes(): number {
    return this.limit;
  }

  of(storage: ClusterStorage): StorageBudget {
    let budget = this.budgets.get(storage);
    if (!budget) this.budgets.set(storage, (budget = new StorageBudget(this, this.metrics.cluster(storage.cluster))));
    return budget;
  }

  /** A new limit applies at once: to the sends waiting, and to every send from now on. */
  configure(limitBytes: number): void {
    this.limit = limitBytes;
    for (const budget of [...this.waiting]) budget.grant();
  }
}

/** Body bytes of a send. */
export function bodyBytes(messages: readonly OutgoingMessage[]): number {
  let bytes = 0;
  for (const m of messages) bytes += m.body.length;
  return bytes;
}

/**
 * Sends messages whose `bytes` the budget has counted, gives them back when the send returns, and
 * passes on exactly one well-formed outcome per message, always after this call returns: a storage
 * that breaks its contract (throws, rejects, resolves with no array, too few outcomes or malformed
 * ones) still gets every caller answered, and its bytes and batch slot back. `retry`: the messages
 * are sent again, for that reason.
 */
export function handOver(
  budget: StorageBudget,
  storage: ClusterStorage,
  messages: readonly OutgoingMessage[],
  bytes: number,
  done: (outcomes: SendOutcome[]) => void,
  retry?: RetryReason,
): void {
  const metrics = budget.metrics;
  const counting = budget.counting;
  let began = 0;
  if (counting) {
    metrics.batchMessages.observe(messages.length);
    metrics.batchBytes.observe(bytes);
    if (retry !== undefined) metrics.retries(retry).inc(messages.length);
    began = budget.clock();
  }
  let sent: Promise<unknown>;
  try {
    sent = Promise.resolve(storage.send(messages));
  } catch (error) {
    sent = Promise.reject(error);
  }
  sent.then(
    (outcomes) => {
      budget.give(bytes);
      const each = oneOutcomeEach(outcomes, messages.length);
      if (counting) countOutcomes(metrics, each, budget.clock() - began);
      done(each);
    },
    (error: unknown) => {
      budget.give(bytes);
      const failure: SendOutcome = { ok: false, error: new StorageError('UNKNOWN', `storage send failed: ${String(error)}`, false, { cause: error }) };
      const each = messages.map(() => failure);
      if (counting) countOutcomes(metrics, each, budget.clock() - began);
      done(each);
    },
  );
}

/** A returned send's latency, its messages stored and those failed by code. */
function countOutcomes(metrics: ClusterMetrics, outcomes: readonly SendOutcome[], ms: number): void {
  metrics.writeDuration.observe(ms / 1000);
  let stored = 0;
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = outcomes[i]!;
    if (outcome.ok) stored++;
    else metrics.errors(outcome.error.code).inc();
  }
  if (stored > 0) metrics.messagesStored.inc(stored);
}

/** The storage's outcomes when each of the `count` messages has a well-formed one; otherwise a copy where the rest are UNKNOWN. */
function oneOutcomeEach(outcomes: unknown, count: number): SendOutcome[] {
  const list: readonly unknown[] = Array.isArray(outcomes) ? outcomes : [];
  let i = 0;
  while (i < count && isWellFormedOutcome(list[i])) i++;
  if (i === count) return list as SendOutcome[];
  const unusable: SendOutcome = { ok: false, error: new StorageError('UNKNOWN', 'the storage gave no usable outcome for this message', false) };
  return Array.from({ length: count }, (_, j) => (isWellFormedOutcome(list[j]) ? list[j] : unusable));
}

/** A send that waits for its budget; withdrawn, it is never sent and `done` is never called. */
export class PendingSend implements BudgetWaiter {
  constructor(
    private readonly budget: StorageBudget,
    private readonly storage: ClusterStorage,
    private readonly messages: readonly OutgoingMessage[],
    readonly bytes: number,
    private readonly done: (outcomes: SendOutcome[]) => void,
    private readonly retry: RetryReason | undefined,
  ) {}

  granted(): void {
    handOver(this.budget, this.storage, this.messages, this.bytes, this.done, this.retry);
  }

  withdraw(): void {
    this.budget.withdraw(this);
  }
}

/**
 * Sends `messages` at once when their bytes fit the storage's budget; otherwise they wait, and the
 * wait is returned so that the caller can withdraw it. `retry`: they are sent again, for that reason.
 */
export function sendWithinBudget(
  budget: StorageBudget,
  storage: ClusterStorage,
  messages: readonly OutgoingMessage[],
  done: (outcomes: SendOutcome[]) => void,
  retry?: RetryReason,
): PendingSend | undefined {
  const bytes = bodyBytes(messages);
  if (budget.tryTake(bytes)) {
    handOver(budget, storage, messages, bytes, done, retry);
    return undefined;
  }
  const pending = new PendingSend(budget, storage, messages, bytes, done, retry);
  budget.wait(pending);
  return pending;
}
