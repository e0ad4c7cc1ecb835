/**
 * Keeps the ordered messages of each subject (a strongOrder topic's partition) in the order they
 * were sent, across the host's retries.
 *
 * - A subject's ordered messages are published one at a time, oldest first, each after the
 *   previous one's ack: no younger message is ever out while an older one is.
 * - One that fails retriably stays at the head of its subject and fences it: younger messages are
 *   held, not sent, until the host sends that same OutgoingMessage again; it then goes first and the
 *   held ones follow, in order. A stream lookup that fails retriably fences the same way.
 * - A failed message not sent again within the window is given up (its caller was answered): the
 *   messages behind it go, and its later resend is refused for good, since younger ones were stored
 *   before it. Given-up messages are remembered for the module, as message ids are, so that a resend
 *   to the cluster's replacement storage is refused too.
 * - A message held longer than the window is answered with a retriable failure and keeps its place;
 *   a host retry of it waits there again. So no send waits longer than the window (plus the publish
 *   out ahead of it, bounded by publishTimeoutMs).
 *
 * What it keeps: every held message is a send still under way, which the host's storage budget
 * bounds in bytes; a message whose resend is awaited is kept only by reference (the host holds it
 * for its retry anyway), and leaves at most twice the window after the last send of it or of an
 * older message of its subject.
 */
import type { OutgoingMessage, SendOutcome, StorageFailure } from 'pproxy/storage';
import type { StorageTimers as Clock } from 'pproxy/storage';

export interface OrderedItem {
  readonly message: OutgoingMessage;
  readonly subject: string;
}

/** Publishes one item (its stream looked up first) and answers it; never rejects. */
export type PublishOne<T> = (item: T) => Promise<SendOutcome>;

interface Entry<T> {
  item: T;
  /** Set while the message is here, waiting for its turn or being published; unset while its resend is awaited. */
  answer: ((outcome: SendOutcome) => void) | undefined;
  /** Awaited: when its resend is given up. Held: when it is answered with a retriable failure. */
  until: number;
}

interface SubjectQueue<T> {
  /** Oldest first; the head is the one published next (or now). */
  readonly entries: Entry<T>[];
  /** The head is being published. */
  publishing: boolean;
  timer: unknown;
}

/** Messages whose resends were given up: published now, they would land after younger ones. */
const givenUp = new WeakSet<OutgoingMessage>();

export class SubjectOrderFence<T extends OrderedItem> {
  private readonly subjects = new Map<string, SubjectQueue<T>>();
  private readonly byMessage = new Map<OutgoingMessage, Entry<T>>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs: number,
    private readonly publish: PublishOne<T>,
  ) {}

  /** The item's outcome, once it has had its turn; a refusal when it cannot have one. */
  send(item: T): Promise<SendOutcome> {
    if (givenUp.has(item.message)) {
      return Promise.resolve(
        failed({ code: 'UNAVAILABLE', message: `not sent: younger ordered messages of ${item.subject} were stored before this resend`, retriable: false }),
      );
    }
    let entry = this.byMessage.get(item.message);
    if (entry?.answer) return Promise.resolve(failed(retryLater('the same message is already waiting for its turn')));
    let queue = this.subjects.get(item.subject);
    if (!queue) {
      queue = { entries: [], publishing: false, timer: undefined };
      this.subjects.set(item.subject, queue);
    }
    const outcome = new Promise<SendOutcome>((resolve) => {
      if (entry) {
        entry.item = item;
        entry.answer = resolve;
      } else {
        entry = { item, answer: resolve, until: 0 };
        queue.entries.push(entry);
        this.byMessage.set(item.message, entry);
      }
      entry.until = this.clock.now() + this.windowMs;
    });
    this.drain(item.subject, queue);
    return outcome;
  }

  /**
   * Answers every held message with `closed` (retriable: the host resends it on the cluster's new
   * storage) and forgets the awaited ones; a publish out is answered when it settles.
   */
  close(closed: StorageFailure): void {
    this.closed = true;
    for (const queue of this.subjects.values()) {
      this.clock.clear(queue.timer);
      const out = queue.publishing ? queue.entries[0] : undefined;
      for (const entry of queue.entries) if (entry !== out) entry.answer?.(failed(closed));
      queue.entries.length = 0;
      if (out) queue.entries.push(out);
    }
    this.byMessage.clear();
  }

  /** Gives up an expired awaited head, answers held messages whose window passed, publishes the head when it is here. */
  private drain(subject: string, queue: SubjectQueue<T>): void {
    const now = this.clock.now();
    const entries = queue.entries;
    while (entries.length > 0 && !entries[0]!.answer && entries[0]!.until <= now) {
      const head = entries.shift()!;
      this.byMessage.delete(head.item.message);
      givenUp.add(head.item.message);
    }
    for (let i = 1; i < entries.length; i++) {
      const entry = entries[i]!;
      if (entry.answer && entry.until <= now) {
        const answer = entry.answer;
        entry.answer = undefined;
        entry.until = now + this.windowMs;
        answer(failed(retryLater(`an older ordered message of ${subject} has not been stored within ${this.windowMs} ms`)));
      }
    }
    const head = entries[0];
    if (!head) {
      this.clock.clear(queue.timer);
      this.subjects.delete(subject);
      return;
    }
    if (!queue.publishing && head.answer) {
      queue.publishing = true;
      void this.publish(head.item).then((outcome) => this.settled(subject, queue, head, outcome));
    }
    this.schedule(subject, queue);
  }

  /** The head's outcome: a retriable failure keeps it at the head (the fence); anything else lets the next one go. */
  private settled(subject: string, queue: SubjectQueue<T>, head: Entry<T>, outcome: SendOutcome): void {
    queue.publishing = false;
    const answer = head.answer!;
    if (!this.closed && !outcome.ok && outcome.error.retriable) {
      head.answer = undefined;
      head.until = this.clock.now() + this.windowMs;
    } else {
      queue.entries.shift();
      this.byMessage.delete(head.item.message);
    }
    answer(outcome);
    if (!this.closed) this.drain(subject, queue);
  }

  /** One timer per subject, at the next window end that changes something: the awaited head's, or a held message's. */
  private schedule(subject: string, queue: SubjectQueue<T>): void {
    this.clock.clear(queue.timer);
    queue.timer = undefined;
    let next = Infinity;
    queue.entries.forEach((entry, i) => {
      if (i === 0 ? !entry.answer : entry.answer) next = Math.min(next, entry.until);
    });
    if (next === Infinity) return;
    queue.timer = this.clock.set(
      () => {
        queue.timer = undefined;
        this.drain(subject, queue);
      },
      Math.max(0, next - this.clock.now()),
    );
  }
}

function failed(error: StorageFailure): SendOutcome {
  return { ok: false, error };
}

function retryLater(message: string): StorageFailure {
  return { code: 'UNAVAILABLE', message, retriable: true };
}
