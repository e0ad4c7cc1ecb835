/**
 * One JetStream cluster as a ClusterStorage: each message is one publish to its topic's stream, on
 * the subject of its partition, acknowledged by the server with the stream sequence.
 *
 * - Every message carries an id (Nats-Msg-Id, message-ids.ts) kept for the same OutgoingMessage
 *   object, which the host passes again when it retries: the server drops a repeat within the
 *   stream's duplicate window, so a retry after a lost ack stores nothing twice.
 * - Publishes go out pipelined on the one connection, which the server stores in sending order.
 *   Messages of an ordered (strongOrder) topic with a partition or hash hint go through the
 *   subject's order fence instead (subject-order.ts): one at a time, and none ahead of an older one
 *   that failed retriably and is awaited again.
 * - While the connection is down nothing is sent (the client would only buffer it until its next
 *   dial discards the buffer): sends fail at once, retriably unless the client closed it for good.
 */
import { headers, type PubAck } from 'nats';
import type { ClusterStorage, OutgoingMessage, SendOutcome, StorageContext, StorageCounter, StorageFailure } from 'pproxy/storage';
import type { StorageTimers as Clock } from 'pproxy/storage';
import type { JetStreamConfig } from './config';
import { Connection } from './connection';
import { closedFailure, connectionLostFailure, notConnectedFailure, notDeduplicated, notStartedFailure, publishFailure } from './errors';
import { FailureLog } from './failure-log';
import { headerBlockSize, illegalHeaderReason, messageHeaders } from './headers';
import { MSG_ID_LENGTH, messageId } from './message-ids';
import { Streams, type ReadyStream } from './streams';
import { SubjectOrderFence } from './subject-order';

/**
 * Room kept in max_payload for the headers of a message with no properties: the id, the expected
 * stream (a 255-character topic, escaped), the key and tags at DDMQ's 255 characters, in UTF-8. A
 * body up to max_payload less this always fits; properties past the room are refused whole.
 */
const HEADER_ROOM = 4096;

interface Routed {
  readonly index: number;
  readonly message: OutgoingMessage;
  readonly partition: number;
  readonly subject: string;
}

export class JetStreamStorage implements ClusterStorage {
  readonly kind = 'jetstream';
  readonly cluster: string;
  private connection: Connection | undefined;
  private streams: Streams | undefined;
  /** The first start()'s connection attempt, which close() waits for. */
  private opening: Promise<Connection> | undefined;
  private closing: Promise<void> | undefined;
  private readonly failures: FailureLog;
  /**
   * Connections made again after one was lost: what only this storage sees. The messages stored and
   * the failures by code the host counts for every storage (pproxy_storage_messages_stored_total,
   * pproxy_storage_errors_total).
   */
  private readonly reconnects: StorageCounter;
  private readonly order: SubjectOrderFence<Routed>;
  private readonly sending = new Set<Promise<unknown>>();

  constructor(
    private readonly config: JetStreamConfig,
    private readonly context: StorageContext,
    clock: Clock = context.timers,
  ) {
    this.cluster = context.cluster;
    this.failures = new FailureLog(context.logger);
    this.reconnects = context.metrics.counter('reconnects_total', 'Connections to the NATS server made again after one was lost.').labels();
    this.order = new SubjectOrderFence(clock, config.orderedRetryWindowMs, (r) => this.publishOrdered(r));
  }

  /** Once connected, the server's max_payload less the headers' room, or the configured bound if lower. */
  get maxMessageSize(): number | undefined {
    const payload = this.connection?.maxPayload;
    const configured = this.config.maxMessageSize;
    if (payload === undefined) return configured;
    const server = Math.max(1, payload - HEADER_ROOM);
    return configured === undefined ? server : Math.min(server, configured);
  }

  illegalMessageReason(message: OutgoingMessage): string | undefined {
    const reason = illegalHeaderReason(message);
    if (reason !== undefined) return reason;
    const limit = this.connection?.maxPayload;
    if (limit === undefined || !this.streams) return undefined;
    const size = message.body.length + headerBlockSize(messageHeaders(message), 'x'.repeat(MSG_ID_LENGTH), this.streams.names(message.topic).stream);
    if (size > limit) return `message with its headers is ${size} bytes, more than the max_payload ${limit} of jetstream ${this.cluster}`;
    return undefined;
  }

  /** Connects; rejects when close() came first or meanwhile (close() then closes the new connection). */
  async start(): Promise<void> {
    if (this.connection) return;
    if (this.closing) throw new Error(`jetstream ${this.cluster} is closed`);
    this.opening ??= Connection.open(this.config, this.cluster, this.context.logger, this.failures, this.reconnects);
    const connection = await this.opening;
    if (this.closing) {
      await this.closing;
      throw new Error(`jetstream ${this.cluster} was closed while it connected`);
    }
    this.connection = connection;
    this.streams = new Streams(connection, this.config, this.cluster, this.context.logger);
    this.context.logger.info({ servers: this.config.servers, maxPayload: connection.maxPayload }, 'jetstream connected');
  }

  async warmUp(topics: readonly string[]): Promise<void> {
    const streams = this.streams;
    if (!streams || this.closing) return;
    await Promise.all(topics.map((topic) => streams.ready(topic)));
  }

