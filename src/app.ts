/**
 * Wires the configuration into a running proxy: storages -> routing table -> pipeline -> Thrift
 * server. The configuration comes from carrera.yaml (local mode) or ZooKeeper; either way a new
 * version is applied live through one path, and the proxy goes down with a drain.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadSettings, readStoragePluginList, type ProxySettings } from './config/load';
import { configSchemas, type CarreraConfiguration } from './config/schema';
import { loadSnapshot, saveSnapshot } from './config/zookeeper/snapshot-cache';
import { DelaySender } from './delay/delay-sender';
import { LocalChronos } from './delay/local-chronos';
import { ZkConfigSource, type ConfigSnapshot, type ZkSourceObserver } from './config/zookeeper/zk-source';
import { AutoBatcher } from './batch/auto-batcher';
import { realTimers } from './time/timers';
import { ProducerPipeline } from './core/pipeline';
import { batchSettings, buildPolicy, type BuiltPolicy } from './core/policy';
import { StorageBudgets } from './core/storage-budget';
import { buildRoutingTable, servedTopicsByCluster, type Identity, type RoutingTable } from './core/routing-table';
import type { Logger } from './log';
import type { ProducerMessage } from './core/message';
import { ResultCode } from './protocol/result-codes';
import { FrameServer, type FrameLimits } from './server/frame-server';
import { createProducerFrameHandler, type DecodeSettings } from './server/producer-service';
import { PROXY_ITSELF } from './security/caller';
import { ClusterSet } from './storage/cluster-set';
import type { NodeConfiguration } from './node-configuration';
import { resolveStoragePlugins } from './storage/plugin-loader';
import { BUILT_IN, STORAGE_CLOSE_TIMEOUT_MS, type StorageRegistry } from './storage/storage-registry';
import type { ClusterStorage } from './storage/storage';
import { ProxyMetrics } from './metrics/proxy-metrics';
import { AdminServer } from './admin/admin-server';
import { Lifecycle } from './admin/lifecycle';
import { timeLimit } from './time/time-limit';

/**
 * Why a configuration is applied: the first one at boot; that same one again once a port 0 is
 * known and the instance's identity with it (no new version: neither counted nor timed); a change.
 */
type ApplyKind = 'boot' | 'identity' | 'change';

/** Where the configuration being served came from. */
export type ConfigOrigin = 'file' | 'zookeeper' | 'cache' | 'none';

export interface ProxyStatus {
  readonly instance: string;
  readonly mode: 'local' | 'zookeeper';
  readonly configOrigin: ConfigOrigin;
  /** ZooKeeper mode without this proxy's node: the node it waits for. */
  readonly waitingFor: string | undefined;
  readonly topics: readonly string[];
  readonly clusters: readonly string[];
  /** The storage plugins this node runs with: kind, version, and `built-in` or the file loaded. */
  readonly storagePlugins: readonly { readonly kind: string; readonly version: string; readonly source: string }[];
}

/** GET /status: the status, with the phase, readiness, and each cluster's kind and state. */
export interface AdminStatus extends Omit<ProxyStatus, 'clusters'> {
  readonly phase: Lifecycle['phase'];
  readonly ready: boolean;
  readonly notReadyReason: string | undefined;
  /** The clusters still warming up (at start; past the warm-up's bound the proxy is ready all the same). */
  readonly warming: readonly string[];
  /** Configuration versions applied since start (1: the first). */
  readonly configVersion: number;
  readonly configAppliedAt: string | undefined;
  /** warming: started, its topics' connections and metadata still being loaded (at start only). */
  readonly clusters: readonly { readonly name: string; readonly kind: string; readonly state: 'warming' | 'ready' }[];
}

export interface ProxyHooks {
  /** Called whenever the status changes (configuration applied, binding appeared). */
  readonly onStatus?: (status: ProxyStatus) => void;
}

/** Chronos' sendSync timeout when it re-delivers (its SDK's proxyTimeout). */
const CHRONOS_DELIVERY_TIMEOUT_MS = 3000;

