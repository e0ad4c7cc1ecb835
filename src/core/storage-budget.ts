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
 */
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../storage/storage';
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

  constructor(private readonly owner: StorageBudgets) {}

  /** Counts `bytes` as handed when they fit and nothing waits before them. */
  tryTake(bytes: number): boolean {
    if (this.waiters.size > 0 || !this.fits(bytes)) return false;
    this.handed += bytes;
    return true;
  }

  /** `waiter.granted()` is called once its bytes fit, after those of every waiter before it. */
  wait(waiter: BudgetWaiter): void {
    this.waiters.add(waiter);
    this.owner.waiting.add(this);
  }

  /** The waiter leaves the line; those after it may fit now. */
  withdraw(waiter: BudgetWaiter): void {
    if (this.remove(waiter)) this.grant();
  }

  /** Bytes a send has returned. */
  give(bytes: number): void {
    this.handed -= bytes;
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
      this.handed += bytes;
      waiter.granted();
    }
  }

  private remove(waiter: BudgetWaiter): boolean {
    const removed = this.waiters.delete(waiter);
    if (removed && this.waiters.size === 0) this.owner.waiting.delete(this);
    return removed;
  }

  private fits(bytes: number): boolean {
    return this.handed === 0 || this.handed + bytes <= this.owner.limitBytes;
  }
}

/** One budget per storage, of `limitBytes` each; a storage replaced by a configuration change gets its own. */
export class StorageBudgets {
  private readonly budgets = new WeakMap<ClusterStorage, StorageBudget>();
  /** Budgets someone waits for: a larger limit lets them go at once. */
  readonly waiting = new Set<StorageBudget>();

  constructor(private limit: number) {}

  get limitBytes(): number {
    return this.limit;
  }

  of(storage: ClusterStorage): StorageBudget {
    let budget = this.budgets.get(storage);
    if (!budget) this.budgets.set(storage, (budget = new StorageBudget(this)));
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
 * passes on exactly one outcome per message: a storage that breaks its contract (rejects, or
 * returns too few outcomes) still gets every caller answered.
 */
export function handOver(
  budget: StorageBudget,
  storage: ClusterStorage,
  messages: readonly OutgoingMessage[],
  bytes: number,
  done: (outcomes: SendOutcome[]) => void,
): void {
  storage.send(messages).then(
    (outcomes) => {
      budget.give(bytes);
      // too few outcomes, or a gap among them
      let missing: SendOutcome | undefined;
      for (let i = 0; i < messages.length; i++) {
        if (outcomes[i] === undefined) {
          missing ??= { ok: false, error: new StorageError('UNKNOWN', 'the storage gave no outcome for this message', false) };
          outcomes[i] = missing;
        }
      }
      done(outcomes);
    },
    (error: unknown) => {
      budget.give(bytes);
      const failure: SendOutcome = { ok: false, error: new StorageError('UNKNOWN', `storage send failed: ${String(error)}`, false, { cause: error }) };
      done(messages.map(() => failure));
    },
  );
}

/** A send that waits for its budget; withdrawn, it is never sent and `done` is never called. */
export class PendingSend implements BudgetWaiter {
  constructor(
    private readonly budget: StorageBudget,
    private readonly storage: ClusterStorage,
    private readonly messages: readonly OutgoingMessage[],
    readonly bytes: number,
    private readonly done: (outcomes: SendOutcome[]) => void,
  ) {}

  granted(): void {
    handOver(this.budget, this.storage, this.messages, this.bytes, this.done);
  }

  withdraw(): void {
    this.budget.withdraw(this);
  }
}

/**
 * Sends `messages` at once when their bytes fit the storage's budget; otherwise they wait, and the
 * wait is returned so that the caller can withdraw it.
 */
export function sendWithinBudget(
  budget: StorageBudget,
  storage: ClusterStorage,
  messages: readonly OutgoingMessage[],
  done: (outcomes: SendOutcome[]) => void,
): PendingSend | undefined {
  const bytes = bodyBytes(messages);
  if (budget.tryTake(bytes)) {
    handOver(budget, storage, messages, bytes, done);
    return undefined;
  }
  const pending = new PendingSend(budget, storage, messages, bytes, done);
  budget.wait(pending);
  return pending;
}
