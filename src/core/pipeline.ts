/**
 * The send pipeline behind sendSync, sendAsync and sendBatchSync:
 * validate -> topic lookup -> delay guard -> rate limiter -> cluster choice -> (auto-batch) ->
 * storage budget -> storage, bounded by a deadline. Results are DDMQ result codes; a synchronous
 * answer (invalid message, unknown topic, heartbeat, refusal) is returned as a plain value so it
 * costs no promise.
 * sendDelaySync's protocol lives in src/delay/delay-sender.ts, which sends through sendPrepared.
 *
 * Retries (DDMQ's sendSync deadline and retry, improved): a retriable storage failure is retried with
 * backoff while the deadline allows, a non-retriable one is answered at once; DDMQ's single extra
 * attempt for a sendSync that has not completed (not for strongOrder topics, nor after a limiter
 * retry) is made 30 ms before the caller's deadline instead of 30 ms after it (message-delivery.ts).
 */
import type { AutoBatcher } from '../batch/auto-batcher';
import type { BatchMember } from '../batch/batch-queue';
import type { Timers } from '../time/timers';
import { ThrottledWarning, type Logger } from '../log';
import { ResultCode } from '../protocol/result-codes';
import { deferredRetryDelay } from '../ratelimit/deferred-retry';
import type { LimiterVerdict, RefusalFate, TpsLimiter } from '../ratelimit/tps-limiter';
import { METRICS_OFF, type ProxyMetrics, type RetryReason } from '../metrics/proxy-metrics';
import { chooseCluster } from '../routing/cluster';
import type { OutgoingMessage, SendOutcome } from '../storage/storage';
import { BatchRequestDelivery, type BatchRequestContext } from './batch-request-delivery';
import type { ProducerMessage } from './message';
import { EXPIRY_RETRY_MS, MessageDelivery, type DeliveryContext, type RoutedMessage, type SendWait } from './message-delivery';
import { resultForStorageError } from './result-mapping';
import type { RoutingTable, ServedTopic } from './routing-table';
import { hasIdentity, type Caller } from '../security/caller';
import { sendWithinBudget, type StorageBudgets } from './storage-budget';
import { DEFAULT_MAX_MESSAGE_SIZE, FROM_CHRONOS_PROPERTY, HEARTBEAT_TOPIC, illegalMessageReason, resolveBody } from './validate';

/** Bound of requests without a caller deadline: DDMQ's DEFAULT_MQ_ASYNC_REQUEST_TIMEOUT_MS. */
export const ASYNC_REQUEST_TIMEOUT_MS = 10_000;

/** A message for sendPrepared: what the pipeline adds (topic, order flag, receive time) left out. */
export type PreparedMessage = Omit<OutgoingMessage, 'topic' | 'ordered' | 'timestamp'>;

/** The parts of the configuration the pipeline applies, rebuilt with every configuration change. */
export interface PipelinePolicy {
  /** undefined: useRequestLimiter is off. */
  readonly limiter: TpsLimiter | undefined;
  /** Requests that may wait for their deferred limiter retry at once. */
  readonly limiterRetryQueueSize: number;
  /** undefined: useAutoBatch is off. Messages below the threshold on autoBatch topics are batched. */
  readonly autoBatchThresholdBytes: number | undefined;
}

export interface PipelineDeps {
  readonly logger: Logger;
  readonly timers: Timers;
  readonly random: () => number;
  readonly batcher: AutoBatcher;
  /** Each storage's budget of bytes handed to it and not yet returned; its sends count into its cluster's metrics. */
  readonly budgets: StorageBudgets;
  /** The catalog that reads the deferred limiter retries waiting (default: none). */
  readonly metrics?: ProxyMetrics;
}

export class ProducerPipeline {
  private readonly failures: ThrottledWarning;
  private waitingLimiterRetries = 0;
  private readonly delivery: DeliveryContext;
  private readonly batchRequests: BatchRequestContext;