/** How often the limiter's warning and refusal counts are logged (DDMQ's metric interval). */
const LIMITER_REPORT_MS = 10_000;
/**
 * How long a configuration change waits for the clusters it starts to connect and load their
 * topics' metadata while the running ones keep serving; past it they are routed to anyway. At boot
 * nothing waits: an unreachable cluster must not delay serving the others.
 */
const CLUSTER_WARM_UP_MS = 5000;


export class ProxyApp {
  private stopping: Promise<void> | undefined;
  /** Set during drainDelayMs: ends it early. */
  private endDrainDelay: ((why: string) => void) | undefined;
  private applying: Promise<boolean> = Promise.resolve(true);
  private pending: { snapshot: ConfigSnapshot; origin: ConfigOrigin; writtenAt: number | undefined } | undefined;
  private status: ProxyStatus;
  private readonly limiterReport: NodeJS.Timeout;
  private readonly lifecycle: Lifecycle;
  private admin: AdminServer | undefined;
  private configVersion = 0;
  private configAppliedAt: Date | undefined;
  /** The storages of the configuration being served, and those still warming up since start. */
  private storagesServed: ReadonlyMap<string, ClusterStorage> = new Map();
  private readonly warming = new Set<string>();
  /** At start: the topics routed to each cluster, which the clusters warm up for once the proxy listens. */
  private bootServed: ReadonlyMap<string, readonly string[]> = new Map();
  /** Whether the warning that every client may send from_chronos was logged (once per process). */
  private warnedOfChronosSenders = false;

  private constructor(
    private settings: ProxySettings,
    private readonly storages: StorageRegistry,
    private readonly source: ZkConfigSource | undefined,
    private readonly clusters: ClusterSet,
    private readonly pipeline: ProducerPipeline,
    private readonly batcher: AutoBatcher,
    private readonly budgets: StorageBudgets,
    private policy: BuiltPolicy,
    private readonly server: FrameServer,
    private readonly decoding: DecodeSettings,
    private readonly logger: Logger,
    private readonly hooks: ProxyHooks,
    private instanceId: string,
    status: ProxyStatus,
    private readonly chronos: LocalChronos | undefined,
    /** What the admin listener exports; counts nothing when it is off. */
    readonly metrics: ProxyMetrics,
  ) {
    this.status = status;
    this.lifecycle = new Lifecycle(metrics.lifecycle, logger, () => this.warming);
    this.limiterReport = setInterval(() => this.reportLimiter(), LIMITER_REPORT_MS);
    this.limiterReport.unref();
  }

  /**
   * Starts the proxy as DDMQ's does: the configuration first (ZooKeeper, its cache, or the file),
   * then the storages and routing, through the same step as every later change (at boot without
   * warm-up waits: an unreachable cluster must not delay serving the others), then the Thrift server.
   */
  static async start({ settings, storages }: NodeConfiguration, logger: Logger, hooks: ProxyHooks = {}): Promise<ProxyApp> {
    const metrics = new ProxyMetrics(settings.adminPort !== 0);
    const { source, initial, origin } = await initialConfiguration(settings, logger, metrics);
    const conf = configurationOf(initial, settings);
    const mode = settings.local ? 'local' : 'zookeeper';
    const instance = `${settings.host}:${settings.port}`;
    const nothing: RoutingTable = { topics: new Map(), innerTopicPrefix: undefined, innerTopicNum: 0, chronosSenders: undefined };
    const policy = buildPolicy(conf, nothing, undefined, Date.now, metrics);
    const budgets = new StorageBudgets(conf.maxInFlightBytesPerStorage, { metrics, clock: metrics.server.clock });
    const batcher = new AutoBatcher(batchSettings(conf), budgets);
    // local mode plays Chronos' part: it delivers the delay messages it accepted, through itself
    let deliverDelay: (m: ProducerMessage) => ResultCode | Promise<ResultCode> = () => ResultCode.FAIL_SERVER_SHUTDOWN;
    const chronos = settings.local ? new LocalChronos(path.join(settings.dataDir, 'chronos'), (m) => deliverDelay(m), logger, { metrics: metrics.chronos }) : undefined;
    const pipeline = new ProducerPipeline(nothing, policy.policy, { logger, timers: realTimers, random: Math.random, batcher, budgets, metrics });
    const delays = new DelaySender(pipeline, logger, realTimers.now, chronos);
    deliverDelay = (m) => pipeline.sendSync(m, CHRONOS_DELIVERY_TIMEOUT_MS, PROXY_ITSELF);
    const decoding = decodeSettings(conf);
    const server = new FrameServer(
      { bindAddress: settings.bindAddress, port: settings.port, backlog: conf.thriftServer.backlog, listener: settings.listener, ...serverLimits(conf) },
      createProducerFrameHandler(pipeline, delays, logger, decoding, metrics),
      logger,
      metrics.server,
    );
    const status = describe(instance, mode, origin, source, initial, nothing, new Map(), storages);
    logger.info({ storagePlugins: status.storagePlugins }, 'storage plugins loaded');
    const app = new ProxyApp(settings, storages, source, new ClusterSet(logger), pipeline, batcher, budgets, policy, server, decoding, logger, hooks, instance, status, chronos, metrics);
    await app.boot(initial, origin);
    return app;
  }

