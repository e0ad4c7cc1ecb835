/**
 * A RocketMQ 4 cluster over the remoting protocol, as DDMQ's proxy uses it: topic routes from the
 * name servers, each message sent straight to the master broker of the queue DDMQ's rule picks
 * (queue-choice.ts), as `rocketmqProducers` producer groups named as DDMQ names them
 * (`<groupPrefix>_<start ms><i>`), taking turns, each registered with the brokers by heartbeat.
 *
 * One send's messages to one queue go as one SEND_BATCH_MESSAGE (auto-batched singles, a
 * sendBatchSync), split where the batch would pass `maxMessageSize`; a message alone as
 * SEND_MESSAGE_V2, its body compressed (zlib, off the event loop) from `compressMsgBodyOverHowmuch`
 * bytes on, as the 4.x producer does. A batch is one write on the broker: it is stored or refused
 * as a whole.
 *
 * Retries: DDMQ's client never retries (it forces retryTimesWhenSendFailed to 0); here the setting
 * is honoured, within `sendMsgTimeout`: a failure another attempt can cure is sent again, up to that
 * many times, to a queue of another broker, except for an ordered message, which is never moved (a
 * later message of its queue would overtake it). The pipeline's own extra attempt before the
 * caller's deadline is recognised (the same message handed over again) and goes to another broker
 * too. A broker that stored a message but did not flush or replicate it in time (FLUSH_DISK_TIMEOUT,
 * FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE) answers OK, as in DDMQ, unless
 * `retryAnotherBrokerWhenNotStoreOK` asks for another attempt elsewhere (which may store it twice,
 * as with the 4.x client).
 *
 * With `credentials`, every request (to name servers and brokers alike, as the 4.x client's RPC hook signs
 * them all) carries RocketMQ 4's ACL signature. A broker's ACL refusal is answered at once, not
 * retried, and logged once a second for the cluster with the broker's reason.
 */
import os from 'node:os';
import type { RocketmqClusterConfig } from '../rocketmq/rocketmq-config';
import type { StorageCounter, StorageLogger, StorageMetrics, StorageTimers } from '../plugin-api';
import { StorageError, type ClusterStorage, type OutgoingMessage, type SendOutcome } from '../storage';
import { ThrottledWarning } from '../../log';
import { PARTITION_BY_HASH } from '../../routing/partition';
import { TopicSends } from '../topic-sends';
import { requestSigner, type RequestSigner } from './remoting/acl-signature';
import { ResponseError } from './remoting/codes';
import { BrokerConnections } from './broker-connections';
import { firstQueue, retryQueue } from './queue-choice';
import { sendHeartbeat, unregisterClient } from './remoting/heartbeat';
import { compressBody, UniqIdGenerator, type OutgoingMessage as RemotingMessage } from './remoting/message-codec';
import { NameServerClient } from './remoting/name-server';
import { parseSendResponse, sendBatchRequest, sendMessageRequest, type BuiltSend, type SendTarget } from './remoting/send-message';
import type { WriteQueue } from './remoting/topic-route';
import { brokerRefusal, isAclRefusal, transportFailure } from './rocketmq4-errors';
import { TopicRoutes, type PublishRoute, type RouteState } from './topic-routes';

/** How long close() lets sends under way finish. */
const CLOSE_GRACE_MS = 5000;
/** Bound of a heartbeat or an unregistration. */
const REGISTRATION_TIMEOUT_MS = 3000;
/** Topic names a 4.x broker accepts (TopicValidator, which its client's Validators share). */
const TOPIC_NAME = /^[%|a-zA-Z0-9_-]+$/;
/** Past this a 4.9 broker answers SYSTEM_ERROR, which would read as a retriable failure. */
const MAX_TOPIC_LENGTH = 127;
const PROPERTY_SEPARATORS = /[\u0001\u0002]/;
/** The 4.x template topic, never a destination. */
const DEFAULT_TOPIC = 'TBW102';

