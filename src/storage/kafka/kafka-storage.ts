/**
 * A Kafka cluster as a ClusterStorage, on kafkajs: `kafkaProducers` producers (one picked at random
 * per send, as DDMQ does) and an admin client for partition metadata.
 *
 * Record mapping: key -> record key, body -> value (bytes as they are), properties -> headers of the
 * same names, non-empty tags -> header `TAGS` (a name no property can take: RocketMQ reserves it).
 * The partition is chosen here from DDMQ's hints against the topic's real partition count, because
 * kafkajs silently drops a record sent to a partition that does not exist.
 */
import { installCompressionCodec, Kafka, logLevel, type Admin, type IHeaders, type LogEntry, type Message, type Producer, type RecordMetadata } from './kafkajs';
import { ThrottledWarning } from '../../log';
import type { StorageLogger as Logger, StorageCounter, StorageMetrics } from '../plugin-api';
import { StorageMetricSet } from '../storage-metrics';
import { TIMED_OUT, timeLimit } from '../../time/time-limit';
import { choosePartition } from '../../routing/partition';
import { StorageError, type ClusterStorage, type OutgoingMessage, type SendOutcome } from '../storage';
import { TopicSends } from '../topic-sends';
import type { LibraryLoader } from './codec-libraries';
import { kafkaAcks, kafkaClientId, kafkaSasl, type KafkaClusterConfig } from './kafka-config';
import { tlsConnectionOptions } from '../tls-client';
import { Compression, type CompressionCode } from './record-codecs';
import { isSecurityFailure, toStorageError } from './kafka-errors';
import { PartitionCounts } from './partition-counts';
import { brokerSocketFactory } from './socket-factory';

/** Kafka header carrying DDMQ's tags. */
export const TAGS_HEADER = 'TAGS';

/** How long close() lets sends under way finish before disconnecting. */
const CLOSE_GRACE_MS = 10_000;
/** Below the host's 60 s bound on a send, after which it frees the send's budget bytes. */
const MAX_TURN_WAIT_MS = 30_000;

interface KafkaRecord {
  partition: number;
  key: string | null;
  value: Buffer;
  headers: IHeaders;
  timestamp: string;
}

export class KafkaStorage implements ClusterStorage {
  readonly kind = 'kafka';
  readonly maxMessageSize = undefined;
  private readonly producers: Producer[];
  private readonly newProducer: (index: number) => Producer;
  private readonly admin: Admin;
  private readonly counts: PartitionCounts;
  private readonly acks: -1 | 0 | 1;
  /** Set by start(), which loads the configured codec. */
  private compression: CompressionCode = Compression.None;
  private readonly logger: Logger;
  /** kafkajs' errors and warnings, one line a second per message. */
  private readonly clientProblems: ThrottledWarning;
  private connecting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** Set once close()'s grace is over: what has not started by then is not sent. */
  private closed = false;
  private readonly sends: TopicSends;
  /** With enableIdempotence, per producer, the end of its last send (see inTurn). */
  private readonly turns: Promise<unknown>[];
  /** With enableIdempotence, the producers whose last send failed (see inTurn). */
  private readonly failedLast = new Set<number>();
  /** With enableIdempotence, the sends waiting for their turn: each gives itself up unsent. */
  private readonly waiting = new Set<(failure: StorageError) => void>();
  /** With enableIdempotence, how long a send waits for its turn before it is given up unsent. */
  private readonly turnWaitMs: number;
  /** Batches handed to a producer (one per topic of a storage send), and idempotent producers replaced after a failed one. */
  private readonly tallies: { readonly sends: StorageCounter; readonly replacements: StorageCounter };