  private async boot(initial: ConfigSnapshot, origin: ConfigOrigin): Promise<void> {
    let address: AddressInfo;
    try {
      await this.applyNow(initial, origin, 'boot');
      // before the Thrift port: a taken admin port fails the start before any client is accepted
      if (this.settings.adminPort !== 0) await this.startAdmin();
      address = await this.server.listen();
    } catch (error) {
      this.source?.close();
      await this.admin?.close();
      await this.clusters.close();
      throw error;
    }
    if (address.port !== this.settings.port) {
      // port 0 (tests, local mode) is known only now; units may name this instance in their proxies
      this.instanceId = `${this.settings.host}:${address.port}`;
      await this.applyNow(initial, origin, 'identity');
    }
    this.chronos?.start();
    this.logger.info({ ...loggable(this.status), bind: `${address.address}:${address.port}`, admin: this.adminAddress() }, 'pproxy started');
    this.source?.onChange((snapshot, writtenAt) => void this.apply(snapshot, 'zookeeper', writtenAt));
    void this.warmUpBootClusters();
  }

  private async startAdmin(): Promise<void> {
    const { adminBindAddress: bindAddress, adminPort: port } = this.settings;
    this.admin = new AdminServer(
      { bindAddress, port },
      {
        metrics: async () => ({ contentType: this.metrics.contentType, body: await this.metrics.render() }),
        readiness: () => this.lifecycle.readiness(),
        status: () => this.adminStatus(),
      },
      this.logger,
    );
    await this.admin.listen();
  }

  /**
   * At start the clusters were routed to without waiting (an unreachable one must not delay the
   * others); /ready waits for them to warm up, for CLUSTER_WARM_UP_MS at most, as a change would.
   */
  private async warmUpBootClusters(): Promise<void> {
    const warmUps = [...this.storagesServed].map(async ([name, storage]) => {
      if (!storage.warmUp) return;
      this.warming.add(name);
      try {
        await storage.warmUp(this.bootServed.get(name) ?? []);
      } catch (err) {
        this.logger.warn({ err, cluster: name }, 'warming a cluster up failed');
      } finally {
        this.warming.delete(name);
      }
    });
    const began = Date.now();
    await timeLimit(Promise.all(warmUps), CLUSTER_WARM_UP_MS);
    this.lifecycle.enter('serving', { ms: Date.now() - began, ...(this.warming.size > 0 ? { stillWarming: [...this.warming] } : {}) });
  }

  /** The admin listener's host:port as a URL names it (an IPv6 host in brackets), when it is on. */
  adminAddress(): string | undefined {
    const address = this.admin?.address();
    if (!address) return undefined;
    return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
  }

