/**
 * DDMQ's two-level limiter (its TpsLimiter; docs/ddmq/rate-limit.md): a bucket per topic, whose rate is
 * the sum of this proxy's `maxTps` shares over the topic's clusters, and one for the node
 * (`carreraConfiguration.maxTps`). Each is split into a normal part (`rate x tpsWarningRatio`) and a
 * warning part (the rest): a request served from a warning part is counted as a warning, the early
 * sign that a limit is near.
 *
 * Better than the original: a request costs one token per message (a batch of 50 costs 50); tokens a
 * topic bucket gave are returned when the node refuses; a ratio of 1 or more means no warning part,
 * and a topic limit of 0 or less refuses every request, where DDMQ's limiter fails to build on a
 * rate that is not positive.
 */
import { TokenBucket } from './token-bucket';

export type LimiterVerdict = 'ok' | 'warn' | 'refused';

export interface LimiterCounts {
  warn: number;
  refused: number;
}

/** A limit split into its normal and warning parts; a part with no rate refuses. */
class SplitBucket {
  private readonly normal: TokenBucket | undefined;
  private readonly warning: TokenBucket | undefined;

  constructor(rate: number, warningRatio: number, clock: () => number) {
    const normalRate = rate * Math.min(warningRatio, 1);
    const warningRate = rate - normalRate;
    this.normal = normalRate > 0 ? new TokenBucket(normalRate, clock) : undefined;
    this.warning = warningRate > 0 ? new TokenBucket(warningRate, clock) : undefined;
  }

  take(n: number): { verdict: LimiterVerdict; refund: () => void } {
    if (this.normal?.tryTake(n)) return { verdict: 'ok', refund: () => this.normal!.refund(n) };
    if (this.warning?.tryTake(n)) return { verdict: 'warn', refund: () => this.warning!.refund(n) };
    return { verdict: 'refused', refund: () => undefined };
  }
}

export interface TpsLimits {
  /** Node limit, messages per second. */
  readonly nodeMaxTps: number;
  readonly warningRatio: number;
  /** Topic -> its limit on this proxy (sum of its units' maxTps). */
  readonly topics: ReadonlyMap<string, number>;
}

export class TpsLimiter {
  private readonly node: SplitBucket;
  private readonly topics = new Map<string, SplitBucket>();
  private readonly counts = new Map<string, LimiterCounts>();

  constructor(limits: TpsLimits, clock: () => number) {
    this.node = new SplitBucket(limits.nodeMaxTps, limits.warningRatio, clock);
    for (const [topic, rate] of limits.topics) this.topics.set(topic, new SplitBucket(rate, limits.warningRatio, clock));
  }

  /** Asks for `messages` tokens of the topic and of the node. */
  tryEnter(topic: string, messages: number): LimiterVerdict {
    return this.count(topic, this.take(topic, messages).verdict);
  }

  /**
   * All or nothing for requests that span topics (a batch): every topic's tokens, or none taken
   * and 'refused'.
   */
  tryEnterAll(messagesPerTopic: ReadonlyMap<string, number>): LimiterVerdict {
    const refunds: (() => void)[] = [];
    let verdict: LimiterVerdict = 'ok';
    for (const [topic, messages] of messagesPerTopic) {
      const take = this.take(topic, messages);
      if (take.verdict === 'refused') {
        for (const refund of refunds) refund();
        return this.count(topic, 'refused');
      }
      refunds.push(take.refund);
      if (take.verdict === 'warn') verdict = this.count(topic, 'warn');
    }
    return verdict;
  }

  /** Warning and refusal counts per topic since the last call, for metrics; resets them. */
  drainCounts(): Map<string, LimiterCounts> {
    const snapshot = new Map(this.counts);
    this.counts.clear();
    return snapshot;
  }

  /** Topic tokens, then node tokens; the topic's are given back when the node refuses. */
  private take(topic: string, messages: number): { verdict: LimiterVerdict; refund: () => void } {
    const bucket = this.topics.get(topic);
    // DDMQ refuses a topic its limiter does not know; here the limiter knows every served topic
    if (!bucket) return { verdict: 'refused', refund: () => undefined };
    const topicTake = bucket.take(messages);
    if (topicTake.verdict === 'refused') return topicTake;
    const nodeTake = this.node.take(messages);
    if (nodeTake.verdict === 'refused') {
      topicTake.refund();
      return nodeTake;
    }
    return {
      verdict: topicTake.verdict === 'warn' || nodeTake.verdict === 'warn' ? 'warn' : 'ok',
      refund: () => {
        topicTake.refund();
        nodeTake.refund();
      },
    };
  }

  private count(topic: string, verdict: LimiterVerdict): LimiterVerdict {
    if (verdict !== 'ok') {
      let c = this.counts.get(topic);
      if (!c) this.counts.set(topic, (c = { warn: 0, refused: 0 }));
      c[verdict]++;
    }
    return verdict;
  }
}
