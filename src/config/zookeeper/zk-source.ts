/**
 * The proxy's configuration from ZooKeeper in DDMQ's layout (docs/ddmq/configuration.md): this proxy's
 * `/pproxy/<host:port>` and `/topic/<name>` of every topic it lists, watched and re-read.
 *
 * Every node keeps its last good value: an update that does not parse or validate is refused whole
 * and logged with the reason. A missing pproxy node means "not bound yet" (DDMQ exits; this proxy
 * serves the heartbeat and waits for the node). A deleted topic node keeps the topic's last config
 * until the pproxy node stops listing it, as in DDMQ.
 *
 * Watches are one-shot and can be lost with a connection, so every (re)connection re-reads
 * everything, and so does a timer (DDMQ: every 300 s).
 *
 * A node may list tens of thousands of topics: their nodes are read TOPIC_READS_IN_FLIGHT at a
 * time, each answer handled as it arrives, so that neither the requests nor the answers hold the
 * event loop for long; and topic nodes that change together (the console re-pushing every topic
 * of a cluster) are read together and published as one change.
 */
import { ThrottledWarning, type Logger } from '../../log';
import type { PProxyConfig, TopicConfig } from '../schema';
import { mapConcurrently } from '../../util/concurrency';
import type { ZkSessionEvent } from './session-events';
import { readPProxyNode, readTopicNode, type NodeReading } from './node-reading';
import type { ClusterType } from '../schema';
import type { ZkAuth } from './zk-auth';
import { ZkClient, withCarreraRoot } from './zk-client';

export interface ConfigSnapshot {
  /** undefined: the pproxy node does not exist (not bound). */
  readonly pproxy: PProxyConfig | undefined;
  readonly topics: readonly TopicConfig[];
}

export interface ZkSourceOptions {
  readonly connectString: string;
  /** Digest credentials, sent at every connect (nodes readable only with them are read). */
  readonly auth?: ZkAuth | undefined;
  /** host:port: the pproxy node's name. */
  readonly instance: string;
  /** The storage plugins' cluster types, which a pproxy node is read with. */
  readonly clusterTypes: readonly ClusterType[];
  readonly rereadIntervalMs?: number;
  readonly sessionTimeoutMs?: number;
  readonly observer?: ZkSourceObserver;
}

/** What the source reports besides snapshots (the proxy's metrics count it). */
export interface ZkSourceObserver {
  sessionEvent(event: ZkSessionEvent): void;
  /** A node version that did not parse or validate, and so was not taken. */
  nodeRefused(path: string): void;
}

/** A change after start: the snapshot, and when the newest write in it was made (epoch ms, ZooKeeper's clock). */
export type ConfigChangeListener = (snapshot: ConfigSnapshot, writtenAt: number | undefined) => void;

const REREAD_INTERVAL_MS = 300_000;
/** Topic node reads (and so watches being set) in flight at once. */
const TOPIC_READS_IN_FLIGHT = 64;

export class ZkConfigSource {
  private zk: ZkClient;
  private pproxy: PProxyConfig | undefined;
  /** The topics the pproxy node lists. */
  private listed: ReadonlySet<string> = new Set();
  private readonly topics = new Map<string, TopicConfig>();
  /** Listed topics whose node changed and is not re-read yet. */
  private readonly changedTopics = new Set<string>();
  private readonly reportedUnknown = new Set<string>();
  private listener: ConfigChangeListener | undefined;
  /** The newest write among the changes not published yet: a node's mtime, or when a deletion was seen. */
  private unpublishedWrite: number | undefined;
  /** Counts accepted changes; the listener has seen every one up to `delivered`. */
  private version = 0;
  private delivered = 0;
  /**
   * One watcher function per path: node-zookeeper-client keeps every distinct function it is given,
   * so a new closure per read would stack a listener per re-read and per reconnect.
   */
  private readonly watchers = new Map<string, () => void>();
  private rereadTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private waitingLogged = false;
  /** Serialises reads, so an old read cannot overwrite a newer one. */
  private reading: Promise<void> = Promise.resolve();
  /** Connection losses and failed reads, which a flapping or overloaded ZooKeeper repeats. */
  private readonly failures: ThrottledWarning;