  adminStatus(): AdminStatus {
    const { clusters, ...status } = this.status;
    const readiness = this.lifecycle.readiness();
    return {
      ...status,
      phase: this.lifecycle.phase,
      ready: readiness.ready,
      notReadyReason: readiness.reason,
      warming: [...this.warming],
      configVersion: this.configVersion,
      configAppliedAt: this.configAppliedAt?.toISOString(),
      clusters: clusters.map((name) => ({ name, kind: this.storagesServed.get(name)?.kind ?? 'unknown', state: this.warming.has(name) ? 'warming' : 'ready' })),
    };
  }

  /** host:port, this proxy's identity in ZooKeeper and in topic units' proxies. */
  get instance(): string {
    return this.instanceId;
  }

  address(): AddressInfo {
    return this.server.address();
  }

  currentStatus(): ProxyStatus {
    return this.status;
  }

  /**
   * Local mode: re-reads carrera.yaml and applies it. A file that fails validation is refused whole
   * and the running configuration stays. Resolves with whether it was applied. (ZooKeeper mode
   * applies changes as they happen; there this only reports the current state.)
   */
  async reload(): Promise<boolean> {
    let next: ProxySettings;
    try {
      next = loadSettings(this.settings.configPath, this.storages.types);
      if (this.settings.local) this.warnOfPluginChanges();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'configuration reload refused; the running configuration stays');
      if (this.settings.local) this.metrics.lifecycle.configVersions('file', 'refused').inc();
      return false;
    }
    if (!this.reloadListener(next)) return false;
    if (!this.settings.local) return true;
    if (!next.local) {
      this.logger.error('configuration reload refused: switching to ZooKeeper mode needs a restart');
      return false;
    }
    if (restartNeeded(this.settings, next)) {
      this.logger.warn('server settings (port, bind address, thriftServer.backlog, dataDir, logDir) changed: they apply after a restart');
    }
    const applied = await this.apply(next.local, 'file');
    // server settings stay as started; the rest of the file is now the running configuration
    if (applied) this.settings = { ...this.settings, local: next.local, drainTimeoutMs: next.drainTimeoutMs };
    return applied;
  }

  /**
   * The Thrift listener's certificates (read again from their files) and allow-lists, in both modes:
   * they belong to this node's carrera.yaml. Files that cannot be used keep the running ones, and
   * the rest of the reload is refused with them.
   */
  private reloadListener(next: ProxySettings): boolean {
    try {
      this.server.setListener(next.listener);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'thriftServer reload refused; the running certificates and allow-lists stay');
      if (this.settings.local) this.metrics.lifecycle.configVersions('file', 'refused').inc();
      return false;
    }
    this.settings = { ...this.settings, listener: next.listener };
    if (next.listener.tls) this.logger.info({ cert: next.listener.tls.certFile }, 'TLS certificates reloaded');
    return true;
  }

  /**
   * Turns /ready 503 at once; with the admin listener on, keeps accepting for drainDelayMs so that
   * load balancers see it and move away; then stops accepting, answers every request already
   * received, flushes and closes storage, and closes the admin listener last. A second call
   * during drainDelayMs (a second SIGTERM or SIGINT) skips the rest of the delay.
   */
  stop(): Promise<void> {
    if (this.stopping) this.endDrainDelay?.('a second stop request');
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Applies configuration versions one at a time; of versions waiting, only the newest is applied. */
  private apply(snapshot: ConfigSnapshot, origin: ConfigOrigin, writtenAt?: number): Promise<boolean> {
    this.pending = { snapshot, origin, writtenAt };
    this.applying = this.applying.then(() => {
      const next = this.pending;
      this.pending = undefined;
      return next ? this.applyNow(next.snapshot, next.origin, 'change', next.writtenAt) : true;
    });
    return this.applying;
  }

  /**
   * Applies one configuration version: storages started or kept (new ones warmed up for their
   * topics, for CLUSTER_WARM_UP_MS at most, while the running ones serve), then routing, limiter,
   * batching, storage budgets and server limits swapped in, then the storages it replaced retired.
   * A version that cannot be applied leaves the running one in place; at boot there is none, and
   * the error is thrown. `writtenAt`: when ZooKeeper took the newest write in it.
   */
  private async applyNow(snapshot: ConfigSnapshot, origin: ConfigOrigin, kind: ApplyKind, writtenAt?: number): Promise<boolean> {
    if (this.stopping) return false;
    const boot = kind !== 'change';
    const started = Date.now();
    const versions = (outcome: 'applied' | 'refused') => {
      if (origin !== 'none') this.metrics.lifecycle.configVersions(origin, outcome).inc();
    };
    const conf = configurationOf(snapshot, this.settings);
    const identity: Identity = { instance: this.instanceId, requireBinding: this.status.mode === 'zookeeper' };
    try {
      const served = snapshot.pproxy ? await servedTopicsByCluster(snapshot.pproxy, snapshot.topics, identity) : new Map<string, string[]>();
      const warmUp = boot ? undefined : { topicsOf: (cluster: string) => served.get(cluster) ?? [], timeoutMs: CLUSTER_WARM_UP_MS };
      const change = await this.clusters.apply(this.storages.clusterSpecs(conf, this.settings.dataDir, this.logger, this.metrics.storages), warmUp);
      // built over several turns of the event loop, the old routing serving meanwhile; from here
      // to the swap nothing waits, so a request sees the old configuration or the new one whole
      const routing = await routingTable(snapshot, change.storages, identity);
      // before the policy: a new limiter resolves its topics' children
      this.metrics.configure(routing.topics.keys(), change.storages.keys());
      this.policy = buildPolicy(conf, routing, this.policy, Date.now, this.metrics);
      this.batcher.configure(batchSettings(conf));
      this.budgets.configure(conf.maxInFlightBytesPerStorage);
      this.pipeline.configure(routing, this.policy.policy);
      this.warnOfUntrustedChronosSenders(routing);
      const applied = Date.now();
      if (kind !== 'identity') {
        if (writtenAt !== undefined) this.metrics.lifecycle.zookeeperWriteToApplied.observe(Math.max(0, applied - writtenAt) / 1000);
        this.metrics.lifecycle.configApplyDuration.observe((applied - started) / 1000);
        versions('applied');
        this.configVersion++;
        this.configAppliedAt = new Date(applied);
      }
      this.storagesServed = change.storages;
      if (boot) this.bootServed = served;
      this.server.setLimits(serverLimits(conf));
      this.decoding.propertyLimits = decodeSettings(conf).propertyLimits;
      this.status = describe(this.instanceId, this.status.mode, origin, this.source, snapshot, routing, change.storages, this.storages);
      this.lifecycle.setWaitingFor(this.status.waitingFor);
      this.logger.info({ ...loggable(this.status), ms: Date.now() - started }, 'configuration applied');
      // the new configuration is live: what follows must not undo that, nor skip the retirement
      try {
        if (origin === 'zookeeper') await saveSnapshot(cacheFile(this.settings), this.instanceId, snapshot);
        this.hooks.onStatus?.(this.status);
      } catch (err) {
        this.logger.error({ err }, 'configuration applied, but its cache or status could not be written');
      }
      await change.retire();
      return true;
    } catch (err) {
      if (boot) throw err;
      versions('refused');
      this.logger.error({ err }, 'configuration not applied; the running configuration stays');
      return false;
    }
  }

  /** DDMQ trusts every client's from_chronos; said once, when a delay topic is served without delay.trustedSenders. */
  private warnOfUntrustedChronosSenders(routing: RoutingTable): void {
    if (this.warnedOfChronosSenders || routing.chronosSenders !== undefined) return;
    if (![...routing.topics.values()].some((t) => t.delayTopic)) return;
    this.warnedOfChronosSenders = true;
    this.logger.warn('delay topics are served and delay.trustedSenders is not set: every client may send from_chronos and write past the delay guard');
  }

  /** Plugins load once, at start: a changed storagePlugins list or plugins/ folder waits for a restart. */
  private warnOfPluginChanges(): void {
    const list = readStoragePluginList(this.settings.configPath);
    const running = JSON.stringify(this.storages.plugins.filter((p) => p.source !== BUILT_IN).map((p) => p.source).sort());
    let listed: string;
    try {
      // resolved, not loaded: a plugin's code runs only at start
      listed = JSON.stringify(resolveStoragePlugins(list.configPath, list.modules).sort());
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'storage plugins changed and one cannot be found; the running plugins stay until a restart');
      return;
    }
    if (listed !== running) this.logger.warn('storage plugins changed: they are loaded at start, so the change applies after a restart');
  }

  /** DDMQ's rate.limit.count metric: warning and refusal counts per topic, in the log. */
  private reportLimiter(): void {
    const counts = this.pipeline.limiter?.drainCounts();
    if (counts && counts.size > 0) this.logger.info({ rateLimit: Object.fromEntries(counts) }, 'rate limiter counts (last 10 s)');
  }

  /** Waits `ms`, or until endDrainDelay cuts it short (logged). */
  private drainDelay(ms: number): Promise<void> {
    const began = Date.now();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.endDrainDelay = undefined;
        resolve();
      }, ms);
      this.endDrainDelay = (why) => {
        clearTimeout(timer);
        this.endDrainDelay = undefined;
        this.logger.info({ skippedMs: Math.max(0, ms - (Date.now() - began)) }, `drain delay cut short by ${why}`);
        resolve();
      };
    });
  }

  private async shutdown(): Promise<void> {
    const started = Date.now();
    // nothing to announce the drain without the admin listener: stop accepting at once
    const delayMs = this.admin ? this.settings.drainDelayMs : 0;
    this.lifecycle.enter('draining', { stopWithinMs: stopBoundMs({ ...this.settings, drainDelayMs: delayMs }), drainDelayMs: delayMs });
    clearInterval(this.limiterReport);
    this.source?.close();
    if (delayMs > 0) await this.drainDelay(delayMs);
    // with accepting: until now local Chronos delivered what fell due, as a client's sends were served
    this.chronos?.stop();
    // the connection counts (refusals, timeouts, bad frames) since start, until metrics report them
    this.lifecycle.enter('stopping', { connections: this.server.connectionCount(), server: this.server.stats().faults });
    const unanswered = await this.server.drain(this.settings.drainTimeoutMs);
    if (unanswered > 0) this.logger.warn({ unanswered }, 'drain timed out; requests left unanswered');
    if (this.chronos) {
      await this.chronos.close();
      this.logger.info(this.chronos.status(), 'chronos stopped');
    }
    await this.applying;
    await this.clusters.close();
    await this.admin?.close();
    this.logger.info({ ms: Date.now() - started }, 'pproxy stopped');
  }
}

