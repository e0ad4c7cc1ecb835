/**
 * The stream behind each topic: looked up once, created with the configured limits when missing
 * (createStreams), and checked to capture every partition subject. The answer is kept until a
 * publish shows the stream is gone; a missing stream is asked for again after a second, so a stream
 * created meanwhile is found without flooding the server with lookups.
 *
 * A stream's duplicate window is read too: a stream the plugin did not create may deduplicate for
 * less than duplicateWindowMs, and then a retry after a lost ack could store a message twice.
 */
import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from 'nats';
import type { StorageFailure, StorageLogger } from 'pproxy/storage';
import type { JetStreamConfig } from './config';
import type { Connection } from './connection';
import { isStreamNotFound, notConnectedFailure, publishFailure } from './errors';
import { subjectMatches, topicNames, type TopicNames } from './names';

const MISSING_RECHECK_MS = 1000;
const NANOS_PER_MS = 1_000_000;

/** A stream ready to publish to. */
export interface ReadyStream extends TopicNames {
  /** The stream's duplicate window, when shorter than duplicateWindowMs; undefined when it covers every retry. */
  readonly shortDuplicateWindowMs: number | undefined;
}

interface Lookup {
  readonly result: Promise<ReadyStream | StorageFailure>;
  /** When a failure may be asked again (0 while pending or found). */
  retryAt: number;
}

export class Streams {
  private readonly lookups = new Map<string, Lookup>();
  private readonly named = new Map<string, TopicNames>();
  /** Streams whose short duplicate window was logged. */
  private readonly shortWindowsLogged = new Set<string>();

  constructor(
    private readonly connection: Connection,
    private readonly config: JetStreamConfig,
    private readonly cluster: string,
    private readonly logger: StorageLogger,
  ) {}

  names(topic: string): TopicNames {
    let names = this.named.get(topic);
    if (!names) {
      names = topicNames(topic, this.config.streamPrefix, this.config.subjectPrefix);
      this.named.set(topic, names);
    }
    return names;
  }

  /** The topic's stream, ready to publish to, or why not. Never rejects. */
  ready(topic: string): Promise<ReadyStream | StorageFailure> {
    const known = this.lookups.get(topic);
    if (known && (known.retryAt === 0 || Date.now() < known.retryAt)) return known.result;
    const lookup: Lookup = { result: this.lookUp(topic), retryAt: 0 };
    this.lookups.set(topic, lookup);
    void lookup.result.then((result) => {
      if ('code' in result) {
        // only a definite answer is kept a while; a timeout is asked again at once
        if (result.code === 'TOPIC_NOT_FOUND') lookup.retryAt = Date.now() + MISSING_RECHECK_MS;
        else if (this.lookups.get(topic) === lookup) this.lookups.delete(topic);
      }
    });
    return lookup.result;
  }

  /** A publish found no stream on the topic's subjects: look it up again next time. */
  forget(topic: string): void {
    this.lookups.delete(topic);
  }

  private async lookUp(topic: string): Promise<ReadyStream | StorageFailure> {
    const names = this.names(topic);
    // while the connection is down a lookup would only wait for its timeout
    if (!this.connection.connected) return notConnectedFailure(this.cluster, this.connection.closedForGood);
    let stream: Partial<StreamConfig> | undefined;
    try {
      stream = await this.connection.unlessLost(this.configOf(names));
    } catch (error) {
      return publishFailure(error, this.cluster, names.stream);
    }
    if (stream === undefined) return notConnectedFailure(this.cluster, this.connection.closedForGood);
    const subjects = stream.subjects ?? [];
    for (let p = 0; p < this.config.partitions; p++) {
      const subject = `${names.subjectBase}.${p}`;
      if (!subjects.some((pattern) => subjectMatches(pattern, subject))) {
        const message = `stream ${names.stream} of jetstream ${this.cluster} does not capture ${subject} (its subjects: ${subjects.join(', ')})`;
        return { code: 'TOPIC_NOT_FOUND', message, retriable: false };
      }
    }
    return { ...names, shortDuplicateWindowMs: this.shortWindow(names.stream, stream.duplicate_window) };
  }

  /** The stream's window in ms when it is shorter than duplicateWindowMs (logged once per stream). */
  private shortWindow(stream: string, windowNanos: number | undefined): number | undefined {
    const windowMs = Math.floor((windowNanos ?? 0) / NANOS_PER_MS);
    if (windowMs >= this.config.duplicateWindowMs) return undefined;
    if (!this.shortWindowsLogged.has(stream)) {
      this.shortWindowsLogged.add(stream);
      this.logger.warn(
        { stream, duplicateWindowMs: windowMs, required: this.config.duplicateWindowMs },
        'jetstream stream deduplicates for less than duplicateWindowMs: a publish whose ack is lost is answered without a retry',
      );
    }
    return windowMs;
  }

  /** The stream's configuration, creating it if allowed; throws what the server answered otherwise. */
  private async configOf(names: TopicNames): Promise<Partial<StreamConfig>> {
    try {
      return (await this.connection.jsm.streams.info(names.stream)).config;
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      if (!this.config.createStreams) throw error;
    }
    try {
      return (await this.connection.jsm.streams.add(this.streamConfig(names))).config;
    } catch (error) {
      // another proxy may have created it first, with other limits: use that one
      return (await this.connection.jsm.streams.info(names.stream).catch(() => Promise.reject(error))).config;
    }
  }

  private streamConfig(names: TopicNames): Partial<StreamConfig> {
    const c = this.config;
    return {
      name: names.stream,
      subjects: [`${names.subjectBase}.*`],
      retention: RetentionPolicy.Limits,
      discard: c.streamDiscard === 'new' ? DiscardPolicy.New : DiscardPolicy.Old,
      max_bytes: c.streamMaxBytes,
      max_age: c.streamMaxAgeMs * 1_000_000,
      duplicate_window: c.duplicateWindowMs * NANOS_PER_MS,
      num_replicas: c.streamReplicas,
      storage: c.streamStorage === 'file' ? StorageType.File : StorageType.Memory,
    };
  }
}
