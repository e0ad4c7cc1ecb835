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
 *
 * Each topic's metrics are counted here, per message, into the children its entry holds: admitted,
 * admitted from a warning part, and refused as the caller says it will answer the refusal
 * (15 now, or after DDMQ's deferred retry, which counts the request once). With metrics off none
 * of it runs. The 10 s log line's counts are kept apart: they count every refusal of the limiter,
 * as DDMQ's does.
 */
import { METRICS_OFF, type ProxyMetrics, type TopicMetrics } from '../metrics/proxy-metrics';
import { TokenBucket } from './token-bucket';

export type LimiterVerdict = 'ok' | 'warn' | 'refused';

/** What the caller does with a refusal: answers 15 (`refused`), or waits for its deferred retry. */
export type RefusalFate = 'refused' | 'deferred';

export interface LimiterCounts {
  warn: number;
  refused: number;
}

/** Where a bucket's tokens came from: its normal part, its warning part, or nowhere (refused). */
const enum Part {
  Refused = 0,
  Normal = 1,
  Warning = 2,
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

  take(n: number): Part {
    if (this.normal?.tryTake(n)) return Part.Normal;
    if (this.warning?.tryTake(n)) return Part.Warning;
    return Part.Refused;
  }

  /** Gives back `n` tokens that `part` gave. */
  refund(part: Part, n: number): void {
    if (part === Part.Normal) this.normal!.refund(n);
    else if (part === Part.Warning) this.warning!.refund(n);
  }
}

/**
 * A request's tokens from a topic and the node, as one number (no object per request): the
 * topic's Part in the low two bits, the node's in the next two; 0 when refused.
 */
type Take = number;
const REFUSED: Take = 0;
const topicPart = (take: Take): Part => take & 3;
const nodePart = (take: Take): Part => take >> 2;
const verdictOf = (take: Take): LimiterVerdict =>
  take === REFUSED ? 'refused' : topicPart(take) === Part.Warning || nodePart(take) === Part.Warning ? 'warn' : 'ok';

export interface TpsLimits {
  /** Node limit, messages per second. */
  readonly nodeMaxTps: number;
  readonly warningRatio: number;
  /** Topic -> its limit on this proxy (sum of its units' maxTps). */
  readonly topics: ReadonlyMap<string, number>;
}

/** A topic's bucket and the metrics its messages count into. */
interface TopicLimit {
  readonly bucket: SplitBucket;
  readonly metrics: TopicMetrics;
}

export class TpsLimiter {
  private readonly node: SplitBucket;
  private readonly topics = new Map<string, TopicLimit>();
  private readonly counts = new Map<string, LimiterCounts>();
  /** Metrics on: each request's messages are counted into its topics' children. */
  private readonly counting: boolean;
  /** tryEnterAll's takes, in its map's order: reused, as a call runs to its end before the next. */
  private readonly takes: Take[] = [];

  /** Each topic's children are resolved once, here: the configuration must name the topics already. */
  constructor(
    limits: TpsLimits,
    clock: () => number,
    private readonly metrics: ProxyMetrics = METRICS_OFF,
  ) {
    this.counting = metrics.enabled;
    this.node = new SplitBucket(limits.nodeMaxTps, limits.warningRatio, clock);
    for (const [topic, rate] of limits.topics) {
      this.topics.set(topic, { bucket: new SplitBucket(rate, limits.warningRatio, clock), metrics: metrics.topic(topic) });
    }
  }

  /** Asks for `messages` tokens of the topic and of the node; a refusal is counted as `fate`. */
  tryEnter(topic: string, messages: number, fate: RefusalFate = 'refused'): LimiterVerdict {
    const limit = this.topics.get(topic);
    const verdict = this.count(topic, verdictOf(this.take(limit, messages)));
    if (this.counting) this.countMessages(limit?.metrics ?? this.metrics.topic(topic), messages, verdict, fate);
    return verdict;
  }

  /**
   * All or nothing for requests that span topics (a batch): every topic's tokens, or none taken
   * and 'refused', which counts each message refused under its topic, or, deferred, the request
   * once under its first topic.
   */
  tryEnterAll(messagesPerTopic: ReadonlyMap<string, number>, fate: RefusalFate = 'refused'): LimiterVerdict {
    const takes = this.takes;
    takes.length = 0;
    let verdict: LimiterVerdict = 'ok';
    for (const [topic, messages] of messagesPerTopic) {
      const take = this.take(this.topics.get(topic), messages);
      if (take === REFUSED) {
        this.refundTakes(messagesPerTopic);
        this.count(topic, 'refused');
        if (this.counting) this.countRefusal(messagesPerTopic, fate);
        return 'refused';
      }
      takes.push(take);
      if (this.count(topic, verdictOf(take)) === 'warn') verdict = 'warn';
    }
    if (this.counting) {
      let i = 0;
      // a take other than refused comes from a known topic's bucket
      for (const [topic, messages] of messagesPerTopic) this.countMessages(this.topics.get(topic)!.metrics, messages, verdictOf(takes[i++]!), fate);
    }
    return verdict;
  }

  /** Warning and refusal counts per topic since the last call, for the log; resets them. */
  drainCounts(): Map<string, LimiterCounts> {
    const snapshot = new Map(this.counts);
    this.counts.clear();
    return snapshot;
  }

  /** Topic tokens, then node tokens; the topic's are given back when the node refuses. */
  private take(limit: TopicLimit | undefined, messages: number): Take {
    // DDMQ refuses a topic its limiter does not know; here the limiter knows every served topic
    if (!limit) return REFUSED;
    const topic = limit.bucket.take(messages);
    if (topic === Part.Refused) return REFUSED;
    const node = this.node.take(messages);
    if (node === Part.Refused) {
      limit.bucket.refund(topic, messages);
      return REFUSED;
    }
    return topic | (node << 2);
  }

  /** Gives back what tryEnterAll's takes so far took, topic by topic in the map's order. */
  private refundTakes(messagesPerTopic: ReadonlyMap<string, number>): void {
    const takes = this.takes;
    let i = 0;
    for (const [topic, messages] of messagesPerTopic) {
      if (i === takes.length) break;
      const take = takes[i++]!;
      this.topics.get(topic)!.bucket.refund(topicPart(take), messages);
      this.node.refund(nodePart(take), messages);
    }
  }

  /** A refused request spanning topics: each message refused under its topic, or, deferred, the request once under its first. */
  private countRefusal(messagesPerTopic: ReadonlyMap<string, number>, fate: RefusalFate): void {
    for (const [topic, messages] of messagesPerTopic) {
      const metrics = this.topics.get(topic)?.metrics ?? this.metrics.topic(topic);
      if (fate === 'deferred') {
        metrics.limiterDeferred.inc();
        return;
      }
      metrics.limiterRefused.inc(messages);
    }
  }

  /** `messages` admitted (from a warning part or not), or refused as `fate` says: 15 now, or a deferred retry (one per request). */
  private countMessages(metrics: TopicMetrics, messages: number, verdict: LimiterVerdict, fate: RefusalFate): void {
    if (verdict === 'refused') {
      if (fate === 'refused') metrics.limiterRefused.inc(messages);
      else metrics.limiterDeferred.inc();
      return;
    }
    metrics.limiterAdmitted.inc(messages);
    if (verdict === 'warn') metrics.limiterWarning.inc(messages);
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