/** Broker requests by outcome: stored (ok), refused by the broker, or failed on the way. */
interface RequestTally {
  readonly ok: StorageCounter;
  readonly refused: StorageCounter;
  readonly failed: StorageCounter;
}

interface Tallies {
  readonly send: RequestTally;
  readonly batch: RequestTally;
  readonly retries: StorageCounter;
}

interface Attempt {
  /** Indices (into the send's messages) of what goes to `queue`, in order. */
  readonly indices: number[];
  readonly queue: WriteQueue;
}

export class RocketMq4Storage implements ClusterStorage {
  readonly kind = 'rocketmq';
  readonly maxMessageSize: number;
  private readonly nameServers: NameServerClient;
  private readonly routes: TopicRoutes;
  private readonly connections: BrokerConnections;
  private readonly sends: TopicSends;
  private readonly ids = new UniqIdGenerator();
  /** DDMQ's producer groups of this cluster; sends take turns. */
  private readonly groups: string[];
  private readonly clientId: string;
  private nextGroup = 0;
  /** The broker each message's last attempt went to: a message handed over again is a retry. */
  private readonly lastBroker = new WeakMap<OutgoingMessage, string>();
  private heartbeatTimer: unknown;
  private closing: Promise<void> | undefined;
  private readonly tallies: Tallies;
  private readonly aclRefusals: ThrottledWarning;

  constructor(
    readonly cluster: string,
    private readonly config: RocketmqClusterConfig,
    producers: number,
    private readonly logger: StorageLogger,
    private readonly timers: StorageTimers,
    metrics: StorageMetrics,
    private readonly random: () => number = Math.random,
  ) {
    this.maxMessageSize = config.maxMessageSize;
    const connectTimeoutMs = Math.min(config.sendMsgTimeout, 3000);
    const sign = aclSigner(config.credentials);
    this.nameServers = new NameServerClient(config.namesrvAddrs, { connectTimeoutMs, sign });
    this.routes = new TopicRoutes(this.nameServers, timers, config.pollNameServerInterval, config.sendMsgTimeout);
    this.connections = new BrokerConnections({ connectTimeoutMs, sign });
    this.aclRefusals = new ThrottledWarning(logger, 1000, () => timers.now(), timers);
    this.sends = new TopicSends(`rocketmq cluster ${cluster}`, (topic, indices, messages, outcomes) => this.sendTopic(topic, indices, messages, outcomes));
    const prefix = `${config.groupPrefix}_${timers.now()}`;
    this.groups = Array.from({ length: Math.max(1, producers) }, (_, i) => `${prefix}${i}`);
    this.clientId = `${os.hostname()}@${prefix}`;
    const requests = metrics.counter('broker_requests_total', 'Requests to brokers by kind (send, batch) and result (ok, refused, failed).', ['request', 'result']);
    const tally = (request: string): RequestTally => ({
      ok: requests.labels({ request, result: 'ok' }),
      refused: requests.labels({ request, result: 'refused' }),
      failed: requests.labels({ request, result: 'failed' }),
    });
    this.tallies = {
      send: tally('send'),
      batch: tally('batch'),
      retries: metrics.counter('send_retries_total', 'Messages sent again within sendMsgTimeout (retryTimesWhenSendFailed, retryAnotherBrokerWhenNotStoreOK).').labels(),
    };
  }

  /** Starts polling routes and heartbeats; connections open on first use. */
  start(): Promise<void> {
    this.routes.start();
    this.scheduleHeartbeat();
    return Promise.resolve();
  }

  /** Looks the topics' routes up and registers with their brokers, as DDMQ's warm-up fetches routes. */
  async warmUp(topics: readonly string[]): Promise<void> {
    const lookups = await Promise.allSettled(topics.map((topic) => this.routes.refresh(topic)));
    const failed = lookups.filter((l) => l.status === 'rejected').length;
    if (failed > 0) this.logger.warn({ failed, topics: topics.length }, 'rocketmq routes not found at warm-up: looked up again on the first send');
    await this.heartbeat();
  }

