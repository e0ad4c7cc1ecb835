/**
 * The host's enforcement of the storage contract (storage.ts): a storage wrapped so that a faulty
 * plugin cannot hurt the proxy. Whatever the plugin's methods do (throw, reject, never settle,
 * resolve with anything), the wrapped storage keeps the contract: send resolves with one
 * well-formed outcome per message within its bound, start rejects within its bound, close and
 * warmUp resolve within theirs. Each violation is logged, at most one line a second per kind,
 * naming the plugin.
 *
 * A well-behaved send costs the outcome check and the promise that can be answered at the bound;
 * the bounds of all sends share one timer (outstanding-sends.ts), and a send is answered TIMEOUT
 * at most about a tenth of sendTimeoutMs after it.
 */
import { ThrottledWarning, errorMessage } from '../throttled-warning';
import type { StorageLogger as Logger } from './plugin-api';
import { backgroundTimers, type Timers } from '../time/timers';
import { checkOutcomes, type OutcomeViolation } from './outcome-check';
import { OutstandingSend, OutstandingSends } from './outstanding-sends';
import type { ClusterStorage, OutgoingMessage, SendOutcome, StorageErrorCode } from './storage';

export interface GuardOptions {
  /** The plugin as log lines and errors name it: kind, version and where it was loaded from. */
  readonly plugin: string;
  readonly logger: Logger;
  /** Default: background timers, so that no bound keeps the process running. */
  readonly timers?: Timers;
  /** Past it, a send's messages are answered TIMEOUT; also the bound of warmUp. */
  readonly sendTimeoutMs: number;
  /** Past it, start rejects. */
  readonly startTimeoutMs: number;
  /** Past it, close resolves, whatever the storage still does. */
  readonly closeTimeoutMs: number;
}

type Violation =
  | OutcomeViolation
  | 'send threw'
  | 'send returned no promise'
  | 'send rejected'
  | 'send timed out'
  | 'start threw'
  | 'start timed out'
  | 'warmUp threw'
  | 'warmUp rejected'
  | 'warmUp timed out'
  | 'close threw'
  | 'close rejected'
  | 'close timed out'
  | 'illegalMessageReason threw'
  | 'illegalMessageReason returned no string'
  | 'maxMessageSize threw'
  | 'maxMessageSize not a positive integer';

/** The longest wait a timer holds. */
const MAX_TIMER_MS = 2_147_483_647;
const WARNING_INTERVAL_MS = 1000;

/**
 * `storage`, kept to its contract. Its cluster and kind are read once, here; its maxMessageSize
 * each time it is read, and one that is not a positive integer reads as none.
 */
export function guardStorage(storage: ClusterStorage, options: GuardOptions): ClusterStorage {
  for (const bound of ['sendTimeoutMs', 'startTimeoutMs', 'closeTimeoutMs'] as const) {
    const ms = options[bound];
    if (!Number.isInteger(ms) || ms <= 0 || ms > MAX_TIMER_MS) throw new Error(`guardStorage: ${bound} must be an integer from 1 to ${MAX_TIMER_MS}, not ${ms}`);
  }
  const { cluster, kind } = storage;
  const guard = new StorageGuard(storage, cluster, options);
  return {
    cluster,
    kind,
    // read when routing is built, after start: a storage may learn its limit from its server
    get maxMessageSize() {
      return guard.maxMessageSize();
    },
    start: () => guard.start(),
    send: (messages) => guard.send(messages),
    close: () => guard.close(),
    ...(typeof storage.warmUp === 'function' && { warmUp: (topics: readonly string[]) => guard.warmUp(topics) }),
    ...(typeof storage.illegalMessageReason === 'function' && {
      illegalMessageReason: (message: OutgoingMessage) => guard.illegalMessageReason(message),
    }),
  };
}

/** How a call of one of the storage's lifecycle methods ended. */
type Settled = { readonly how: 'resolved' } | { readonly how: 'timed out' } | { readonly how: 'threw' | 'rejected'; readonly error: unknown };