  constructor(
    private routing: RoutingTable,
    private policy: PipelinePolicy,
    private readonly deps: PipelineDeps,
  ) {
    this.failures = new ThrottledWarning(deps.logger, 1000, deps.timers.now, deps.timers);
    this.delivery = {
      timers: deps.timers,
      dispatch: (route, sink, batchable, retry) => this.dispatch(route, sink, batchable, retry),
      current: (route) => this.current(route),
      failed: (outcome) => this.failed(outcome),
    };
    this.batchRequests = {
      timers: deps.timers,
      send: (storage, messages, done, retry) => sendWithinBudget(deps.budgets.of(storage), storage, messages, done, retry),
      current: (route) => this.current(route),
      failed: (outcome) => this.failed(outcome),
    };
    const metrics = deps.metrics ?? METRICS_OFF;
    metrics.limiterRetriesWaiting.sample(() => this.waitingLimiterRetries);
    metrics.limiterRetryQueueSize.sample(() => this.policy.limiterRetryQueueSize);
  }

  /** Swaps in a new configuration; requests already routed finish on the old one. */
  configure(routing: RoutingTable, policy: PipelinePolicy): void {
    this.routing = routing;
    this.policy = policy;
  }

  /** What this proxy serves now. */
  get routingTable(): RoutingTable {
    return this.routing;
  }

  get limiter(): TpsLimiter | undefined {
    return this.policy.limiter;
  }

  /**
   * Answers by the caller's timeout at the latest. `caller`: the client (for topics' allowed
   * producers and the trusted Chronos senders), or PROXY_ITSELF (local Chronos).
   */
  sendSync(message: ProducerMessage | undefined, timeoutMs: number, caller: Caller): ResultCode | Promise<ResultCode> {
    if (message?.topic === HEARTBEAT_TOPIC) return ResultCode.OK;
    return this.sendOne(message, timeoutMs > 0 ? timeoutMs : ASYNC_REQUEST_TIMEOUT_MS, true, caller);
  }

  /** Answers after the storage acknowledges, like the original: "async" is not fire-and-forget. */
  sendAsync(message: ProducerMessage | undefined, caller: Caller): ResultCode | Promise<ResultCode> {
    return this.sendOne(message, ASYNC_REQUEST_TIMEOUT_MS, false, caller);
  }

  /**
   * Every message is validated and routed before anything is stored, so one bad message fails the
   * batch without writing the others (the original skips most checks on this path). It costs one
   * limiter token per message. Failed messages are resent (only they) while retriable and in time;
   * the answer is OK, or the code of the first failed message in batch order.
   */
  sendBatch(messages: readonly ProducerMessage[] | undefined, caller: Caller): ResultCode | Promise<ResultCode> {
    if (!messages || messages.length === 0) return ResultCode.OK;
    const prepared: RoutedMessage[] = [];
    const perTopic = new Map<string, number>();
    for (const message of messages) {
      const p = this.prepare(message, caller);
      if (typeof p === 'number') return p;
      prepared.push(p);
      perTopic.set(p.topic.name, (perTopic.get(p.topic.name) ?? 0) + 1);
    }
    const deadline = this.deps.timers.now() + ASYNC_REQUEST_TIMEOUT_MS;
    return this.admit(perTopic, prepared[0]!.topic.limiterFailureRetryInterval, ASYNC_REQUEST_TIMEOUT_MS, () =>
      this.deliverBatch(prepared, deadline),
    );
  }

  /**
   * Sends a message its caller has checked and prepared itself (sendDelaySync's inner message) to
   * `topic`, a topic this proxy serves now, under the rate limit of `limitedAs` (its bucket and its
   * limiterFailureRetryInterval), answered within `timeoutMs`: 21 when the cluster chosen has no
   * producer, 15 or 12 from the limiter, else the storage's result.
   */
  sendPrepared(topic: ServedTopic, message: PreparedMessage, limitedAs: ServedTopic, timeoutMs: number): ResultCode | Promise<ResultCode> {
    const cluster = chooseCluster(topic.clusters, message, this.deps.random);
    if (!cluster.storage) return ResultCode.FAIL_NO_PRODUCER_FOR_CLUSTER;
    const now = this.deps.timers.now();
    const outgoing: OutgoingMessage = { ...message, topic: topic.name, ordered: topic.strongOrder, timestamp: now };
    const refusal = cluster.storage.illegalMessageReason?.(outgoing);
    if (refusal !== undefined) return this.illegal(topic.name, refusal);
    const route: RoutedMessage = { topic, cluster, storage: cluster.storage, outgoing };
    const deadline = now + timeoutMs;
    return this.admit(limitedAs.name, limitedAs.limiterFailureRetryInterval, timeoutMs, () => this.deliver(route, deadline, false, false));
  }