  constructor(
    readonly cluster: string,
    private readonly config: KafkaClusterConfig,
    producerCount: number,
    logger: Logger,
    private readonly random: () => number = Math.random,
    /** How a codec's npm package is loaded (tests stand in for a missing one). */
    private readonly loadLibrary: LibraryLoader = require,
    metrics: StorageMetrics = new StorageMetricSet(undefined).forCluster('kafka', cluster, logger),
  ) {
    this.logger = logger;
    this.tallies = {
      sends: metrics.counter('producer_sends_total', 'Batches handed to a kafkajs producer: one per topic of a storage send.').labels(),
      replacements: metrics.counter('producer_replacements_total', 'Idempotent producers replaced (a new producer id) after a failed send.').labels(),
    };
    this.clientProblems = new ThrottledWarning(this.logger, 1000);
    this.sends = new TopicSends(`kafka cluster ${cluster}`, (topic, indices, messages, outcomes) => this.sendTopic(topic, indices, messages, outcomes));
    const startedAt = Date.now();
    const ssl = config.ssl === undefined ? undefined : tlsConnectionOptions(config.ssl);
    const sasl = kafkaSasl(config.sasl);
    const client = (index: number) =>
      new Kafka({
        clientId: kafkaClientId(config, startedAt, index),
        brokers: config.bootstrapServers,
        requestTimeout: config.requestTimeout,
        retry: { retries: config.retries, initialRetryTime: config.retryBackoff },
        logLevel: logLevel.WARN,
        logCreator: () => (entry) => this.logKafkaJs(entry),
        socketFactory: brokerSocketFactory(config.requestTimeout),
        ssl,
        sasl,
      });
    this.newProducer = (index) =>
      client(index).producer({
        allowAutoTopicCreation: false,
        idempotent: config.enableIdempotence,
        // kafkajs' idempotent producer numbers batches per partition and counts on them reaching
        // the broker in that order
        maxInFlightRequests: config.enableIdempotence ? 1 : undefined,
        metadataMaxAge: config.metadataMaxAge,
        // every record carries its partition (chosen in sendTopic); kafkajs' default partitioner
        // would also filter the partition list once per record
        createPartitioner: () => explicitPartition,
      });
    this.producers = Array.from({ length: producerCount }, (_, i) => this.newProducer(i));
    this.turns = this.producers.map(() => Promise.resolve());
    this.turnWaitMs = Math.min(config.requestTimeout, MAX_TURN_WAIT_MS);
    this.admin = client(producerCount).admin();
    this.counts = new PartitionCounts((topic) => this.fetchPartitionCount(topic), config.metadataMaxAge);
    this.acks = kafkaAcks(config.acks);
  }