/**
 * The longest a stop takes: the drain delay, the requests received (drainTimeoutMs), local Chronos'
 * deliveries under way, and the storages' close. control.sh waits longer than this by default
 * before it kills the proxy.
 */
export function stopBoundMs(settings: Pick<ProxySettings, 'drainDelayMs' | 'drainTimeoutMs'>): number {
  return settings.drainDelayMs + settings.drainTimeoutMs + CHRONOS_DELIVERY_TIMEOUT_MS + STORAGE_CLOSE_TIMEOUT_MS;
}

/** Where the first configuration comes from: the file, ZooKeeper, or (ZooKeeper unreachable) its cache. */
async function initialConfiguration(
  settings: ProxySettings,
  logger: Logger,
  metrics: ProxyMetrics,
): Promise<{ source: ZkConfigSource | undefined; initial: ConfigSnapshot; origin: ConfigOrigin }> {
  if (settings.local) return { source: undefined, initial: settings.local, origin: 'file' };
  const instance = `${settings.host}:${settings.port}`;
  const zookeeper = metrics.lifecycle;
  const observer: ZkSourceObserver = {
    sessionEvent: (event) => {
      zookeeper.zookeeperEvents[event].inc();
      zookeeper.zookeeperConnected.set(event === 'connected' ? 1 : 0);
    },
    nodeRefused: () => zookeeper.configVersions('zookeeper', 'refused').inc(),
  };
  zookeeper.zookeeperConnected.set(0);
  const source = new ZkConfigSource({ connectString: settings.zookeeperAddr!, auth: settings.zookeeperAuth, instance, clusterTypes: settings.clusterTypes, observer }, logger);
  try {
    return { source, initial: await source.start(settings.zookeeperConnectTimeoutMs), origin: 'zookeeper' };
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'ZooKeeper unreachable at start; trying the configuration cache');
    const cached = loadSnapshot(cacheFile(settings), instance, settings.clusterTypes, logger);
    return { source, initial: cached ?? { pproxy: undefined, topics: [] }, origin: cached ? 'cache' : 'none' };
  }
}

