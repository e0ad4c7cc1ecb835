/**
 * One Redis cluster as a ClusterStorage: each message is one XADD to the stream of its topic and
 * partition, a send's XADDs go out as one pipeline on one connection (so they execute in order),
 * and the client never queues or resends: a command is written at once or refused at once
 * (redis-failures.ts says which failures are retriable), and reconnection runs in the background
 * with backoff.
 */
import Redis from 'ioredis';
import type { ClusterStorage, OutgoingMessage, SendOutcome, StorageContext, StorageCounter, StorageFailure } from 'pproxy/storage';
import type { StorageTimers as Clock } from 'pproxy/storage';
import { REDIS_MAX_BULK_LENGTH, type RedisClusterConfig } from './config';
import { failureOf, notWritten, streamMissing } from './redis-failures';
import { streamKey, xaddArguments, type EntryOptions } from './stream-entry';
import { keepsOrder, StreamOrderGuard, type OrderedItem } from './stream-order';
import { ThrottledLog } from './throttled-log';

/** Reconnect backoff: 50 ms doubling to 2 s, plus up to 50 ms of jitter. */
const RECONNECT_FIRST_MS = 50;
const RECONNECT_MAX_MS = 2000;

interface Placed extends OrderedItem {
  readonly partition: number;
}

export class RedisStreamStorage implements ClusterStorage {
  readonly kind = 'redis';
  readonly cluster: string;
  readonly maxMessageSize: number | undefined;
  private readonly redis: Redis;
  private readonly entry: EntryOptions;
  private readonly order: StreamOrderGuard<Placed>;
  private readonly failures: ThrottledLog;
  /**
   * Connections made again after one was lost: what only this storage sees. The messages stored and
   * the failures by code the host counts for every storage (pproxy_storage_messages_stored_total,
   * pproxy_storage_errors_total).
   */
  private readonly reconnects: StorageCounter;
  /** The largest argument the server takes (its proto-max-bulk-len, read at start when CONFIG is allowed). */
  private bulkLimit = REDIS_MAX_BULK_LENGTH;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closing: Promise<void> | undefined;
  private wasReady = false;

