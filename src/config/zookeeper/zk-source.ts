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
 */
import type { Logger } from '../../log';
import type { PProxyConfig, TopicConfig } from '../schema';
import { readPProxyNode, readTopicNode, type NodeReading } from './node-reading';
import { ZkClient, withCarreraRoot } from './zk-client';

export interface ConfigSnapshot {
  /** undefined: the pproxy node does not exist (not bound). */
  readonly pproxy: PProxyConfig | undefined;
  readonly topics: readonly TopicConfig[];
}

export interface ZkSourceOptions {
  readonly connectString: string;
  /** host:port: the pproxy node's name. */
  readonly instance: string;
  readonly rereadIntervalMs?: number;
  readonly sessionTimeoutMs?: number;
}

const REREAD_INTERVAL_MS = 300_000;

export class ZkConfigSource {
  private zk: ZkClient;
  private pproxy: PProxyConfig | undefined;
  private readonly topics = new Map<string, TopicConfig>();
  private readonly reportedUnknown = new Set<string>();
  private listener: ((snapshot: ConfigSnapshot) => void) | undefined;
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

  constructor(
    private readonly options: ZkSourceOptions,
    private readonly logger: Logger,
  ) {
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
    return this.snapshot();
  }

  /**
   * Receives every snapshot after a change, from now on, starting with the current one if it
   * changed since start() returned (the caller registers once its storages are up).
   */
  onChange(listener: (snapshot: ConfigSnapshot) => void): void {
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
    const zk = new ZkClient(this.options.connectString, { sessionTimeout: this.options.sessionTimeoutMs });
    zk.client.on('connected', () => {
      this.logger.info({ zookeeper: this.options.connectString }, 'zookeeper connected');
      void this.rereadAll();
    });
    zk.client.on('disconnected', () => this.logger.warn('zookeeper disconnected; serving the last good configuration'));
    zk.client.on('expired', () => {
      // an expired session never comes back: start a new one (its connect re-reads everything)
      this.logger.warn('zookeeper session expired; opening a new session');
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
    const topicChanges = await Promise.all((this.pproxy?.topics ?? []).map((name) => this.readTopic(name)));
    if (changed || topicChanges.some(Boolean)) this.publish();
  }

  private serial(read: () => Promise<void>): Promise<void> {
    this.reading = this.reading.then(read).catch((err: unknown) => {
      if (!this.closed) this.logger.warn({ err: (err as Error).message }, 'zookeeper read failed; will retry on reconnect');
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
    const data = await this.zk.getData(
      this.pproxyPath,
      this.watcherFor(this.pproxyPath, () => void this.serial(() => this.onPProxyEvent())),
    );
    if (data === undefined) {
      if (this.pproxy !== undefined || !this.waitingLogged) {
        this.logger.warn({ node: this.fullPath(this.pproxyPath) }, 'not bound: waiting for this proxy\'s node in ZooKeeper');
        this.waitingLogged = true;
      }
      const changed = this.pproxy !== undefined;
      this.pproxy = undefined;
      return changed;
    }
    this.waitingLogged = false;
    const parsed = this.accept(this.pproxyPath, readPProxyNode(this.pproxyPath, data));
    if (!parsed) return false;
    const changed = JSON.stringify(parsed) !== JSON.stringify(this.pproxy);
    this.pproxy = parsed;
    return changed;
  }

  private async onPProxyEvent(): Promise<void> {
    const before = new Set(this.pproxy?.topics ?? []);
    const changed = await this.readPProxy();
    const added = (this.pproxy?.topics ?? []).filter((t) => !before.has(t));
    const topicChanges = await Promise.all(added.map((name) => this.readTopic(name)));
    for (const name of this.topics.keys()) {
      if (!(this.pproxy?.topics ?? []).includes(name)) this.topics.delete(name); // unwatched: its events are ignored
    }
    if (changed || topicChanges.some(Boolean)) this.publish();
  }

  /** Reads a topic node (and watches it); returns whether the accepted config changed. */
  private async readTopic(name: string): Promise<boolean> {
    const path = `/topic/${name}`;
    const data = await this.zk.getData(
      path,
      this.watcherFor(path, () => {
        if (!(this.pproxy?.topics ?? []).includes(name)) return; // no longer listed: unwatched
        void this.serial(async () => {
          if (await this.readTopic(name)) this.publish();
        });
      }),
    );
    if (data === undefined) {
      if (this.topics.has(name)) this.logger.warn({ node: path }, 'topic node deleted; the topic stays until the pproxy node drops it');
      return false;
    }
    const parsed = this.accept(path, readTopicNode(path, data));
    if (!parsed) return false;
    if (parsed.topic !== name) {
      this.logger.error({ node: path, topic: parsed.topic }, 'topic config names another topic; refused');
      return false;
    }
    const changed = JSON.stringify(parsed) !== JSON.stringify(this.topics.get(name));
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
      return undefined;
    }
    const unused = reading.unusedFields.join(' ');
    if (unused && !this.reportedUnknown.has(`${path} ${unused}`)) {
      this.reportedUnknown.add(`${path} ${unused}`);
      this.logger.info({ node: path, unknownFields: unused }, 'fields this proxy does not use are ignored');
    }
    return reading.config;
  }

  private publish(): void {
    this.version++;
    if (!this.listener) return;
    this.delivered = this.version;
    this.listener(this.snapshot());
  }

  /** The node's path with the chroot, as an operator finds it in ZooKeeper. */
  fullPath(path: string): string {
    const rooted = withCarreraRoot(this.options.connectString);
    return `${rooted.slice(rooted.indexOf('/'))}${path}`;
  }
}
