/**
 * The send bookkeeping the broker adapters share: refuse once closing, split a send by topic
 * (each topic is one produce call), and keep the sends under way so close() can let them finish.
 */
import { timeLimit } from '../time/time-limit';
import { StorageError, type OutgoingMessage, type SendOutcome } from './storage';
import { groupBy } from '../util/group-by';

export type SendTopic = (topic: string, indices: number[], messages: readonly OutgoingMessage[], outcomes: SendOutcome[]) => Promise<void>;

export class TopicSends {
  private readonly inFlight = new Set<Promise<unknown>>();
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
    const sent = Promise.all([...byTopic].map(([topic, indices]) => this.sendTopic(topic, indices, messages, outcomes)));
    this.inFlight.add(sent);
    return sent.then(() => {
      this.inFlight.delete(sent);
      return outcomes;
    });
  }

  /** Refuses new sends, and waits for those under way, `graceMs` at most. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    await timeLimit(Promise.allSettled(this.inFlight), graceMs);
  }
}