  /**
   * Loads the configured codec, whose missing library fails the start (naming the package), then
   * connects in the background: an unreachable cluster must not keep the proxy from serving its
   * other clusters. Sends meanwhile wait for the connection within their deadline.
   */
  start(): Promise<void> {
    try {
      this.compression = installCompressionCodec(this.config.compression, this.loadLibrary);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.connect().catch((error: unknown) => {
      const failure = toStorageError(error, this.cluster);
      if (!this.warnIfSecurityFailure(error, failure)) this.logger.warn({ err: failure.message }, 'kafka cluster not reachable yet');
    });
    return Promise.resolve();
  }

  /**
   * Connects every client, fetches the topics' partition counts and has each producer load their
   * metadata (a send of no message does only that). Connections to partition leaders still open on
   * the first produce request.
   */
  async warmUp(topics: readonly string[]): Promise<void> {
    if (topics.length === 0) return;
    try {
      await this.connect();
      // Only topics the cluster knows reach a producer. kafkajs refreshes all of a producer's
      // topics at once and refuses the whole refresh for an unknown one: while it tried one, every
      // send of that producer that refreshed its metadata failed as if its own topic were unknown.
      const counted = await Promise.allSettled(topics.map((topic) => this.counts.get(topic)));
      const known = topics.filter((_, i) => counted[i]!.status === 'fulfilled');
      if (known.length === 0) return;
      // One metadata refresh per producer for all the topics: one send per topic would refresh all
      // the producer's topics once per topic. A topic deleted since it was counted fails the whole
      // refresh; then each topic is loaded on its own.
      const topicMessages = known.map((topic) => ({ topic, messages: [] }));
      const loadMetadata = (producer: Producer) =>
        producer
          .sendBatch({ topicMessages, acks: this.acks })
          .catch(() => Promise.allSettled(known.map((topic) => producer.send({ topic, messages: [], acks: this.acks }))));
      await Promise.allSettled(this.producers.map(loadMetadata));
    } catch (error) {
      const failure = toStorageError(error, this.cluster);
      if (!this.warnIfSecurityFailure(error, failure)) this.logger.warn({ err: failure.message }, 'kafka cluster not ready after a configuration change');
    }
  }

  send(messages: readonly OutgoingMessage[]): Promise<SendOutcome[]> {
    return this.sends.send(messages);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.sends.close(CLOSE_GRACE_MS);
      this.closed = true;
      for (const giveUp of [...this.waiting]) giveUp(this.closedUnsent());
      await Promise.allSettled([...this.producers.map((p) => p.disconnect()), this.admin.disconnect()]);
    })();
    return this.closing;
  }

  private async sendTopic(topic: string, indices: number[], messages: readonly OutgoingMessage[], outcomes: SendOutcome[]): Promise<void> {
    const fail = (at: readonly number[], error: unknown) => {
      const failure = toStorageError(error, this.cluster);
      this.warnIfSecurityFailure(error, failure);
      for (const i of at) outcomes[i] = { ok: false, error: failure };
      return failure;
    };
    let partitions: number;
    try {
      await this.connect();
      partitions = await this.counts.get(topic);
      // an explicit partition past the cached count: the topic may have grown since
      if (indices.some((i) => messages[i]!.partitionId >= partitions)) partitions = await this.counts.refresh(topic);
    } catch (error) {
      fail(indices, error);
      return;
    }
    // Random-partition messages of one send share one random partition (Kafka's own sticky
    // partitioner, KIP-480): one record batch to one broker instead of a few records to each.
    const draw = this.random();
    const sticky = () => draw;
    const records: KafkaRecord[] = [];
    const recordIndices: number[] = [];
    for (const i of indices) {
      const m = messages[i]!;
      const partition = choosePartition(m.partitionId, m.hashId, partitions, sticky);
      if (partition === undefined) {
        const reason = `partition ${m.partitionId} does not exist: topic ${topic} has ${partitions} on kafka ${this.cluster}`;
        outcomes[i] = { ok: false, error: new StorageError('PARTITION_OUT_OF_RANGE', reason, false) };
        continue;
      }
      records.push(toRecord(m, partition));
      recordIndices.push(i);
    }
    if (records.length === 0) return;
    const index = Math.floor(this.random() * this.producers.length);
    try {
      const metadata = await this.inTurn(index, (producer) => {
        this.tallies.sends.inc();
        return producer.send({
          topic,
          messages: records,
          acks: this.acks,
          timeout: this.config.ackTimeout,
          compression: this.compression,
        });
      });
      const unsent = (partition: number) =>
        new StorageError('UNAVAILABLE', `kafka ${this.cluster}: partition ${partition} of ${topic} is not in the producer's metadata yet; not sent`, true);
      recordOutcomes(records, metadata, this.acks, unsent).forEach((outcome, j) => (outcomes[recordIndices[j]!] = outcome));
    } catch (error) {
      const failure = fail(recordIndices, error);
      if (failure.code === 'TOPIC_NOT_FOUND') void this.counts.refresh(topic).catch(() => undefined);
    }
  }

  /**
   * With enableIdempotence, a producer's sends go one after the other, retries included, and a
   * producer whose send failed is replaced (a new producer id, sequence numbers from 0) before it
   * sends again. kafkajs gives a failed send's sequence numbers back to be used again, though the
   * broker may have written the batch under them (only its answer was lost): the next batch sent
   * under them is answered OK as a duplicate and never written if it has as many records, and
   * refused (OUT_OF_ORDER_SEQUENCE_NUMBER) if not, and so is every later one. Sends overlapping
   * on one producer hand those numbers from a failed attempt to another send while the first one
   * is still retrying, which is then written a second time. kafkajs already sends one produce
   * request at a time per broker and producer, so taking turns costs only the overlap of sends to
   * different brokers.
   *
   * A send that waits longer than turnWaitMs for its turn (the one ahead is retrying against a
   * broker that does not answer) is answered TIMEOUT, retriable, and never sent: its caller has
   * been answered or soon will be, and what waits holds no records. So the wait stays within the
   * host's budget, which frees a send's bytes only when it is answered. Those still waiting when
   * close()'s grace is over are answered CLOSED, retriable, unsent.
   */
  private inTurn<T>(index: number, send: (producer: Producer) => Promise<T>): Promise<T> {
    if (!this.config.enableIdempotence) return send(this.producers[index]!);
    let job: ((producer: Producer) => Promise<T>) | undefined = send;
    let giveUp!: (failure: StorageError) => void;
    const gaveUp = new Promise<never>((_, reject) => {
      giveUp = (failure) => {
        job = undefined;
        clearTimeout(timer);
        this.waiting.delete(giveUp);
        reject(failure);
      };
    });
    const timer = setTimeout(
      () => giveUp(new StorageError('TIMEOUT', `kafka ${this.cluster}: not sent: waited ${this.turnWaitMs} ms behind a send of the same idempotent producer`, true)),
      this.turnWaitMs,
    );
    this.waiting.add(giveUp);
    const turn = this.turns[index]!.then(async () => {
      clearTimeout(timer);
      this.waiting.delete(giveUp);
      const mine = job;
      if (!mine) return undefined; // answered already; nothing was sent
      if (this.closed) throw this.closedUnsent();
      if (this.failedLast.has(index)) await this.replaceProducer(index);
      try {
        return await mine(this.producers[index]!);
      } catch (error) {
        this.failedLast.add(index);
        throw error;
      }
    });
    this.turns[index] = turn.catch(() => undefined);
    return Promise.race([turn as Promise<T>, gaveUp]);
  }

  private closedUnsent(): StorageError {
    return new StorageError('CLOSED', `kafka ${this.cluster}: not sent: the storage is closed`, true);
  }

  /** A connected new producer in the place of producer `index`; if it cannot connect, none. */
  private async replaceProducer(index: number): Promise<void> {
    const replacement = this.newProducer(index);
    try {
      await replacement.connect();
      if (this.closed) throw this.closedUnsent();
    } catch (error) {
      void replacement.disconnect().catch(() => undefined);
      throw error;
    }
    const replaced = this.producers[index]!;
    this.producers[index] = replacement;
    this.failedLast.delete(index);
    this.tallies.replacements.inc();
    void replaced.disconnect().catch(() => undefined);
  }

  /**
   * Refused credentials or a certificate that does not verify: one line a second for the cluster,
   * since every send fails the same way until the configuration changes.
   */
  private warnIfSecurityFailure(error: unknown, failure: StorageError): boolean {
    if (!isSecurityFailure(error)) return false;
    this.clientProblems.warn('security', { err: failure.message }, 'kafka cluster refused the connection: authentication or TLS failed');
    return true;
  }

  /** Connects every client once; after a failure the next caller tries again. */
  private connect(): Promise<void> {
    this.connecting ??= Promise.all([this.admin.connect(), ...this.producers.map((p) => p.connect())]).then(
      () => this.logger.info({ brokers: this.config.bootstrapServers }, 'kafka cluster connected'),
      (error: unknown) => {
        this.connecting = undefined;
        throw error;
      },
    );
    return this.connecting;
  }

  private async fetchPartitionCount(topic: string): Promise<number> {
    const timeoutMs = this.config.metadataFetchTimeout;
    const metadata = await timeLimit(this.admin.fetchTopicMetadata({ topics: [topic] }), timeoutMs);
    if (metadata === TIMED_OUT) throw new StorageError('TIMEOUT', `kafka ${this.cluster}: no metadata for ${topic} within ${timeoutMs} ms`, true);
    const count = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0;
    if (count === 0) throw new StorageError('TOPIC_NOT_FOUND', `kafka ${this.cluster}: topic ${topic} has no partitions`, false);
    return count;
  }

  /**
   * kafkajs logs through the proxy's logger. Its errors and warnings come per attempt, so a broker
   * down repeats them for every send: each is a kind of ThrottledWarning, its stack at debug. The
   * kind is the namespace and the message's first words, since kafkajs writes the broker's own error
   * text into its messages and a key per distinct text would grow without end.
   */
  private logKafkaJs(entry: LogEntry): void {
    const { message, stack, ...fields } = entry.log;
    const tagged = { kafkajs: entry.namespace, ...fields };
    if (entry.level > logLevel.WARN) {
      this.logger.debug({ ...tagged, stack }, message);
      return;
    }
    this.clientProblems.warn(`${entry.namespace}:${message.split(/[:(]/, 1)[0]!.slice(0, 60)}`, tagged, message);
    if (stack !== undefined) this.logger.debug({ ...tagged, stack }, message);
  }
}

