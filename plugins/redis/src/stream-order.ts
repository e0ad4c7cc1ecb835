/**
 * Keeps the ordered messages of each stream (keepsOrder: `strongOrder` with a partition hint) in
 * the order they were sent, across retries.
 *
 * The client never resends (no offline queue, no resend after reconnect), and one connection
 * executes commands, and answers them, in the order they were written. What could still reorder is
 * the host's retry: an ordered message that failed retriably is sent again later, and a younger
 * message of the same stream must not be stored before it. So:
 *
 * - Every ordered write takes a ticket, the stream's write count. A retriable failure stays
 *   retriable only if every ordered write of its stream after it failed retriably too (nothing
 *   younger can be stored); otherwise it is made final. While younger writes of its stream are in
 *   flight, that is not known yet: the failure is answered once their replies are in (they are on
 *   the wire, so they come right after it, or at the command timeout), and the stream is fenced
 *   meanwhile.
 * - Messages whose failures stay retriable fence their stream: they wait, in send order, for their
 *   retries (the host sends the same OutgoingMessage object again). Younger ordered messages of
 *   the stream are held behind them instead of written.
 * - Once the stream's oldest waiting messages are back (or their window passed: the host gave up
 *   on them) and none of its writes is in flight, they are written, in order, with the held
 *   messages after them.
 * - A message held longer than the window is answered with a retriable failure and keeps its
 *   place, so no send waits longer than the window.
 * - A message whose retry came too late (younger ones went ahead) is refused for good.
 */
import type { OutgoingMessage, SendOutcome, StorageFailure } from 'pproxy/storage';
import type { StorageTimers as Clock } from 'pproxy/storage';

/**
 * Whether a message's place in its stream is kept: a `strongOrder` message with a partition hint
 * (explicit, or by hashId). One without (partitionId < -1) goes to a random stream, and its retry
 * most likely to another: it has no order to keep, and fencing its stream would only hold others.
 */
export function keepsOrder(message: OutgoingMessage): boolean {
  return message.ordered && message.partitionId >= -1;
}

export interface OrderedItem {
  readonly message: OutgoingMessage;
  readonly stream: string;
}

interface Entry<T extends OrderedItem> {
  item: T;
  /** The message's place in the send order of its stream. */
  rank: number;
  /** Set while the message is here, waiting for its turn; unset while its retry is awaited. */
  answer: ((outcome: SendOutcome) => void) | undefined;
  /** Away: when its retry is given up. Held: when it is answered with a retriable failure. */
  until: number;
}

/** A retriable failure whose fate waits for the replies of younger writes of its stream. */
interface Undecided<T extends OrderedItem> {
  readonly item: T;
  readonly ticket: number;
  readonly failure: StorageFailure;
  readonly answer: (outcome: SendOutcome) => void;
}

interface StreamOrder<T extends OrderedItem> {
  /** Ordered writes so far; the ticket of the latest one. */
  tickets: number;
  /** Tickets of the writes whose replies have not come. */
  readonly inFlight: Set<number>;
  /** The latest ticket whose message is, or may be, stored. */
  latestStored: number;
  /** Non-empty: the stream is fenced until their replies are in. */
  undecided: Undecided<T>[];
  /** In send order. Non-empty: the stream is fenced. */
  queue: Entry<T>[];
  timer: unknown;
}

/** Writes items in order on the one connection and answers each; never rejects. */
export type OrderedWrite<T> = (items: T[]) => Promise<SendOutcome[]>;

