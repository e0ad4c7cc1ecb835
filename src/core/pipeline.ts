/**
 * The send pipeline behind the four ProducerService methods: validate -> topic lookup -> delay
 * guard -> cluster choice -> storage. Results are DDMQ result codes; a synchronous answer (invalid
 * message, unknown topic, heartbeat) is returned as a plain value so it costs no promise.
 */
import { ThrottledWarning, type Logger } from '../log';
import { ResultCode } from '../protocol/result-codes';
import { chooseCluster } from '../routing/cluster';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../storage/storage';
import type { DelayMessage, ProducerMessage } from './message';
import { resultForStorageError } from './result-mapping';
import type { ClusterRoute, RoutingTable } from './routing-table';
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  FROM_CHRONOS_PROPERTY,
  HEARTBEAT_TOPIC,
  illegalMessageReason,
  resolveBody,
} from './validate';

export interface DelayReply {
  readonly code: ResultCode;
  readonly uniqDelayMsgId: string;
}

export interface PipelineDeps {
  readonly logger: Logger;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  readonly random: () => number;
}

/**
 * Bound of requests without a caller deadline (sendAsync, sendBatchSync, sendSync with timeout 0):
 * DDMQ's DEFAULT_MQ_ASYNC_REQUEST_TIMEOUT_MS.
 */
export const ASYNC_REQUEST_TIMEOUT_MS = 10_000;

interface Prepared {
  readonly cluster: ClusterRoute;
  readonly outgoing: OutgoingMessage;
}

export class ProducerPipeline {
  private readonly failures: ThrottledWarning;

  constructor(
    private routing: RoutingTable,
    private readonly deps: PipelineDeps,
  ) {
    this.failures = new ThrottledWarning(deps.logger, 1000, deps.clock);
  }

  /** Swaps in a new configuration; requests already routed finish on the old one. */
  setRouting(routing: RoutingTable): void {
    this.routing = routing;
  }

  /**
   * Answers by the caller's `timeoutMs` at the latest: a storage that has not acknowledged by then
   * gets 12 (the write may still complete, as in the original).
   */
  sendSync(message: ProducerMessage | undefined, timeoutMs: number): ResultCode | Promise<ResultCode> {
    if (message?.topic === HEARTBEAT_TOPIC) return ResultCode.OK;
    return this.sendOne(message, timeoutMs > 0 ? timeoutMs : ASYNC_REQUEST_TIMEOUT_MS);
  }

  /** Answers after the storage acknowledges, like the original: "async" is not fire-and-forget. */
  sendAsync(message: ProducerMessage | undefined): ResultCode | Promise<ResultCode> {
    return this.sendOne(message, ASYNC_REQUEST_TIMEOUT_MS);
  }

  /**
   * Every message is validated and routed before anything is stored, so one bad message fails the
   * batch without writing the others (the original skips most checks on this path). The answer is
   * OK, or the code of the first failed message in batch order.
   */
  sendBatch(messages: readonly ProducerMessage[] | undefined): ResultCode | Promise<ResultCode> {
    if (!messages || messages.length === 0) return ResultCode.OK;
    const groups = new Map<ClusterStorage, { indices: number[]; messages: OutgoingMessage[] }>();
    for (let i = 0; i < messages.length; i++) {
      const prepared = this.prepare(messages[i]);
      if (typeof prepared === 'number') return prepared;
      const storage = prepared.cluster.storage;
      if (!storage) return this.noProducer(prepared.cluster);
      let group = groups.get(storage);
      if (!group) groups.set(storage, (group = { indices: [], messages: [] }));
      group.indices.push(i);
      group.messages.push(prepared.outgoing);
    }
    const outcomes = new Array<SendOutcome>(messages.length);
    const sends = [...groups].map(([storage, group]) =>
      storage.send(group.messages).then((results) => {
        results.forEach((outcome, j) => (outcomes[group.indices[j]!] = outcome));
      }),
    );
    const stored = Promise.all(sends).then(() => {
      for (const outcome of outcomes) {
        if (!outcome.ok) return this.failed(outcome);
      }
      return ResultCode.OK;
    });
    return withDeadline(stored, ASYNC_REQUEST_TIMEOUT_MS);
  }

  /**
   * Delay messages need the Chronos support of a later release; until then no topic accepts them.
   */
  sendDelay(message: DelayMessage | undefined, _timeoutMs: number): DelayReply {
    const topic = message?.topic === undefined ? undefined : this.routing.topics.get(message.topic);
    return {
      code: topic ? ResultCode.FAIL_TOPIC_IS_NOT_DELAY : ResultCode.FAIL_TOPIC_NOT_ALLOWED,
      uniqDelayMsgId: '',
    };
  }

  private sendOne(message: ProducerMessage | undefined, timeoutMs: number): ResultCode | Promise<ResultCode> {
    const prepared = this.prepare(message);
    if (typeof prepared === 'number') return prepared;
    const storage = prepared.cluster.storage;
    if (!storage) return this.noProducer(prepared.cluster);
    const stored = storage.send([prepared.outgoing]).then(([outcome]) => (outcome!.ok ? ResultCode.OK : this.failed(outcome!)));
    return withDeadline(stored, timeoutMs);
  }

  /** Checks in DDMQ's order: validity (11), then the topic (13), then the delay guard (19). */
  private prepare(message: ProducerMessage | undefined): Prepared | ResultCode {
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
    if (topic.delayTopic && !message.properties?.has(FROM_CHRONOS_PROPERTY)) return ResultCode.FAIL_TOPIC_IS_DELAY;
    const cluster = chooseCluster(topic.clusters, message, this.deps.random);
    return {
      cluster,
      outgoing: {
        topic: topicName,
        key: message.key,
        tags: message.tags,
        body,
        properties: message.properties,
        partitionId: message.partitionId,
        hashId: message.hashId,
        timestamp: this.deps.clock(),
      },
    };
  }

  private illegal(topic: string | undefined, reason: string): ResultCode {
    this.deps.logger.debug({ topic, reason }, 'illegal message');
    return ResultCode.FAIL_ILLEGAL_MSG;
  }

  private noProducer(cluster: ClusterRoute): ResultCode {
    this.failures.warn(`no-producer:${cluster.name}`, { cluster: cluster.name }, 'no producer for cluster');
    return ResultCode.FAIL_NO_PRODUCER_FOR_CLUSTER;
  }

  private failed(outcome: Extract<SendOutcome, { ok: false }>): ResultCode {
    const { code, message } = outcome.error;
    this.failures.warn(`storage:${code}`, { code, err: message }, 'storage send failed');
    return resultForStorageError(code);
  }
}

/** The stored result, or FAIL_TIMEOUT when it is not there within `timeoutMs`. */
function withDeadline(stored: Promise<ResultCode>, timeoutMs: number): Promise<ResultCode> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(ResultCode.FAIL_TIMEOUT), timeoutMs);
    void stored.then((code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}