  constructor(
    private readonly config: RedisClusterConfig,
    private readonly context: StorageContext,
    clock: Clock = context.timers,
  ) {
    this.cluster = context.cluster;
    this.maxMessageSize = config.maxMessageSize;
    this.entry = { requireExisting: config.requireExistingStreams, maxLen: config.maxLen };
    this.failures = new ThrottledLog(context.logger, clock);
    this.reconnects = context.metrics.counter('reconnects_total', 'Connections to Redis made again after one was lost.').labels();
    this.order = new StreamOrderGuard(clock, config.orderedRetryWindowMs, (items) => this.append(items));
    this.redis = new Redis({
      host: config.host,
      port: config.port,
      db: config.db,
      username: config.username,
      password: config.password,
      connectionName: 'pproxy',
      lazyConnect: true,
      connectTimeout: config.connectTimeoutMs,
      commandTimeout: config.commandTimeoutMs,
      // nothing waits for a connection: a command is written now or refused now
      enableOfflineQueue: false,
      // a command lost with its connection may have executed: resending it could store it twice
      autoResendUnfulfilledCommands: false,
      // commands in flight on a lost connection fail at once instead of waiting for reconnects
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) =>
        Math.min(RECONNECT_FIRST_MS * 2 ** Math.min(attempt - 1, 16), RECONNECT_MAX_MS) + Math.floor(Math.random() * 50),
    });
    this.redis.on('error', (error: Error) => this.failures.warn('connection', { err: error.message }, 'redis connection failed'));
    this.redis.on('ready', () => {
      if (this.wasReady) {
        context.logger.info('redis reconnected');
        this.reconnects.inc();
      }
      this.wasReady = true;
    });
    this.redis.on('close', () => {
      if (this.wasReady && !this.closing) this.failures.warn('closed', {}, 'redis connection lost; reconnecting');
    });
  }

  /** Resolves once connected and ready (ioredis keeps trying within the bound); rejects after connectTimeoutMs. */
  async start(): Promise<void> {
    const bound = this.config.connectTimeoutMs;
    let lastError: Error | undefined;
    const remember = (error: Error) => (lastError = error);
    this.redis.on('error', remember);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.redis.off('ready', onReady);
          reject(new Error(`redis ${this.cluster}: not ready within ${bound} ms at ${this.config.host}:${this.config.port}${lastError ? `: ${lastError.message}` : ''}`));
        }, bound);
        const onReady = () => {
          clearTimeout(timer);
          resolve();
        };
        this.redis.once('ready', onReady);
        this.redis.connect().catch(() => undefined);
      });
    } catch (error) {
      this.redis.disconnect();
      throw error;
    } finally {
      this.redis.off('error', remember);
    }
    this.bulkLimit = await this.serverBulkLimit();
  }

  illegalMessageReason(message: OutgoingMessage): string | undefined {
    return message.body.length > this.bulkLimit ? `body of ${message.body.length} bytes exceeds the redis server's proto-max-bulk-len (${this.bulkLimit})` : undefined;
  }

  send(messages: readonly OutgoingMessage[]): Promise<SendOutcome[]> {
    const outcomes: (SendOutcome | Promise<SendOutcome>)[] = new Array(messages.length);
    const batch: Placed[] = [];
    const positions: number[] = [];
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      if (this.closing) {
        outcomes[i] = closed();
        continue;
      }
      const placed = this.place(message);
      if ('code' in placed) {
        outcomes[i] = { ok: false, error: placed };
        continue;
      }
      const admission = keepsOrder(message) ? this.order.admit(placed) : 'write';
      if (admission === 'write') {
        batch.push(placed);
        positions.push(i);
      } else {
        outcomes[i] = admission;
      }
    }
    if (batch.length > 0) {
      const written = this.append(batch);
      positions.forEach((position, j) => (outcomes[position] = written.then((all) => all[j]!)));
    }
    const all = Promise.all(outcomes);
    this.inFlight.add(all);
    void all.then(() => this.inFlight.delete(all));
    return all;
  }

  /** Waits for the replies of what was written (each bounded by commandTimeoutMs), then disconnects. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.order.close();
      await Promise.allSettled([...this.inFlight]);
      this.redis.disconnect();
    })();
    return this.closing;
  }

  private place(message: OutgoingMessage): Placed | StorageFailure {
    const limit = Math.min(this.bulkLimit, this.maxMessageSize ?? Infinity);
    if (message.body.length > limit) {
      return { code: 'MESSAGE_TOO_LARGE', message: `body of ${message.body.length} bytes exceeds ${limit} (redis ${this.cluster})`, retriable: false };
    }
    const partition = this.context.choosePartition(message, this.config.partitions);
    if (partition === undefined) {
      return {
        code: 'PARTITION_OUT_OF_RANGE',
        message: `partition ${message.partitionId} of ${message.topic} does not exist: redis ${this.cluster} has ${this.config.partitions} per topic`,
        retriable: false,
      };
    }
    return { message, partition, stream: streamKey(this.config.keyPrefix, message.topic, partition) };
  }

  /**
   * One pipeline of XADDs, in order. Ordered items take their tickets first, synchronously, so the
   * order guard knows what was written after what.
   */
  private append(items: Placed[]): Promise<SendOutcome[]> {
    if (this.closing) return Promise.resolve(items.map(closed));
    const tickets = items.map((item) => (keepsOrder(item.message) ? this.order.ticket(item) : 0));
    if (this.redis.status !== 'ready') {
      const failure = notWritten(this.cluster, this.redis.status);
      return this.answer(items, tickets, items.map(() => ({ ok: false, error: failure })));
    }
    const pipeline = this.redis.pipeline();
    for (const item of items) {
      const [stream, ...rest] = xaddArguments(item.stream, item.message, this.entry);
      pipeline.xadd(stream!, ...rest);
    }
    return pipeline.exec().then(
      (results) =>
        this.answer(
          items,
          tickets,
          items.map((item, i) => {
            const [error, id] = results?.[i] ?? [new Error('no reply'), undefined];
            if (error) return { ok: false, error: failureOf(this.cluster, item.stream, error) };
            if (id === null) return { ok: false, error: streamMissing(item.stream) };
            return { ok: true, partition: item.partition, offset: undefined };
          }),
        ),
      (error: unknown) => this.answer(items, tickets, items.map((item) => ({ ok: false, error: failureOf(this.cluster, item.stream, error) }))),
    );
  }

  /** The outcomes as the order guard decides them: an ordered retriable failure may wait for the replies of younger writes of its stream. */
  private async answer(items: readonly Placed[], tickets: readonly number[], outcomes: SendOutcome[]): Promise<SendOutcome[]> {
    const settled = await this.order.settle(items, tickets, outcomes);
    for (const outcome of settled) {
      if (outcome.ok) continue;
      this.failures.warn(`send:${outcome.error.code}`, { code: outcome.error.code, err: outcome.error.message }, 'redis send failed');
    }
    return settled;
  }

  private async serverBulkLimit(): Promise<number> {
    try {
      const reply = (await this.redis.config('GET', 'proto-max-bulk-len')) as unknown;
      const value = Array.isArray(reply) ? Number(reply[1]) : Number((reply as Record<string, unknown>)?.['proto-max-bulk-len']);
      return Number.isSafeInteger(value) && value > 0 ? value : REDIS_MAX_BULK_LENGTH;
    } catch {
      // CONFIG may be renamed or forbidden (managed Redis): keep Redis' default
      return REDIS_MAX_BULK_LENGTH;
    }
  }
}

function closed(): SendOutcome {
  return { ok: false, error: { code: 'CLOSED', message: 'redis storage closed', retriable: true } };
}