export class StreamOrderGuard<T extends OrderedItem> {
  private readonly streams = new Map<string, StreamOrder<T>>();
  /** Messages whose retries were given up: written now, they would land behind younger ones. */
  private readonly givenUp = new WeakSet<OutgoingMessage>();
  /**
   * Each message's place in the send order, from its first write or hold. Tickets are not that
   * order: a retry is written again, with a new ticket, ahead of messages written before it.
   */
  private readonly ranks = new WeakMap<OutgoingMessage, number>();
  private lastRank = 0;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
    /** Called synchronously when held messages get their turn, so nothing can be written between. */
    private readonly write: OrderedWrite<T>,
  ) {}

  /**
   * `write` when the ordered message may be written now (the caller takes its ticket); otherwise its
   * outcome, once it has had its turn, or a refusal.
   */
  admit(item: T): 'write' | Promise<SendOutcome> {
    if (this.closed) return Promise.resolve(closedOutcome());
    if (this.givenUp.has(item.message)) {
      return Promise.resolve({
        ok: false,
        error: { code: 'UNAVAILABLE', message: `its retry came after younger ordered messages of ${item.stream} were written`, retriable: false },
      });
    }
    const state = this.streams.get(item.stream);
    if (!state || (state.queue.length === 0 && state.undecided.length === 0)) return 'write';
    return this.hold(item);
  }

  /** The ticket of an ordered write, taken synchronously as it is written; settle() must follow. */
  ticket(item: T): number {
    this.rankOf(item.message);
    const state = this.state(item.stream);
    state.inFlight.add(++state.tickets);
    return state.tickets;
  }

  /** Holds an ordered message of a fenced stream until its turn (at most the window). */
  private hold(item: T): Promise<SendOutcome> {
    const state = this.state(item.stream);
    let entry = state.queue.find((e) => e.item.message === item.message);
    if (entry?.answer) return Promise.resolve(retryLater('the same message is already waiting for its turn'));
    const outcome = new Promise<SendOutcome>((resolve) => {
      if (entry) {
        entry.item = item;
        entry.answer = resolve;
      } else {
        entry = { item, rank: this.rankOf(item.message), answer: resolve, until: 0 };
        enqueue(state, entry);
      }
      entry.until = this.clock.now() + this.windowMs;
    });
    this.drain(item.stream);
    return outcome;
  }

  /**
   * Takes the replies of one write (items in write order, with their tickets) and resolves with
   * the outcomes to answer: a retriable failure as soon as the ticket rule decides it, which may
   * wait for younger writes of its stream in flight. Those that stay retriable fence their stream.
   */
  settle(items: readonly T[], tickets: readonly number[], outcomes: readonly SendOutcome[]): Promise<SendOutcome[]> {
    // a closed storage fences nothing: the host resends on the cluster's next storage
    if (this.closed) return Promise.resolve(outcomes.slice());
    const answers: (SendOutcome | Promise<SendOutcome>)[] = outcomes.slice();
    const streams = new Set<string>();
    // every reply of this write is recorded before any decision, so each decision sees them all
    items.forEach((item, i) => {
      if (!keepsOrder(item.message)) return;
      const state = this.state(item.stream);
      state.inFlight.delete(tickets[i]!);
      if (!retriableFailure(outcomes[i]!)) state.latestStored = Math.max(state.latestStored, tickets[i]!);
      streams.add(item.stream);
    });
    items.forEach((item, i) => {
      const failure = retriableFailure(outcomes[i]!);
      if (!failure || !keepsOrder(item.message)) return;
      const state = this.state(item.stream);
      answers[i] = new Promise((answer) => state.undecided.push({ item, ticket: tickets[i]!, failure, answer }));
    });
    for (const stream of streams) this.decide(stream);
    return Promise.all(answers);
  }

  /** Answers every held message CLOSED and every undecided failure as it came (both retriable: the host resends on the cluster's new storage). */
  close(): void {
    this.closed = true;
    for (const state of this.streams.values()) {
      this.clock.clear(state.timer);
      for (const entry of state.queue) entry.answer?.(closedOutcome());
      for (const undecided of state.undecided) undecided.answer({ ok: false, error: undecided.failure });
      state.queue = [];
      state.undecided = [];
    }
  }

  private state(stream: string): StreamOrder<T> {
    let state = this.streams.get(stream);
    if (!state) {
      state = { tickets: 0, inFlight: new Set(), latestStored: 0, undecided: [], queue: [], timer: undefined };
      this.streams.set(stream, state);
    }
    return state;
  }

  private rankOf(message: OutgoingMessage): number {
    let rank = this.ranks.get(message);
    if (rank === undefined) {
      rank = ++this.lastRank;
      this.ranks.set(message, rank);
    }
    return rank;
  }

  /**
   * Applies the ticket rule to the stream's undecided failures: final once anything younger is or
   * may be stored; kept (retriable, awaiting its retry) once every younger write failed retriably.
   */
  private decide(stream: string): void {
    const state = this.streams.get(stream)!;
    const until = this.clock.now() + this.windowMs;
    const waiting: Undecided<T>[] = [];
    for (const undecided of state.undecided) {
      const { item, ticket, failure, answer } = undecided;
      if (state.latestStored > ticket) {
        answer({
          ok: false,
          error: {
            code: failure.code,
            message: `${failure.message}; not retried: a younger ordered message of ${stream} was or may be stored after it`,
            retriable: false,
          },
        });
      } else if ([...state.inFlight].some((younger) => younger > ticket)) {
        waiting.push(undecided);
      } else {
        enqueue(state, { item, rank: this.rankOf(item.message), answer: undefined, until });
        answer({ ok: false, error: failure });
      }
    }
    state.undecided = waiting;
    this.drain(stream);
  }

  /** Gives up awaited retries whose window passed, answers held messages whose window passed, writes what has its turn. */
  private drain(stream: string): void {
    const state = this.streams.get(stream);
    if (!state) return;
    const now = this.clock.now();
    for (const entry of state.queue) {
      if (entry.answer && entry.until <= now) {
        const answer = entry.answer;
        entry.answer = undefined;
        entry.until = now + this.windowMs;
        answer(retryLater(`an older ordered message of ${stream} has not been retried within ${this.windowMs} ms`));
      }
    }
    while (state.queue.length > 0 && !state.queue[0]!.answer && state.queue[0]!.until <= now) {
      this.givenUp.add(state.queue.shift()!.item.message);
    }
    // a write in flight may yet fail retriably, and then its message goes before these
    const turn: Entry<T>[] = [];
    if (state.inFlight.size === 0 && state.undecided.length === 0) {
      while (state.queue.length > 0 && state.queue[0]!.answer) turn.push(state.queue.shift()!);
    }
    if (turn.length > 0) {
      void this.write(turn.map((e) => e.item)).then((outcomes) => turn.forEach((e, i) => e.answer!(outcomes[i]!)));
    }
    this.schedule(stream, state);
  }

  /** One timer per stream, at the earliest window end of its queue. */
  private schedule(stream: string, state: StreamOrder<T>): void {
    this.clock.clear(state.timer);
    state.timer = undefined;
    if (state.queue.length === 0) return;
    const next = Math.min(...state.queue.map((e) => e.until));
    state.timer = this.clock.set(() => {
      state.timer = undefined;
      this.drain(stream);
    }, Math.max(0, next - this.clock.now()));
  }
}

/** Puts an entry in its place in the send order. */
function enqueue<T extends OrderedItem>(state: StreamOrder<T>, entry: Entry<T>): void {
  const after = state.queue.findIndex((e) => e.rank > entry.rank);
  state.queue.splice(after === -1 ? state.queue.length : after, 0, entry);
}

function retriableFailure(outcome: SendOutcome): StorageFailure | undefined {
  return !outcome.ok && outcome.error.retriable ? outcome.error : undefined;
}

function retryLater(message: string): SendOutcome {
  return { ok: false, error: { code: 'UNAVAILABLE', message, retriable: true } };
}

function closedOutcome(): SendOutcome {
  return { ok: false, error: { code: 'CLOSED', message: 'redis storage closed', retriable: true } };
}
