/**
 * A RocketMQ cluster as a ClusterStorage, over RocketMQ 5's gRPC protocol
 * (`apache.rocketmq.v2.MessagingService`), through the stubs rocketmq-client-nodejs ships rather than
 * its Producer: the Producer sends one message per request, cannot choose how messages are grouped,
 * and after a telemetry error leaves a reconnect timer that keeps the process alive. The endpoints
 * and their failover are endpoint-pool.ts's, the Telemetry stream telemetry-session.ts's.
 *
 * In RocketMQ 5 the server picks the queue: a single message with a `message_group` is hashed onto
 * one queue (FIFO topics only), anything else goes round-robin. So DDMQ's "queue = |hashId| % n"
 * becomes per-key order: on a `strongOrder` topic, a message with `partitionId >= 0` or `-1` is sent
 * as a FIFO message whose group is `partition-<partitionId>` or `hash-<hashId>` (the exact 64-bit
 * value), one per request and in order per group; everything else is a normal message, and the
 * normal messages of one send go as one multi-message SendMessage, which the server answers with
 * one entry for the batch.
 *
 * Record mapping: tags -> tag, key -> keys, properties -> user properties, body bytes as they are.
 *
 * Security, per cluster: TLS channels (channel-security.ts) and every request, the Telemetry stream
 * included, signed with the cluster's access key (request-signature.ts).
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Timestamp } from 'google-protobuf/google/protobuf/timestamp_pb';
import { MessageIdFactory } from 'rocketmq-client-nodejs/dist/message/MessageId';
import * as pb from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb';
import * as rpc from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_pb';
import { ThrottledWarning } from '../../log';
import type { StorageLogger as Logger } from '../plugin-api';
import { StorageError, type ClusterStorage, type OutgoingMessage, type SendOutcome } from '../storage';
import { TopicSends } from '../topic-sends';
import { backgroundTimers, type Timers } from '../../time/timers';
import { channelSecurity } from './channel-security';
import { EndpointPool } from './endpoint-pool';
import type { RocketmqClusterConfig } from './rocketmq-config';
import { RmqCode, grpcError, isRefusal, isTlsFailure, statusError } from './rocketmq-errors';
import { requestSigner, type RequestSigner } from './request-signature';
import { TelemetrySession } from './telemetry-session';
import { addToGroup } from '../../util/group-by';

const CLIENT_VERSION = 'pproxy';
const CLOSE_GRACE_MS = 10_000;
const TERMINATION_NOTICE_MS = 1000;

interface Route {
  readonly fetchedAt: number;
  /** The topic accepts FIFO messages (and so nothing else). */
  readonly fifo: boolean;
}


export class RocketMqStorage implements ClusterStorage {
  readonly kind = 'rocketmq';
  readonly maxMessageSize: number;
  private readonly pool: EndpointPool;
  private readonly telemetry: TelemetrySession;
  private readonly clientId: string;
  private readonly logger: Logger;
  /** Entries the server refused with a status of no more precise code, refused credentials and certificates: a line per message would flood the log. */
  private readonly refusals: ThrottledWarning;
  /** Signs every request, with the cluster's credentials. */
  private readonly sign: RequestSigner | undefined;
  private readonly routes = new Map<string, Route>();
  private readonly routeFetches = new Map<string, Promise<Route>>();
  /** The body limit the server last published in its Telemetry settings. */
  private serverMaxBodySize: number | undefined;
  private closing: Promise<void> | undefined;
  private readonly sends: TopicSends;

  constructor(
    readonly cluster: string,
    private readonly config: RocketmqClusterConfig,
    logger: Logger,
    timers: Timers = backgroundTimers,
  ) {
    this.logger = logger;
    this.refusals = new ThrottledWarning(this.logger, 1000, timers.now, timers);
    this.sign = config.credentials && requestSigner(config.credentials);
    this.sends = new TopicSends(`rocketmq cluster ${cluster}`, (topic, indices, messages, outcomes) => this.sendTopic(topic, indices, messages, outcomes));
    this.maxMessageSize = config.maxMessageSize;
    this.clientId = `${config.groupPrefix}@${os.hostname()}@${process.pid}@${Date.now().toString(36)}`;
    this.pool = new EndpointPool(config.namesrvAddrs, timers, channelSecurity(config.ssl));
    this.telemetry = new TelemetrySession({
      pool: this.pool,
      timers,
      logger: this.logger,
      requestTimeoutMs: config.sendMsgTimeout,
      clientVersion: CLIENT_VERSION,
      metadata: () => this.metadata(),
      onSettings: (settings) => {
        const maxBodySize = settings.getPublishing()?.getMaxBodySize() ?? 0;
        if (maxBodySize > 0) this.serverMaxBodySize = maxBodySize;
      },
    });
  }

