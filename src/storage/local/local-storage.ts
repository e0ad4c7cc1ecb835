/**
 * The embedded storage: each topic has a fixed number of partitions, each partition a PartitionLog
 * under `<dataDir>/<topic>/<partition>/`. Partitions found on disk are opened (and a torn tail cut)
 * at start; new ones on first use.
 */
import { errorMessage, ThrottledWarning } from '../../log';
import type { StorageLogger as Logger } from '../plugin-api';
import { choosePartition } from '../../routing/partition';
import {
  StorageError,
  type ClusterStorage,
  type OutgoingMessage,
  type SendOutcome,
} from '../storage';
import { lockDirectory } from './directory-lock';
import { isValidTopicName, partitionDirectory } from './layout';
import { listPartitions, listTopics } from './log-reader';
import { NO_LOCAL_METRICS, type LocalMetrics } from './local-metrics';
import { FAILURE_LOG_INTERVAL_MS, PartitionLog, type FlushPolicy } from './partition-log';
import { addToGroup } from '../../util/group-by';

export interface LocalStorageOptions {
  /** Absolute. */
  dataDir: string;
  /** Partitions of every topic. */
  partitions: number;
  flushPolicy: FlushPolicy;
  flushIntervalMs: number;
  segmentBytes: number;
  /** 0 keeps everything. */
  retentionBytes: number;
  maxMessageSize: number | undefined;
}

/** The messages of one send call bound for one partition, with where their outcomes go. */
interface PartitionGroup {
  readonly topic: string;
  readonly partition: number;
  readonly messages: OutgoingMessage[];
  readonly indices: number[];
}

export class LocalStorage implements ClusterStorage {
  readonly kind = 'local';
  readonly maxMessageSize: number | undefined;
  /** Promises, so that concurrent first sends to a partition share one open. */
  private readonly logs = new Map<string, Promise<PartitionLog>>();
  private closing: Promise<void> | undefined;
  /** Sends past validation, which close() lets finish before it closes the partitions. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly logger: Logger;
  /** Shared by the partitions: a failing disk is one kind of failure, not one per partition. */
  private readonly failures: ThrottledWarning;
  private unlock: (() => Promise<void>) | undefined;

  constructor(
    readonly cluster: string,
    private readonly options: LocalStorageOptions,
    logger: Logger,
    private readonly random: () => number = Math.random,
    private readonly metrics: LocalMetrics = NO_LOCAL_METRICS,
  ) {
    this.maxMessageSize = options.maxMessageSize;
    this.logger = logger;
    this.failures = new ThrottledWarning(this.logger, FAILURE_LOG_INTERVAL_MS);
  }

  /** Locks the data directory and recovers every partition on disk, so a torn tail is cut now. */
  async start(): Promise<void> {
    this.unlock = await lockDirectory(this.options.dataDir);
    const opens: Promise<PartitionLog>[] = [];
    for (const topic of await listTopics(this.options.dataDir)) {
      for (const partition of await listPartitions(this.options.dataDir, topic)) {
        if (partition < this.options.partitions) opens.push(this.partitionLog(topic, partition));
        else this.logger.warn({ topic, partition, partitions: this.options.partitions }, 'partition beyond the configured count is not served');
      }
    }
    await Promise.all(opens);
    this.logger.info({ dataDir: this.options.dataDir, partitions: opens.length }, 'local storage recovered');
  }

  /** Every topic has the configured number of partitions. */
  partitionCount(_topic: string): number {
    return this.options.partitions;
  }

  async send(messages: readonly OutgoingMessage[]): Promise<SendOutcome[]> {
    const outcomes = new Array<SendOutcome>(messages.length);
    const groups = this.groupByPartition(messages, outcomes);
    const stored = Promise.all(groups.map((group) => this.sendGroup(group, outcomes)));
    this.inFlight.add(stored);
    await stored;
    this.inFlight.delete(stored);
    return outcomes;
  }

  /** Lets sends already under way finish, then closes every open partition. */
  close(): Promise<void> {
    this.closing ??= this.closeLogs();
    return this.closing;
  }