class StorageGuard {
  private readonly timers: Timers;
  private readonly warnings: ThrottledWarning;
  readonly outstanding: OutstandingSends;
  private readonly timedOut: SendOutcome;
  /** checkOutcomes' report, made once so that checking a send allocates nothing. */
  private readonly reportOutcome = (violation: OutcomeViolation) => this.violation(violation);

  constructor(
    private readonly storage: ClusterStorage,
    private readonly cluster: string,
    private readonly options: GuardOptions,
  ) {
    this.timers = options.timers ?? backgroundTimers;
    this.warnings = new ThrottledWarning(options.logger, WARNING_INTERVAL_MS, this.timers.now, this.timers);
    this.outstanding = new OutstandingSends(this.timers, options.sendTimeoutMs);
    // not retriable: the storage may have stored the message, and may still
    this.timedOut = failure('TIMEOUT', `${options.plugin}: no answer from the storage within ${options.sendTimeoutMs} ms; the message may be stored`);
  }

  send(messages: readonly OutgoingMessage[]): Promise<SendOutcome[]> {
    let result: unknown;
    let promised: boolean;
    try {
      result = this.storage.send(messages);
      promised = typeof (result as { then?: unknown } | null | undefined)?.then === 'function';
    } catch (error) {
      this.violation('send threw', error);
      return Promise.resolve(every(messages.length, failure('UNKNOWN', `${this.options.plugin}: send threw: ${messageOf(error)}`)));
    }
    // taken as what it resolved with
    if (!promised) this.violation('send returned no promise');
    return new Promise((resolve) => {
      const send = new GuardedSend(this, messages.length, resolve);
      this.outstanding.add(send);
      Promise.resolve(result).then(
        (value) => send.answered(value),
        (error: unknown) => send.rejected(error),
      );
    });
  }

  /** The outcomes a send resolved with, made well-formed. */
  checked(value: unknown, count: number): SendOutcome[] {
    try {
      return checkOutcomes(value, count, this.reportOutcome);
    } catch {
      // reading the outcomes threw (a getter of the plugin's)
      this.violation('malformed outcome');
      return every(count, failure('UNKNOWN', `${this.options.plugin}: the outcomes could not be read`));
    }
  }

  rejectedOutcomes(error: unknown, count: number): SendOutcome[] {
    this.violation('send rejected', error);
    return every(count, failure('UNKNOWN', `${this.options.plugin}: send rejected: ${messageOf(error)}`));
  }

  expiredOutcomes(count: number): SendOutcome[] {
    this.violation('send timed out', undefined, { timeoutMs: this.options.sendTimeoutMs });
    return every(count, this.timedOut);
  }

  async start(): Promise<void> {
    const { plugin, startTimeoutMs } = this.options;
    const settled = await this.settle(() => this.storage.start(), startTimeoutMs);
    switch (settled.how) {
      case 'resolved':
        return;
      case 'timed out':
        this.violation('start timed out', undefined, { timeoutMs: startTimeoutMs });
        throw new Error(`${plugin}: start did not finish within ${startTimeoutMs} ms`);
      case 'threw':
        this.violation('start threw', settled.error);
        throw new Error(`${plugin}: start threw: ${messageOf(settled.error)}`, { cause: settled.error });
      case 'rejected':
        // the contract's way to refuse: the host logs it
        throw new Error(`${plugin}: start failed: ${messageOf(settled.error)}`, { cause: settled.error });
    }
  }

  /** Never rejects, as the contract says; bounded like a send, since sends wait for it. */
  async warmUp(topics: readonly string[]): Promise<void> {
    const timeoutMs = this.options.sendTimeoutMs;
    const settled = await this.settle(() => this.storage.warmUp!(topics), timeoutMs);
    if (settled.how === 'timed out') this.violation('warmUp timed out', undefined, { timeoutMs });
    else if (settled.how !== 'resolved') this.violation(`warmUp ${settled.how}`, settled.error);
  }