  private sendOne(message: ProducerMessage | undefined, timeoutMs: number, expiryRetry: boolean, caller: Caller): ResultCode | Promise<ResultCode> {
    const prepared = this.prepare(message, caller);
    if (typeof prepared === 'number') return prepared;
    const deadline = this.deps.timers.now() + timeoutMs;
    const { topic } = prepared;
    const retry = expiryRetry && !topic.strongOrder && timeoutMs >= 2 * EXPIRY_RETRY_MS;
    // no extra attempt after a limiter retry, as in DDMQ
    return this.admit(topic.name, topic.limiterFailureRetryInterval, timeoutMs, (waited) =>
      this.deliver(prepared, deadline, retry && !waited, true),
    );
  }

  /**
   * Checks in DDMQ's order: validity (11), then the topic (13; also when the caller is not one of
   * its allowed producers), then the delay guard (19; `from_chronos` lifts it only from a trusted
   * sender).
   */
  private prepare(message: ProducerMessage | undefined, caller: Caller): RoutedMessage | ResultCode {
    if (!message) return this.illegal(undefined, 'message is missing');
    const routing = this.routing;
    const reason = illegalMessageReason(message, routing.innerTopicPrefix);
    if (reason) return this.illegal(message.topic, reason);
    const topicName = message.topic!;
    const body = resolveBody(message);
    if (body.length === 0) return this.illegal(topicName, 'body is empty');
    const topic = routing.topics.get(topicName);
    const limit = topic ? topic.maxMessageSize : DEFAULT_MAX_MESSAGE_SIZE;
    if (body.length > limit) return this.illegal(topicName, `body of ${body.length} bytes exceeds ${limit}`);
    if (!topic) {
      this.deps.logger.debug({ topic: topicName }, 'topic not served by this proxy');
      return ResultCode.FAIL_TOPIC_NOT_ALLOWED;
    }
    if (!mayProduce(topic, caller)) return this.unauthorised(topicName, caller);
    if (topic.delayTopic && !this.fromChronos(message, caller)) return ResultCode.FAIL_TOPIC_IS_DELAY;
    const cluster = chooseCluster(topic.clusters, message, this.deps.random);
    if (!cluster.storage) {
      this.failures.warn(`no-producer:${cluster.name}`, { cluster: cluster.name }, 'no producer for cluster');
      return ResultCode.FAIL_NO_PRODUCER_FOR_CLUSTER;
    }
    const outgoing: OutgoingMessage = {
      topic: topicName,
      key: message.key,
      tags: message.tags,
      body,
      properties: message.properties,
      partitionId: message.partitionId,
      hashId: message.hashId,
      ordered: topic.strongOrder,
      timestamp: this.deps.timers.now(),
    };
    // the cluster's own rules (its storage plugin's), before anything of a batch is sent
    const refusal = cluster.storage.illegalMessageReason?.(outgoing);
    if (refusal !== undefined) return this.illegal(topicName, refusal);
    return { topic, cluster, storage: cluster.storage, outgoing };
  }

  /**
   * Every request's admission by the rate limiter: `send` at once when the limiter is off or
   * admits the request's cost. A refused request gets DDMQ's one deferred retry, or 15 at once
   * when it has no time for it or too many wait already; after the wait `send(true)` if the limiter
   * admits it then, else 15. As in DDMQ, the caller's deadline runs during the wait: if it comes
   * first, the answer is 12 at the deadline and nothing is retried.
   */
  private admit(
    cost: LimiterCost,
    retryInterval: number,
    timeoutMs: number,
    send: (waited: boolean) => ResultCode | Promise<ResultCode>,
  ): ResultCode | Promise<ResultCode> {
    const limiter = this.policy.limiter;
    if (!limiter) return send(false);
    // known before asking, so that the limiter counts a refusal as what it becomes
    const delay = this.waitingLimiterRetries < this.policy.limiterRetryQueueSize ? deferredRetryDelay(retryInterval, timeoutMs) : undefined;
    if (enter(limiter, cost, delay === undefined ? 'refused' : 'deferred') !== 'refused') return send(false);
    if (delay === undefined) return ResultCode.FAIL_REFUSED_BY_RATE_LIMITER;
    this.waitingLimiterRetries++;
    return new Promise((resolve) => {
      this.deps.timers.set(() => {
        this.waitingLimiterRetries--;
        if (delay >= timeoutMs) {
          resolve(ResultCode.FAIL_TIMEOUT);
          return;
        }
        const current = this.policy.limiter;
        if (current && enter(current, cost, 'refused') === 'refused') resolve(ResultCode.FAIL_REFUSED_BY_RATE_LIMITER);
        else resolve(send(true));
      }, Math.min(delay, timeoutMs));
    });
  }