/**
 * Each record's outcome from kafkajs' answer to one send. kafkajs leaves out, without an error, a
 * partition its producer has no metadata for (the topic has grown since the producer last loaded
 * it, while the partition was chosen from a fresher count): those records were never sent, and
 * fail retriably instead of counting as stored. With acks 0 nothing is answered and every record
 * counts as sent.
 */
export function recordOutcomes(
  records: readonly { partition: number }[],
  acknowledged: readonly RecordMetadata[],
  acks: -1 | 0 | 1,
  unsent: (partition: number) => StorageError,
): SendOutcome[] {
  const baseOffsets = new Map(acknowledged.map((m) => [m.partition, m.baseOffset]));
  const nth = new Map<number, bigint>();
  return records.map(({ partition }): SendOutcome => {
    const base = baseOffsets.get(partition);
    if (base === undefined && acks !== 0) return { ok: false, error: unsent(partition) };
    const n = nth.get(partition) ?? 0n;
    nth.set(partition, n + 1n);
    return { ok: true, partition, offset: base !== undefined && base !== '-1' ? BigInt(base) + n : undefined };
  });
}

function explicitPartition({ message }: { message: Message }): number {
  return message.partition!;
}

function toRecord(m: OutgoingMessage, partition: number): KafkaRecord {
  const headers: IHeaders = {};
  if (m.properties) for (const [name, value] of m.properties) headers[name] = value;
  if (m.tags) headers[TAGS_HEADER] = m.tags;
  return { partition, key: m.key ?? null, value: m.body, headers, timestamp: String(m.timestamp) };
}