  /** Groups the storable messages by partition, in input order; refused ones get their outcome now. */
  private groupByPartition(messages: readonly OutgoingMessage[], outcomes: SendOutcome[]): PartitionGroup[] {
    const byPartition = new Map<string, number[]>();
    const partitions = new Array<number>(messages.length);
    messages.forEach((message, index) => {
      const refusal = this.refusal(message);
      if (refusal !== undefined) {
        outcomes[index] = { ok: false, error: refusal };
        return;
      }
      const partition = choosePartition(message.partitionId, message.hashId, this.options.partitions, this.random);
      if (partition === undefined) {
        const error = new StorageError(
          'PARTITION_OUT_OF_RANGE',
          `partition ${message.partitionId} does not exist: topic ${message.topic} has ${this.options.partitions}`,
          false,
        );
        outcomes[index] = { ok: false, error };
        return;
      }
      partitions[index] = partition;
      addToGroup(byPartition, `${message.topic}/${partition}`, index);
    });
    return [...byPartition.values()].map((indices) => ({
      topic: messages[indices[0]!]!.topic,
      partition: partitions[indices[0]!]!,
      messages: indices.map((i) => messages[i]!),
      indices,
    }));
  }

  private refusal(message: OutgoingMessage): StorageError | undefined {
    if (this.closing !== undefined) return new StorageError('CLOSED', `local storage ${this.cluster} is closed`, true);
    if (!isValidTopicName(message.topic)) {
      return new StorageError('MESSAGE_ILLEGAL', `illegal topic name ${JSON.stringify(message.topic)}`, false);
    }
    if (this.maxMessageSize !== undefined && message.body.length > this.maxMessageSize) {
      return new StorageError(
        'MESSAGE_TOO_LARGE',
        `body of ${message.body.length} bytes exceeds the ${this.maxMessageSize} bytes allowed`,
        false,
      );
    }
    return undefined;
  }

  private async sendGroup(group: PartitionGroup, outcomes: SendOutcome[]): Promise<void> {
    try {
      const log = await this.partitionLog(group.topic, group.partition);
      const firstOffset = await log.append(group.messages);
      group.indices.forEach((index, i) => {
        outcomes[index] = { ok: true, partition: group.partition, offset: firstOffset + BigInt(i) };
      });
    } catch (error) {
      const failure = asStorageError(error);
      for (const index of group.indices) outcomes[index] = { ok: false, error: failure };
    }
  }

  private partitionLog(topic: string, partition: number): Promise<PartitionLog> {
    const key = `${topic}/${partition}`;
    let log = this.logs.get(key);
    if (log === undefined) {
      const directory = partitionDirectory(this.options.dataDir, topic, partition);
      const { flushPolicy, flushIntervalMs, segmentBytes, retentionBytes } = this.options;
      log = PartitionLog.open(
        { directory, flushPolicy, flushIntervalMs, segmentBytes, retentionBytes },
        this.logger.child({ topic, partition }),
        undefined,
        this.failures,
        this.metrics.partition(topic, partition),
      ).catch((error: unknown) => {
        // Forget the failed open so that a later send tries again.
        this.logs.delete(key);
        this.failures.warn('open', { directory }, 'local storage: could not open a partition', error);
        const reason = `could not open ${directory}: ${errorMessage(error)}`;
        throw new StorageError('UNAVAILABLE', reason, true, { cause: error });
      });
      this.logs.set(key, log);
    }
    return log;
  }

  /** The partition logs whose open succeeded; a failed open has nothing to flush or close. */
  private async openLogs(): Promise<PartitionLog[]> {
    const opens = await Promise.allSettled(this.logs.values());
    return opens.flatMap((open) => (open.status === 'fulfilled' ? [open.value] : []));
  }

  private async closeLogs(): Promise<void> {
    await Promise.all(this.inFlight);
    await Promise.all((await this.openLogs()).map((log) => log.close()));
    await this.unlock?.();
  }
}

function asStorageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  return new StorageError('UNKNOWN', errorMessage(error), false, { cause: error });
}