  /** One message, answered by its deadline at the latest (see MessageDelivery). */
  private deliver(route: RoutedMessage, deadline: number, expiryRetry: boolean, batchable: boolean): Promise<ResultCode> {
    return new Promise((resolve) => new MessageDelivery(this.delivery, route, deadline, expiryRetry, resolve).start(batchable));
  }

  /**
   * The request on its cluster's storage as configured now: a configuration change may have
   * replaced the storage it was routed to (which then answers CLOSED).
   */
  private current(p: RoutedMessage): RoutedMessage {
    const storage = this.routing.topics.get(p.topic.name)?.clusters.find((c) => c.name === p.cluster.name)?.storage;
    return storage && storage !== p.storage ? { ...p, storage } : p;
  }

  /**
   * Auto-batches small messages of autoBatch topics; retries always go alone, as in DDMQ. Either way
   * the send counts against its storage's budget, and waits for it when full.
   */
  private dispatch(p: RoutedMessage, sink: BatchMember, batchable: boolean, retry: RetryReason | undefined): SendWait | undefined {
    const threshold = this.policy.autoBatchThresholdBytes;
    if (batchable && threshold !== undefined && p.topic.autoBatch && p.outgoing.body.length < threshold) {
      return this.deps.batcher.enqueue(p.storage, sink);
    }
    return sendWithinBudget(this.deps.budgets.of(p.storage), p.storage, [p.outgoing], (outcomes) => sink.resolve(outcomes[0]!), retry);
  }

  /** A sendBatchSync's messages, answered by its deadline at the latest (see BatchRequestDelivery). */
  private deliverBatch(prepared: RoutedMessage[], deadline: number): Promise<ResultCode> {
    return new Promise((resolve) => new BatchRequestDelivery(this.batchRequests, prepared, deadline, resolve).start());
  }

  private illegal(topic: string | undefined, reason: string): ResultCode {
    this.deps.logger.debug({ topic, reason }, 'illegal message');
    return ResultCode.FAIL_ILLEGAL_MSG;
  }

  /** A topic served, but not to this caller: answered as one not served (13), counted and logged. */
  unauthorised(topic: string, caller: Caller): ResultCode {
    (this.deps.metrics ?? METRICS_OFF).securityRefusals.producerNotAllowed.inc();
    this.failures.warn(`unauthorised:${topic}`, { topic, client: caller.address, identities: caller.identities }, 'producer not allowed on topic: answered 13');
    return ResultCode.FAIL_TOPIC_NOT_ALLOWED;
  }

  /** Whether the message is a Chronos re-delivery: marked so, from a trusted sender. */
  private fromChronos(message: ProducerMessage, caller: Caller): boolean {
    if (!message.properties?.has(FROM_CHRONOS_PROPERTY)) return false;
    const trusted = this.routing.chronosSenders;
    if (trusted === undefined || trusted.includes(caller)) return true;
    (this.deps.metrics ?? METRICS_OFF).securityRefusals.untrustedFromChronos.inc();
    this.failures.warn('untrusted-chronos', { client: caller.address, identities: caller.identities }, 'from_chronos from a sender not in delay.trustedSenders: treated as a plain send');
    return false;
  }

  private failed(outcome: Extract<SendOutcome, { ok: false }>): ResultCode {
    const { code, message } = outcome.error;
    this.failures.warn(`storage:${code}`, { code, err: message }, 'storage send failed');
    return resultForStorageError(code);
  }
}

/** Whether the caller may produce to the topic (its allowedProducers). */
export function mayProduce(topic: ServedTopic, caller: Caller): boolean {
  return topic.allowedProducers === undefined || hasIdentity(caller, topic.allowedProducers);
}

/** What a request costs in limiter tokens: one of its topic's, or a count per topic (a batch). */
type LimiterCost = string | ReadonlyMap<string, number>;

function enter(limiter: TpsLimiter, cost: LimiterCost, fate: RefusalFate): LimiterVerdict {
  return typeof cost === 'string' ? limiter.tryEnter(cost, 1, fate) : limiter.tryEnterAll(cost, fate);
}