  /**
   * Opens the Telemetry stream and reports this client's settings; the server answers with its own
   * (among them the largest body it accepts). Not awaited: an unreachable endpoint must not keep
   * the proxy from starting, and sends fail with their own errors meanwhile.
   */
  start(): Promise<void> {
    this.telemetry.open();
    return Promise.resolve();
  }

  /** Fetches the topics' routes (a failure is fetched, and answered, again on send). */
  async warmUp(topics: readonly string[]): Promise<void> {
    await Promise.allSettled(topics.map((topic) => this.route(topic)));
  }

  send(messages: readonly OutgoingMessage[]): Promise<SendOutcome[]> {
    return this.sends.send(messages);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.sends.close(CLOSE_GRACE_MS);
      this.telemetry.close();
      const request = new rpc.NotifyClientTerminationRequest();
      await this.pool
        .unary(Date.now() + TERMINATION_NOTICE_MS, (client, deadline, done) => client.notifyClientTermination(request, this.metadata(), { deadline }, done))
        .catch(() => undefined);
      this.pool.close();
    })();
    return this.closing;
  }

  private async sendTopic(topic: string, indices: number[], messages: readonly OutgoingMessage[], outcomes: SendOutcome[]): Promise<void> {
    let route: Route;
    try {
      route = await this.route(topic);
    } catch (error) {
      const failure = error instanceof StorageError ? error : new StorageError('UNKNOWN', String(error), false);
      for (const i of indices) outcomes[i] = { ok: false, error: failure };
      return;
    }
    const limit = Math.min(this.config.maxMessageSize, this.serverMaxBodySize ?? Number.POSITIVE_INFINITY);
    const sendable = indices.filter((i) => {
      const { body } = messages[i]!;
      if (body.length <= limit) return true;
      const reason = `body of ${body.length} bytes exceeds the ${limit} bytes rocketmq ${this.cluster} accepts`;
      outcomes[i] = { ok: false, error: new StorageError('MESSAGE_TOO_LARGE', reason, false) };
      return false;
    });
    const { normal, groups } = splitByGroup(sendable, messages, route.fifo);
    const calls: Promise<void>[] = [];
    if (normal.length > 0) calls.push(this.sendMessages(normal, messages, outcomes, undefined));
    // one request per FIFO message (the server hashes only single-message requests), in order per group
    for (const [group, members] of groups) {
      calls.push(
        (async () => {
          for (const i of members) await this.sendMessages([i], messages, outcomes, group);
        })(),
      );
    }
    await Promise.all(calls);
  }

  /** One SendMessage carrying `indices`; each message gets its entry's outcome. */
  private async sendMessages(indices: number[], messages: readonly OutgoingMessage[], outcomes: SendOutcome[], group: string | undefined): Promise<void> {
    const request = new rpc.SendMessageRequest();
    for (const i of indices) request.addMessages(toProtobuf(messages[i]!, group));
    let response: rpc.SendMessageResponse;
    try {
      response = await this.pool.unary<rpc.SendMessageResponse>(Date.now() + this.config.sendMsgTimeout, (client, deadline, done) =>
        client.sendMessage(request, this.metadata(), { deadline }, done),
      );
    } catch (error) {
      const failure = this.callFailure(error as grpc.ServiceError);
      for (const i of indices) outcomes[i] = { ok: false, error: failure };
      return;
    }
    const status = response.getStatus();
    const entries = response.getEntriesList();
    // Apache RocketMQ's proxy stores several messages as one broker batch and answers it with a
    // single entry (the batch's first queue offset): that entry stands for every message of the call
    const wholeCall = indices.length > 1 && entries.length === 1;
    indices.forEach((i, j) => {
      const entry = wholeCall ? entries[0] : entries[j];
      const entryStatus = entry?.getStatus() ?? status;
      const code = entryStatus?.getCode() ?? 0;
      if (code === RmqCode.OK && entry) {
        outcomes[i] = { ok: true, partition: -1, offset: BigInt(entry.getOffset()) + BigInt(wholeCall ? j : 0) };
      } else {
        const failure = this.statusFailure(code, entryStatus?.getMessage() ?? 'no entry for the message');
        if (failure.code === 'UNKNOWN') this.refusals.warn(`refused:${code}`, { code, message: entryStatus?.getMessage() }, 'rocketmq refused a message');
        outcomes[i] = { ok: false, error: failure };
      }
    });
    if (status?.getCode() === RmqCode.TOPIC_NOT_FOUND) this.routes.delete(messages[indices[0]!]!.topic);
  }

  /** The topic's route, from cache or QueryRoute (concurrent callers share one call). */
  private route(topic: string): Promise<Route> {
    const cached = this.routes.get(topic);
    if (cached && Date.now() - cached.fetchedAt < this.config.routeMaxAge) return Promise.resolve(cached);
    let fetching = this.routeFetches.get(topic);
    if (!fetching) {
      fetching = this.queryRoute(topic).finally(() => this.routeFetches.delete(topic));
      this.routeFetches.set(topic, fetching);
    }
    // a stale route still serves while its refresh fails
    return cached ? fetching.catch(() => cached) : fetching;
  }

  private async queryRoute(topic: string): Promise<Route> {
    const request = new rpc.QueryRouteRequest();
    request.setTopic(resource(topic));
    request.setEndpoints(this.pool.accessPoint());
    let response: rpc.QueryRouteResponse;
    try {
      response = await this.pool.unary<rpc.QueryRouteResponse>(Date.now() + this.config.sendMsgTimeout, (client, deadline, done) =>
        client.queryRoute(request, this.metadata(), { deadline }, done),
      );
    } catch (error) {
      throw this.callFailure(error as grpc.ServiceError);
    }
    const code = response.getStatus()?.getCode() ?? 0;
    if (code !== RmqCode.OK) throw this.statusFailure(code, response.getStatus()?.getMessage() ?? '');
    const queues = response.getMessageQueuesList();
    if (queues.length === 0) throw new StorageError('TOPIC_NOT_FOUND', `rocketmq ${this.cluster}: topic ${topic} has no queues`, false);
    const fifo = queues.some((q) => q.getAcceptMessageTypesList().includes(pb.MessageType.FIFO));
    const route = { fetchedAt: Date.now(), fifo };
    this.routes.set(topic, route);
    return route;
  }

  /** A failed call as a StorageError; a TLS failure is also logged, throttled. */
  private callFailure(error: grpc.ServiceError): StorageError {
    const failure = grpcError(error, this.cluster);
    if (isTlsFailure(error)) this.warnSecurityFailure(failure);
    return failure;
  }

  /** A status the server answered as a StorageError; a refusal of the credentials is also logged, throttled. */
  private statusFailure(code: number, message: string): StorageError {
    const failure = statusError(code, message, this.cluster);
    if (isRefusal(code)) this.warnSecurityFailure(failure);
    return failure;
  }

  /**
   * One line a second for the cluster, with the server's or Node's cause (never a credential: neither
   * holds one): every send fails the same way until the configuration changes.
   */
  private warnSecurityFailure(failure: StorageError): void {
    this.refusals.warn('security', { err: failure.message }, 'rocketmq cluster refused the request: authentication or TLS failed');
  }

  /**
   * The transport headers every RocketMQ 5 server expects (rocketmq-clients docs/transport.md), and
   * the signature when the cluster has credentials.
   */
  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set('x-mq-protocol', 'v2');
    metadata.set('x-mq-client-id', this.clientId);
    const dateTime = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    metadata.set('x-mq-date-time', dateTime);
    metadata.set('x-mq-request-id', randomUUID());
    metadata.set('x-mq-language', 'OTHER');
    metadata.set('x-mq-client-version', CLIENT_VERSION);
    this.sign?.(metadata, dateTime);
    return metadata;
  }
}