  /** Never rejects: there is nothing more the host could do about a storage that will not close. */
  async close(): Promise<void> {
    const timeoutMs = this.options.closeTimeoutMs;
    const settled = await this.settle(() => this.storage.close(), timeoutMs);
    if (settled.how === 'timed out') this.violation('close timed out', undefined, { timeoutMs });
    else if (settled.how !== 'resolved') this.violation(`close ${settled.how}`, settled.error);
  }

  /** The storage's body limit; one that is not a positive integer is ignored, and logged. */
  maxMessageSize(): number | undefined {
    let limit: unknown;
    try {
      limit = this.storage.maxMessageSize;
    } catch (error) {
      this.violation('maxMessageSize threw', error);
      return undefined;
    }
    if (limit === undefined || (typeof limit === 'number' && Number.isInteger(limit) && limit > 0)) return limit;
    this.violation('maxMessageSize not a positive integer', undefined, { maxMessageSize: String(limit) });
    return undefined;
  }

  /**
   * A hook that throws takes the message as legal: the throw is a fault of the plugin's check, not
   * a verdict on the message. Taken as illegal, it would answer every caller 11, which tells the
   * client the message itself is bad and is not retried: a bug of the plugin would silently drop
   * the traffic of its clusters. Sent, the message gets its storage's (guarded) outcome.
   */
  illegalMessageReason(message: OutgoingMessage): string | undefined {
    let reason: unknown;
    try {
      reason = this.storage.illegalMessageReason!(message);
    } catch (error) {
      this.violation('illegalMessageReason threw', error);
      return undefined;
    }
    if (reason === undefined || typeof reason === 'string') return reason;
    this.violation('illegalMessageReason returned no string');
    return undefined;
  }

  violation(violation: Violation, error?: unknown, details?: Record<string, unknown>): void {
    const fields = { plugin: this.options.plugin, cluster: this.cluster, violation, ...details };
    this.warnings.warn(violation, fields, 'storage plugin broke its contract', error === undefined || error instanceof Error ? error : messageOf(error));
  }

  /** `run()`, however it ends, or 'timed out' after `ms`; its later settlement is ignored. */
  private settle(run: () => unknown, ms: number): Promise<Settled> {
    let result: unknown;
    try {
      result = run();
    } catch (error) {
      return Promise.resolve({ how: 'threw', error });
    }
    return new Promise((resolve) => {
      const timer = this.timers.set(() => resolve({ how: 'timed out' }), ms);
      Promise.resolve(result).then(
        () => {
          this.timers.clear(timer);
          resolve({ how: 'resolved' });
        },
        (error: unknown) => {
          this.timers.clear(timer);
          resolve({ how: 'rejected', error });
        },
      );
    });
  }
}

/** A send out at the storage: answered once, by the storage's result or by the bound. */
class GuardedSend extends OutstandingSend {
  private done = false;

  constructor(
    private readonly guard: StorageGuard,
    private readonly count: number,
    private readonly resolve: (outcomes: SendOutcome[]) => void,
  ) {
    super();
  }

  answered(value: unknown): void {
    if (this.finish()) this.resolve(this.guard.checked(value, this.count));
  }

  rejected(error: unknown): void {
    if (this.finish()) this.resolve(this.guard.rejectedOutcomes(error, this.count));
  }

  override expire(): void {
    if (this.done) return;
    this.done = true;
    this.resolve(this.guard.expiredOutcomes(this.count));
  }

  /** True the first time: the send leaves the outstanding ones. */
  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    this.guard.outstanding.delete(this);
    return true;
  }
}

/** What the plugin threw or rejected with, as text: String() itself throws on some objects. */
function messageOf(error: unknown): string {
  try {
    return errorMessage(error);
  } catch {
    return 'a value that cannot be printed';
  }
}

function failure(code: StorageErrorCode, message: string): SendOutcome {
  return { ok: false, error: { code, message, retriable: false } };
}

function every(count: number, outcome: SendOutcome): SendOutcome[] {
  return new Array<SendOutcome>(count).fill(outcome);
}