  illegalMessageReason(message: OutgoingMessage): string | undefined {
    const topic = message.topic;
    if (topic.length > MAX_TOPIC_LENGTH) return `topic is longer than ${MAX_TOPIC_LENGTH} characters, which RocketMQ refuses`;
    if (!TOPIC_NAME.test(topic)) return `topic ${JSON.stringify(topic)} has characters RocketMQ refuses (it allows letters, digits, %, |, _ and -)`;
    if (topic === DEFAULT_TOPIC) return `topic ${DEFAULT_TOPIC} is RocketMQ's template topic`;
    // the properties string separates names and values with these two characters
    for (const [name, value] of message.properties ?? []) {
      if (PROPERTY_SEPARATORS.test(name) || PROPERTY_SEPARATORS.test(value)) return `property ${JSON.stringify(name)} holds \\u0001 or \\u0002, RocketMQ's property separators`;
    }
    if (message.tags !== undefined && PROPERTY_SEPARATORS.test(message.tags)) return "tags hold \\u0001 or \\u0002, RocketMQ's property separators";
    if (message.key !== undefined && PROPERTY_SEPARATORS.test(message.key)) return "key holds \\u0001 or \\u0002, RocketMQ's property separators";
    return undefined;
  }

  send(messages: readonly OutgoingMessage[]): Promise<SendOutcome[]> {
    return this.sends.send(messages);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.routes.stop();
      if (this.heartbeatTimer !== undefined) this.timers.clear(this.heartbeatTimer);
      await this.sends.close(CLOSE_GRACE_MS);
      const open = await this.connections.openConnections();
      await Promise.allSettled(
        [...open.values()].flatMap((connection) => this.groups.map((group) => unregisterClient(connection, this.clientId, group, REGISTRATION_TIMEOUT_MS))),
      );
      this.connections.close();
      this.nameServers.close();
    })();
    return this.closing;
  }

  private async sendTopic(topic: string, all: number[], messages: readonly OutgoingMessage[], outcomes: SendOutcome[]): Promise<void> {
    // the 4.x client refuses a body over maxMessageSize before it looks for a route (DDMQ's 11)
    const indices: number[] = [];
    for (const i of all) {
      const size = messages[i]!.body.length;
      if (size <= this.maxMessageSize) indices.push(i);
      else outcomes[i] = { ok: false, error: new StorageError('MESSAGE_TOO_LARGE', `rocketmq ${this.cluster}: a body of ${size} bytes is over maxMessageSize (${this.maxMessageSize})`, false) };
    }
    if (indices.length === 0) return;
    const failAll = (error: StorageError) => {
      for (const i of indices) outcomes[i] = { ok: false, error };
    };
    // the route's first lookup spends the send's budget too, as in the 4.x client
    const deadline = this.timers.now() + this.config.sendMsgTimeout;
    let state: RouteState;
    try {
      state = await this.routes.get(topic);
    } catch (error) {
      failAll(transportFailure(error, `rocketmq ${this.cluster}: no route of ${topic} from the name servers`));
      return;
    }
    if (state.kind === 'topic-not-exist') {
      failAll(new StorageError('TOPIC_NOT_FOUND', `rocketmq ${this.cluster}: the name servers know no topic ${topic}`, false));
      return;
    }
    const route = state.route;
    if (route.queues.length === 0) {
      failAll(new StorageError('UNAVAILABLE', `rocketmq ${this.cluster}: topic ${topic} has no writable queue on a master broker`, true));
      return;
    }
    const attempts = this.byQueue(indices.map((i) => [i, this.queueFor(messages[i]!, route.queues)] as const), messages);
    await Promise.all(attempts.map((attempt) => this.sendAttempt(topic, attempt, messages, outcomes, route, deadline, this.config.retryTimesWhenSendFailed)));
  }

  /** DDMQ's queue for a message: its first attempt by its hints, a later one on another broker. */
  private queueFor(message: OutgoingMessage, queues: readonly WriteQueue[]): WriteQueue {
    const last = this.lastBroker.get(message);
    if (last === undefined || message.ordered) return firstQueue(queues, message.partitionId, message.hashId, this.random);
    return this.movedQueue(hinted(message) ? firstQueue(queues, message.partitionId, message.hashId, this.random) : undefined, last, queues);
  }

  /**
   * Another attempt's queue: on another broker than `lastBroker` when the topic has one. Without
   * one, messages with a partition or hash hint stay on their queue, `hintedQueue` (another queue of
   * the same broker would cure nothing and lose their placement); others take a random queue, as
   * the 4.x client does.
   */
  private movedQueue(hintedQueue: WriteQueue | undefined, lastBroker: string, queues: readonly WriteQueue[]): WriteQueue {
    if (hintedQueue !== undefined && queues.every((q) => q.brokerName === lastBroker)) return hintedQueue;
    return retryQueue(queues, lastBroker, this.random);
  }

  /** The messages grouped by queue, each group in send order and cut where a batch would grow past maxMessageSize. */
  private byQueue(chosen: readonly (readonly [number, WriteQueue])[], messages: readonly OutgoingMessage[]): Attempt[] {
    // the queues are the route's own objects: one object per queue
    const groups = new Map<WriteQueue, { indices: number[]; bytes: number }[]>();
    for (const [i, queue] of chosen) {
      let batches = groups.get(queue);
      if (!batches) groups.set(queue, (batches = []));
      const bytes = messages[i]!.body.length;
      const last = batches.at(-1);
      if (last && last.bytes + bytes <= this.maxMessageSize) {
        last.indices.push(i);
        last.bytes += bytes;
      } else batches.push({ indices: [i], bytes });
    }
    return [...groups].flatMap(([queue, batches]) => batches.map(({ indices }) => ({ indices, queue })));
  }

  private async sendAttempt(
    topic: string,
    attempt: Attempt,
    messages: readonly OutgoingMessage[],
    outcomes: SendOutcome[],
    route: PublishRoute,
    deadline: number,
    retriesLeft: number,
  ): Promise<void> {
    const { indices, queue } = attempt;
    for (const i of indices) this.lastBroker.set(messages[i]!, queue.brokerName);
    const where = `rocketmq ${this.cluster}: ${topic} on ${queue.brokerName}/${queue.queueId}`;
    const batch = indices.length > 1;
    const tally = batch ? this.tallies.batch : this.tallies.send;
    let failure: StorageError;
    let notStoredOk = false;
    try {
      const address = route.masters.get(queue.brokerName);
      if (address === undefined) throw new StorageError('UNAVAILABLE', `${where}: the route names no master address`, true);
      const connection = await this.connections.get(address);
      const target = { producerGroup: this.nextProducerGroup(), topic, queueId: queue.queueId };
      const outgoing = indices.map((i) => remotingMessage(messages[i]!));
      const built = batch ? sendBatchRequest(target, outgoing, this.ids) : await this.singleRequest(target, outgoing[0]!);
      // taken after the connect and the compression, which spend the same budget
      const remaining = deadline - this.timers.now();
      if (remaining <= 0) throw new StorageError('TIMEOUT', `${where}: sendMsgTimeout (${this.config.sendMsgTimeout} ms) spent before this attempt`, true);
      const answer = parseSendResponse(await connection.request(built.request, remaining), built.uniqIds);
      if (answer.stored) {
        notStoredOk = answer.code !== 0 && this.config.retryAnotherBrokerWhenNotStoreOK;
        if (!notStoredOk) {
          tally.ok.inc();
          // the partition is the queue's index in the route, the order DDMQ's rule indexes
          const storedOn = answer.queueId ?? queue.queueId;
          const partition = route.queues.findIndex((q) => q.brokerName === queue.brokerName && q.queueId === storedOn);
          indices.forEach((i, n) => {
            outcomes[i] = { ok: true, partition, offset: answer.queueOffset === undefined ? undefined : BigInt(answer.queueOffset + n) };
          });
          return;
        }
      }
      failure = brokerRefusal(answer.code, answer.remark, where);
      if (isAclRefusal(answer.code, answer.remark)) this.warnAclRefusal(failure.message);
      if (notStoredOk) failure = new StorageError('UNAVAILABLE', `${where}: stored but not flushed or replicated in time (${answer.code}); sent again elsewhere (retryAnotherBrokerWhenNotStoreOK)`, true);
      tally.refused.inc();
      if (failure.code === 'TOPIC_NOT_FOUND') void this.routes.refresh(topic).catch(() => undefined);
    } catch (error) {
      failure = transportFailure(error, where);
      tally.failed.inc();
    }
    const ordered = indices.some((i) => messages[i]!.ordered);
    if (failure.retriable && retriesLeft > 0 && !ordered && this.timers.now() < deadline) {
      this.tallies.retries.inc(indices.length);
      // a batch's messages share a queue: kept when any of them has a hint
      const next = { indices, queue: this.movedQueue(indices.some((i) => hinted(messages[i]!)) ? queue : undefined, queue.brokerName, route.queues) };
      await this.sendAttempt(topic, next, messages, outcomes, route, deadline, retriesLeft - 1);
      return;
    }
    for (const i of indices) outcomes[i] = { ok: false, error: failure };
  }

  /** A single message's request, its body compressed (off the event loop) when large enough. */
  private async singleRequest(target: SendTarget, message: RemotingMessage): Promise<BuiltSend> {
    return sendMessageRequest(target, message, await compressBody(message.body, this.config.compressMsgBodyOverHowmuch), this.ids);
  }

  private nextProducerGroup(): string {
    const group = this.groups[this.nextGroup]!;
    this.nextGroup = (this.nextGroup + 1) % this.groups.length;
    return group;
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer = this.timers.set(() => {
      void this.heartbeat().finally(() => {
        if (!this.closing) this.scheduleHeartbeat();
      });
    }, this.config.heartbeatBrokerInterval);
  }

  /** Every producer group registered with every master broker of the routes held. */
  private async heartbeat(): Promise<void> {
    const registrations = [...this.routes.masterAddresses()].flatMap((address) =>
      this.groups.map(async (group) => sendHeartbeat(await this.connections.get(address), this.clientId, group, REGISTRATION_TIMEOUT_MS)),
    );
    const results = await Promise.allSettled(registrations);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length > 0) this.logger.debug({ failed: failed.length, of: results.length }, 'rocketmq heartbeats failed');
    // without traffic the heartbeats are the first to meet credentials a broker refuses
    const refused = failed.map((r) => r.reason as unknown).find((e): e is ResponseError => e instanceof ResponseError && isAclRefusal(e.code, e.remark));
    if (refused) this.warnAclRefusal(`rocketmq ${this.cluster}: ${refused.message}`);
  }

  /** One line a second for the cluster: every request fails the same way until the configuration changes. */
  private warnAclRefusal(reason: string): void {
    this.aclRefusals.warn('acl', { err: reason }, 'rocketmq broker refused the request: authentication or permission failed (ACL)');
  }
}

/** The cluster's request signer: the one place its ACL secret key and security token are revealed. */
function aclSigner(credentials: RocketmqClusterConfig['credentials']): RequestSigner | undefined {
  if (credentials === undefined) return undefined;
  return requestSigner({ accessKey: credentials.accessKey, secretKey: credentials.secretKey.reveal(), securityToken: credentials.securityToken?.reveal() });
}

/** A message whose queue its partition or hash hint says. */
function hinted(message: OutgoingMessage): boolean {
  return message.partitionId >= PARTITION_BY_HASH;
}

/** The remoting layer's message: DDMQ's key as KEYS, tags as TAGS, user properties as they are. */
function remotingMessage(message: OutgoingMessage): RemotingMessage {
  return {
    body: message.body,
    tags: message.tags || undefined,
    keys: message.key ? [message.key] : undefined,
    properties: message.properties ? Object.fromEntries(message.properties) : undefined,
  };
}
