/**
 * The send pipeline behind the four ProducerService methods: validate -> topic lookup -> delay
 * guard -> cluster choice -> storage. Results are DDMQ result codes; a synchronous answer (invalid
 * message, unknown topic, heartbeat) is returned as a plain value so it costs no promise.
 */
import type { Logger } from '../log';
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

interface Prepared {
  readonly cluster: ClusterRoute;
  readonly outgoing: OutgoingMessage;
}

export class ProducerPipeline {
  constructor(
    private routing: RoutingTable,
    private readonly deps: PipelineDeps,
  ) {}

  /** Swaps in a new configuration; requests already routed finish on the old one. */
  setRouting(routing: RoutingTable): void {
    this.routing = routing;
  }

  /** `timeoutMs` is the caller's deadline; deadline handling arrives with the retry logic. */
  sendSync(message: ProducerMessage | undefined, _timeoutMs: number): ResultCode | Promise<ResultCode> {
    if (message?.topic === HEARTBEAT_TOPIC) return ResultCode.OK;
    return this.sendOne(message);
  }

  /** Answers after the storage acknowledges, like the original: "async" is not fire-and-forget. */
  sendAsync(message: ProducerMessage | undefined): ResultCode | Promise<ResultCode> {
    return this.sendOne(message);
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
    return Promise.all(sends).then(() => {
      for (const outcome of outcomes) {
        if (!outcome.ok) return this.failed(outcome);
      }
      return ResultCode.OK;
    });
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

  private sendOne(message: ProducerMessage | undefined): ResultCode | Promise<ResultCode> {
    const prepared = this.prepare(message);
    if (typeof prepared === 'number') return prepared;
    const storage = prepared.cluster.storage;
    if (!storage) return this.noProducer(prepared.cluster);
    return storage.send([prepared.outgoing]).then(([outcome]) => (outcome!.ok ? ResultCode.OK : this.failed(outcome!)));
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
    this.deps.logger.warn({ cluster: cluster.name }, 'no producer for cluster');
    return ResultCode.FAIL_NO_PRODUCER_FOR_CLUSTER;
  }

  private failed(outcome: Extract<SendOutcome, { ok: false }>): ResultCode {
    this.deps.logger.warn({ code: outcome.error.code, err: outcome.error.message }, 'storage send failed');
    return resultForStorageError(outcome.error.code);
  }
}