  constructor(
    private readonly options: ZkSourceOptions,
    private readonly logger: Logger,
  ) {
    this.failures = new ThrottledWarning(logger, 1000);
    this.zk = this.newClient();
  }

  get pproxyPath(): string {
    return `/pproxy/${this.options.instance}`;
  }

  /**
   * Starts connecting; resolves with the first snapshot, or rejects when ZooKeeper does not answer
   * within `timeoutMs` or the first read fails (the caller then serves its cached copy).
   */
  async start(timeoutMs: number): Promise<ConfigSnapshot> {
    this.rereadTimer = setInterval(() => void this.rereadAll(), this.options.rereadIntervalMs ?? REREAD_INTERVAL_MS);
    this.rereadTimer.unref();
    await this.zk.waitConnected(timeoutMs);
    // queued like every read, but its failure is the caller's to handle
    const first = this.reading.then(() => this.readAll());
    this.reading = first.catch(() => undefined);
    await first;
    this.delivered = this.version;
    this.unpublishedWrite = undefined;
    return this.snapshot();
  }

  /**
   * Receives every snapshot after a change, from now on, starting with the current one if it
   * changed since start() returned (the caller registers once its storages are up).
   */
  onChange(listener: ConfigChangeListener): void {
    this.listener = listener;
    if (this.version > this.delivered) this.publish();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.rereadTimer);
    this.zk.close();
  }

  snapshot(): ConfigSnapshot {
    const listed = this.pproxy?.topics ?? [];
    return {
      pproxy: this.pproxy,
      topics: listed.map((name) => this.topics.get(name)).filter((t): t is TopicConfig => t !== undefined),
    };
  }

  private newClient(): ZkClient {
    const zk = new ZkClient(this.options.connectString, { sessionTimeout: this.options.sessionTimeoutMs, auth: this.options.auth });
    zk.client.on('connected', () => {
      this.options.observer?.sessionEvent('connected');
      this.logger.info({ zookeeper: this.options.connectString }, 'zookeeper connected');
      void this.rereadAll();
    });
    zk.client.on('disconnected', () => {
      this.options.observer?.sessionEvent('disconnected');
      this.failures.warn('disconnected', {}, 'zookeeper disconnected; serving the last good configuration');
    });
    zk.client.on('expired', () => {
      this.options.observer?.sessionEvent('expired');
      // an expired session never comes back: start a new one (its connect re-reads everything)
      this.failures.warn('expired', {}, 'zookeeper session expired; opening a new session');
      zk.close();
      if (!this.closed) this.zk = this.newClient();
    });
    zk.connect();
    return zk;
  }

  private rereadAll(): Promise<void> {
    return this.serial(() => this.readAll());
  }

  /** Reads everything (callers queue it behind other reads); rejects when a read fails. */
  private async readAll(): Promise<void> {
    const changed = await this.readPProxy();
    const topicChanges = await this.readTopics([...this.listed]);
    if (changed || topicChanges) this.publish();
  }

  /** Reads the topic nodes, a bounded number at once; returns whether any accepted config changed. */
  private async readTopics(names: readonly string[]): Promise<boolean> {
    const changes = await mapConcurrently(names, TOPIC_READS_IN_FLIGHT, (name) => this.readTopic(name));
    return changes.includes(true);
  }

  private serial(read: () => Promise<void>): Promise<void> {
    this.reading = this.reading.then(read).catch((err: unknown) => {
      if (!this.closed) this.failures.warn('read', {}, 'zookeeper read failed; will retry on reconnect', err);
    });
    return this.reading;
  }

  private watcherFor(path: string, onEvent: () => void): () => void {
    let watcher = this.watchers.get(path);
    if (!watcher) {
      watcher = () => {
        if (!this.closed) onEvent();
      };
      this.watchers.set(path, watcher);
    }
    return watcher;
  }

  /** Reads the pproxy node (and watches it); returns whether the accepted config changed. */
  private async readPProxy(): Promise<boolean> {
    const node = await this.zk.read(
      this.pproxyPath,
      this.watcherFor(this.pproxyPath, () => void this.serial(() => this.onPProxyEvent())),
    );
    if (node === undefined) {
      if (this.pproxy !== undefined || !this.waitingLogged) {
        this.logger.warn({ node: this.fullPath(this.pproxyPath) }, 'not bound: waiting for this proxy\'s node in ZooKeeper');
        this.waitingLogged = true;
      }
      const changed = this.pproxy !== undefined;
      if (changed) this.written(Date.now()); // a deletion has no mtime: seen now
      this.pproxy = undefined;
      this.listed = new Set();
      return changed;
    }
    this.waitingLogged = false;
    const parsed = this.accept(this.pproxyPath, readPProxyNode(this.pproxyPath, node.data, this.options.clusterTypes));
    if (!parsed) return false;
    const changed = JSON.stringify(parsed) !== JSON.stringify(this.pproxy);
    if (changed) this.written(node.mtimeMs ?? Date.now());
    this.pproxy = parsed;
    this.listed = new Set(parsed.topics ?? []);
    return changed;
  }

  private async onPProxyEvent(): Promise<void> {
    const before = this.listed;
    const changed = await this.readPProxy();
    const topicChanges = await this.readTopics([...this.listed].filter((t) => !before.has(t)));
    for (const name of this.topics.keys()) {
      if (!this.listed.has(name)) this.topics.delete(name); // unwatched: its events are ignored
    }
    if (changed || topicChanges) this.publish();
  }

  /** Re-reads the topic nodes that changed since the last such read (one queued read for them all). */
  private async onTopicEvents(): Promise<void> {
    const names = [...this.changedTopics].filter((name) => this.listed.has(name));
    this.changedTopics.clear();
    if (await this.readTopics(names)) this.publish();
  }

  /** Reads a topic node (and watches it); returns whether the accepted config changed. */
  private async readTopic(name: string): Promise<boolean> {
    const path = `/topic/${name}`;
    const node = await this.zk.read(
      path,
      this.watcherFor(path, () => {
        if (!this.listed.has(name)) return; // no longer listed: unwatched
        // the first change since the last read queues one; later ones join it until it starts
        if (this.changedTopics.size === 0) void this.serial(() => this.onTopicEvents());
        this.changedTopics.add(name);
      }),
    );
    if (node === undefined) {
      if (this.topics.has(name)) this.logger.warn({ node: path }, 'topic node deleted; the topic stays until the pproxy node drops it');
      return false;
    }
    const parsed = this.accept(path, readTopicNode(path, node.data));
    if (!parsed) return false;
    if (parsed.topic !== name) {
      this.logger.error({ node: path, topic: parsed.topic }, 'topic config names another topic; refused');
      this.options.observer?.nodeRefused(path);
      return false;
    }
    const changed = JSON.stringify(parsed) !== JSON.stringify(this.topics.get(name));
    if (changed) this.written(node.mtimeMs ?? Date.now());
    this.topics.set(name, parsed);
    return changed;
  }

  /**
   * The node's config, or undefined when it is refused (logged with the reason; the last good one
   * stays). Fields this proxy does not use are reported once per node and field set.
   */
  private accept<T>(path: string, reading: NodeReading<T>): T | undefined {
    if (!reading.accepted) {
      this.logger.error({ node: path, problems: reading.problems }, `${reading.reason}; the last good config stays`);
      this.options.observer?.nodeRefused(path);
      return undefined;
    }
    const unused = reading.unusedFields.join(' ');
    if (unused && !this.reportedUnknown.has(`${path} ${unused}`)) {
      this.reportedUnknown.add(`${path} ${unused}`);
      this.logger.info({ node: path, unknownFields: unused }, 'fields this proxy does not use are ignored');
    }
    return reading.config;
  }

  private written(at: number): void {
    this.unpublishedWrite = Math.max(this.unpublishedWrite ?? at, at);
  }

  private publish(): void {
    this.version++;
    if (!this.listener) return;
    this.delivered = this.version;
    const writtenAt = this.unpublishedWrite;
    this.unpublishedWrite = undefined;
    this.listener(this.snapshot(), writtenAt);
  }

  /** The node's path with the chroot, as an operator finds it in ZooKeeper. */
  fullPath(path: string): string {
    const rooted = withCarreraRoot(this.options.connectString);
    return `${rooted.slice(rooted.indexOf('/'))}${path}`;
  }
}