/** An unbound proxy runs with every carreraConfiguration default. */
function configurationOf(snapshot: ConfigSnapshot, settings: ProxySettings): CarreraConfiguration {
  return snapshot.pproxy?.carreraConfiguration ?? configSchemas(settings.clusterTypes).strict.carreraConfiguration.parse({});
}

function serverLimits(conf: CarreraConfiguration): FrameLimits {
  const thrift = conf.thriftServer;
  return {
    maxFrameBytes: thrift.maxReadBufferBytes,
    maxInFlightPerConnection: thrift.maxInFlightPerConnection,
    maxInFlightBytes: thrift.maxInFlightBytes,
    idleTimeoutMs: thrift.clientTimeout,
    frameTimeoutMs: thrift.frameTimeoutMs,
    maxConnections: thrift.maxConnections,
    maxConnectionsPerClient: thrift.maxConnectionsPerClient,
  };
}

function decodeSettings(conf: CarreraConfiguration): DecodeSettings {
  const thrift = conf.thriftServer;
  return { propertyLimits: { maxCount: thrift.maxPropertiesPerMessage, maxBytes: thrift.maxPropertiesBytes } };
}

async function routingTable(snapshot: ConfigSnapshot, storages: ReadonlyMap<string, ClusterStorage>, identity: Identity): Promise<RoutingTable> {
  if (!snapshot.pproxy) return { topics: new Map(), innerTopicPrefix: undefined, innerTopicNum: 0, chronosSenders: undefined };
  return buildRoutingTable(snapshot.pproxy, snapshot.topics, storages, identity);
}

