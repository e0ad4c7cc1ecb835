/**
 * The send bookkeeping the broker adapters share: refuse once closing, split a send by topic
 * (each topic is one produce call), keep a strongOrder topic's sends in order, and keep the sends
 * under way so close() can let them finish.
 */
import { PARTITION_BY_HASH } from '../routing/partition';
import { timeLimit } from '../time/time-limit';
import { StorageError, type OutgoingMessage, type SendOutcome } from './storage';
import { groupBy } from '../util/group-by';

export type SendTopic = (topic: string, indices: number[], messages: readonly OutgoingMessage[], outcomes: SendOutcome[]) => Promise<void>;

export class TopicSends {
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Per topic, the end of the last send holding messages that keep their order. */
  private readonly orderedTails = new Map<string, Promise<void>>();
  private closing = false;

  constructor(
    private readonly description: string,
    private readonly sendTopic: SendTopic,
  ) {}

  send(messages: readonly OutgoingMessage[]): Promise<SendOutcome[]> {
    const outcomes = new Array<SendOutcome>(messages.length);
    if (this.closing) {
      outcomes.fill({ ok: false, error: new StorageError('CLOSED', `${this.description} is closed`, true) });
      return Promise.resolve(outcomes);
    }
    const byTopic = groupBy(messages.keys(), (i) => messages[i]!.topic);
    const sent = Promise.all([...byTopic].map(([topic, indices]) => this.sendTopicInOrder(topic, indices, messages, outcomes)));
    this.inFlight.add(sent);
    return sent.then(() => {
      this.inFlight.delete(sent);
      return outcomes;
    });
  }

  /**
   * A send holding messages that keep their order starts once the previous such send of its topic
   * has completed, as DDMQ chains a strongOrder topic's messages. Started together, two sends can
   * reach the broker in either order (a client's metadata and connection steps take a varying
   * number of turns), and a retried request can land after a later one.
   */
  private sendTopicInOrder(topic: string, indices: number[], messages: readonly OutgoingMessage[], outcomes: SendOutcome[]): Promise<void> {
    if (!indices.some((i) => keepsOrder(messages[i]!))) return this.sendTopic(topic, indices, messages, outcomes);
    const previous = this.orderedTails.get(topic) ?? Promise.resolve();
    const sent = previous.then(() => this.sendTopic(topic, indices, messages, outcomes));
    const tail = sent.catch(() => undefined);
    this.orderedTails.set(topic, tail);
    void tail.then(() => {
      if (this.orderedTails.get(topic) === tail) this.orderedTails.delete(topic);
    });
    return sent;
  }

  /** Refuses new sends, and waits for those under way, `graceMs` at most. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    await timeLimit(Promise.allSettled(this.inFlight), graceMs);
  }
}

/** A message of a strongOrder topic with a partition or hash hint (DDMQ's ordered messages). */
function keepsOrder(message: OutgoingMessage): boolean {
  return message.ordered && message.partitionId >= PARTITION_BY_HASH;
}