  send(messages: readonly OutgoingMessage[]): Promise<SendOutcome[]> {
    const outcomes: SendOutcome[] = new Array(messages.length);
    if (this.closing || !this.connection || !this.streams) {
      const failure = this.closing ? closedFailure(this.cluster) : notStartedFailure(this.cluster);
      return Promise.resolve(messages.map(() => ({ ok: false, error: failure })));
    }
    const streams = this.streams;
    const byTopic = new Map<string, Routed[]>();
    messages.forEach((message, index) => {
      const routed = this.route(message, index, streams, outcomes);
      if (!routed) return;
      const group = byTopic.get(message.topic);
      if (group) group.push(routed);
      else byTopic.set(message.topic, [routed]);
    });
    const work: Promise<void>[] = [];
    for (const [topic, routed] of byTopic) {
      const free = routed.filter((r) => !inOrder(r.message));
      if (free.length > 0) work.push(this.sendFree(topic, free, outcomes));
      for (const r of routed) {
        if (inOrder(r.message)) work.push(this.order.send(r).then((outcome) => void (outcomes[r.index] = outcome)));
      }
    }
    const done = Promise.all(work).then(() => outcomes);
    this.sending.add(done);
    void done.finally(() => this.sending.delete(done));
    return done;
  }

  /**
   * Stops taking messages, answers the held ordered ones CLOSED, waits for the publishes under way
   * (each bounded) and for a start() still connecting, then closes the connection.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.order.close(closedFailure(this.cluster));
      await Promise.allSettled([...this.sending]);
      const connection = await this.opening?.catch(() => undefined);
      await connection?.close();
      this.failures.flush();
    })();
    return this.closing;
  }

  /** The message's partition and subject, or its outcome when it cannot be sent. */
  private route(message: OutgoingMessage, index: number, streams: Streams, outcomes: SendOutcome[]): Routed | undefined {
    const illegal = illegalHeaderReason(message);
    if (illegal !== undefined) {
      outcomes[index] = { ok: false, error: { code: 'MESSAGE_ILLEGAL', message: illegal, retriable: false } };
      return undefined;
    }
    const limit = this.maxMessageSize;
    if (limit !== undefined && message.body.length > limit) {
      const text = `body of ${message.body.length} bytes exceeds the ${limit} bytes jetstream ${this.cluster} accepts`;
      outcomes[index] = { ok: false, error: { code: 'MESSAGE_TOO_LARGE', message: text, retriable: false } };
      return undefined;
    }
    const partition = this.context.choosePartition(message, this.config.partitions);
    if (partition === undefined) {
      const text = `partition ${message.partitionId} is out of range: jetstream ${this.cluster} maps ${this.config.partitions} partition(s) per topic`;
      outcomes[index] = { ok: false, error: { code: 'PARTITION_OUT_OF_RANGE', message: text, retriable: false } };
      return undefined;
    }
    return { index, message, partition, subject: `${streams.names(message.topic).subjectBase}.${partition}` };
  }

  /** Publishes pipelined, in input order. */
  private async sendFree(topic: string, routed: readonly Routed[], outcomes: SendOutcome[]): Promise<void> {
    const stream = await this.streams!.ready(topic);
    if ('code' in stream) {
      for (const r of routed) outcomes[r.index] = this.failed(topic, r.subject, stream);
      return;
    }
    await Promise.all(
      routed.map(async (r) => {
        outcomes[r.index] = await this.publish(stream, r);
      }),
    );
  }

  /** One ordered message, when the fence gives it its turn: its stream's lookup failing fences the subject like a publish. */
  private async publishOrdered(r: Routed): Promise<SendOutcome> {
    const stream = await this.streams!.ready(r.message.topic);
    if ('code' in stream) return this.failed(r.message.topic, r.subject, stream);
    return this.publish(stream, r);
  }

  private async publish(stream: ReadyStream, r: Routed): Promise<SendOutcome> {
    const topic = r.message.topic;
    const connection = this.connection!;
    if (!connection.connected) return this.failed(topic, r.subject, notConnectedFailure(this.cluster, connection.closedForGood));
    let ack: PubAck | undefined;
    let failure: StorageFailure;
    try {
      const h = headers();
      for (const [name, value] of messageHeaders(r.message)) h.set(name, value);
      ack = await connection.unlessLost(
        connection.js.publish(r.subject, r.message.body, { msgID: messageId(r.message), expect: { streamName: stream.stream }, headers: h }),
      );
      if (ack !== undefined) return { ok: true, partition: r.partition, offset: BigInt(ack.seq) };
      failure = connectionLostFailure(this.cluster, r.subject);
    } catch (error) {
      failure = publishFailure(error, this.cluster, r.subject);
      if ((error as { code?: string }).code === '503' || failure.code === 'TOPIC_NOT_FOUND') this.streams!.forget(topic);
    }
    const window = stream.shortDuplicateWindowMs;
    return this.failed(topic, r.subject, window === undefined ? failure : notDeduplicated(failure, stream.stream, window));
  }

  private failed(topic: string, subject: string, error: StorageFailure): SendOutcome {
    this.failures.warn(`send:${error.code}`, { topic, subject, code: error.code, err: error.message }, 'jetstream send failed');
    return { ok: false, error };
  }
}

/** Whether the message must keep its order within its partition. */
function inOrder(message: OutgoingMessage): boolean {
  return message.ordered && message.partitionId >= -1;
}