/** The FIFO group of a message on a strongOrder topic, or undefined for a normal message. */
export function messageGroup(m: OutgoingMessage): string | undefined {
  if (!m.ordered) return undefined;
  if (m.partitionId >= 0) return `partition-${m.partitionId}`;
  if (m.partitionId === -1) return `hash-${m.hashId}`;
  return undefined;
}

/** A topic's messages as normal ones and FIFO groups (none unless the route is FIFO), send order kept in each. */
export function splitByGroup(indices: readonly number[], messages: readonly OutgoingMessage[], fifo: boolean): { normal: number[]; groups: Map<string, number[]> } {
  const normal: number[] = [];
  const groups = new Map<string, number[]>();
  for (const i of indices) {
    const group = fifo ? messageGroup(messages[i]!) : undefined;
    if (group === undefined) normal.push(i);
    else addToGroup(groups, group, i);
  }
  return { normal, groups };
}

function toProtobuf(m: OutgoingMessage, group: string | undefined): pb.Message {
  const system = new pb.SystemProperties();
  system.setMessageId(MessageIdFactory.create().toString());
  system.setBornTimestamp(Timestamp.fromDate(new Date(m.timestamp)));
  system.setBornHost(os.hostname());
  system.setBodyEncoding(pb.Encoding.IDENTITY);
  system.setMessageType(group === undefined ? pb.MessageType.NORMAL : pb.MessageType.FIFO);
  if (m.tags) system.setTag(m.tags);
  if (m.key) system.setKeysList([m.key]);
  if (group !== undefined) system.setMessageGroup(group);
  const message = new pb.Message();
  message.setTopic(resource(m.topic));
  message.setBody(m.body);
  message.setSystemProperties(system);
  if (m.properties) {
    const user = message.getUserPropertiesMap();
    for (const [name, value] of m.properties) user.set(name, value);
  }
  return message;
}

function resource(name: string): pb.Resource {
  return new pb.Resource().setName(name);
}