function describe(
  instance: string,
  mode: ProxyStatus['mode'],
  origin: ConfigOrigin,
  source: ZkConfigSource | undefined,
  snapshot: ConfigSnapshot,
  routing: RoutingTable,
  storages: ReadonlyMap<string, ClusterStorage>,
  registry: StorageRegistry,
): ProxyStatus {
  return {
    instance,
    mode,
    configOrigin: origin,
    waitingFor: source && !snapshot.pproxy ? source.fullPath(source.pproxyPath) : undefined,
    topics: [...routing.topics.keys()],
    clusters: [...storages.keys()],
    storagePlugins: registry.plugins.map(({ plugin, source }) => ({ kind: plugin.kind, version: plugin.version, source })),
  };
}

/** Topics listed in a status log line; past it the line says how many (a node may list tens of thousands). */
const LOGGED_TOPICS = 100;

function loggable(status: ProxyStatus): Record<string, unknown> {
  const { topics, storagePlugins: _logged, ...rest } = status; // plugins: logged once, at start
  return { ...rest, topicCount: topics.length, ...(topics.length <= LOGGED_TOPICS ? { topics } : {}) };
}

function cacheFile(settings: ProxySettings): string {
  return path.join(settings.dataDir, 'zookeeper-config.json');
}

function restartNeeded(before: ProxySettings, after: ProxySettings): boolean {
  const server = (s: ProxySettings) => JSON.stringify([s.host, s.port, s.bindAddress, s.dataDir, s.logDir, s.local?.pproxy.carreraConfiguration.thriftServer.backlog]);
  return server(before) !== server(after);
}
