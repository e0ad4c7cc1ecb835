/**
 * Wires the configuration into a running proxy: storages -> routing table -> pipeline -> Thrift
 * server. The configuration comes from carrera.yaml (local mode) or ZooKeeper; either way a new
 * version is applied live through one path, and the proxy goes down with a drain.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { loadSettings, type ProxySettings } from './config/load';
import { schemas, type CarreraConfiguration } from './config/schema';
import { loadSnapshot, saveSnapshot } from './config/zookeeper/snapshot-cache';
import { DelaySender } from './delay/delay-sender';
import { LocalChronos } from './delay/local-chronos';
import { ZkConfigSource, type ConfigSnapshot } from './config/zookeeper/zk-source';
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
import { ClusterSet } from './storage/cluster-set';
import { clusterSpecs } from './storage/registry';
import type { ClusterStorage } from './storage/storage';

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

/** Defaults of every carreraConfiguration key: what an unbound proxy runs with. */
const UNBOUND_CONFIGURATION: CarreraConfiguration = schemas.strict.carreraConfiguration.parse({});

export class ProxyApp {
  private stopping: Promise<void> | undefined;
  private applying: Promise<boolean> = Promise.resolve(true);
  private pending: { snapshot: ConfigSnapshot; origin: ConfigOrigin } | undefined;
  private status: ProxyStatus;
  private readonly limiterReport: NodeJS.Timeout;

  private constructor(
    private settings: ProxySettings,
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
  ) {
    this.status = status;
    this.limiterReport = setInterval(() => this.reportLimiter(), LIMITER_REPORT_MS);
    this.limiterReport.unref();
  }

  /**
   * Starts the proxy as DDMQ's does: the configuration first (ZooKeeper, its cache, or the file),
   * then the storages and routing, through the same step as every later change (at boot without
   * warm-up waits: an unreachable cluster must not delay serving the others), then the Thrift server.
   */
  static async start(settings: ProxySettings, logger: Logger, hooks: ProxyHooks = {}): Promise<ProxyApp> {
    const { source, initial, origin } = await initialConfiguration(settings, logger);
    const conf = configurationOf(initial);
    const mode = settings.local ? 'local' : 'zookeeper';
    const instance = `${settings.host}:${settings.port}`;
    const nothing: RoutingTable = { topics: new Map(), innerTopicPrefix: undefined, innerTopicNum: 0 };
    const policy = buildPolicy(conf, nothing, undefined, Date.now);
    const budgets = new StorageBudgets(conf.maxInFlightBytesPerStorage);
    const batcher = new AutoBatcher(batchSettings(conf), budgets);
    // local mode plays Chronos' part: it delivers the delay messages it accepted, through itself
    let deliverDelay: (m: ProducerMessage) => ResultCode | Promise<ResultCode> = () => ResultCode.FAIL_SERVER_SHUTDOWN;
    const chronos = settings.local ? new LocalChronos(path.join(settings.dataDir, 'chronos'), (m) => deliverDelay(m), logger) : undefined;
    const pipeline = new ProducerPipeline(nothing, policy.policy, { logger, timers: realTimers, random: Math.random, batcher, budgets });
    const delays = new DelaySender(pipeline, logger, realTimers.now, chronos);
    deliverDelay = (m) => pipeline.sendSync(m, CHRONOS_DELIVERY_TIMEOUT_MS);
    const decoding = decodeSettings(conf);
    const server = new FrameServer(
      { bindAddress: settings.bindAddress, port: settings.port, backlog: conf.thriftServer.backlog, ...serverLimits(conf) },
      createProducerFrameHandler(pipeline, delays, logger, decoding),
      logger,
    );
    const status = describe(instance, mode, origin, source, initial, nothing, new Map());
    const app = new ProxyApp(settings, source, new ClusterSet(logger), pipeline, batcher, budgets, policy, server, decoding, logger, hooks, instance, status, chronos);
    await app.boot(initial, origin);
    return app;
  }

  private async boot(initial: ConfigSnapshot, origin: ConfigOrigin): Promise<void> {
    let address: AddressInfo;
    try {
      await this.applyNow(initial, origin, true);
      address = await this.server.listen();
    } catch (error) {
      this.source?.close();
      await this.clusters.close();
      throw error;
    }
    if (address.port !== this.settings.port) {
      // port 0 (tests, local mode) is known only now; units may name this instance in their proxies
      this.instanceId = `${this.settings.host}:${address.port}`;
      await this.applyNow(initial, origin, true);
    }
    this.chronos?.start();
    this.logger.info({ ...loggable(this.status), bind: `${address.address}:${address.port}` }, 'pproxy started');
    this.source?.onChange((snapshot) => void this.apply(snapshot, 'zookeeper'));
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
    if (!this.settings.local) return true;
    let next: ProxySettings;
    try {
      next = loadSettings(this.settings.configPath);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'configuration reload refused; the running configuration stays');
      return false;
    }
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

  /** Stops accepting, answers every request already received, then flushes and closes storage. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Applies configuration versions one at a time; of versions waiting, only the newest is applied. */
  private apply(snapshot: ConfigSnapshot, origin: ConfigOrigin): Promise<boolean> {
    this.pending = { snapshot, origin };
    this.applying = this.applying.then(() => {
      const next = this.pending;
      this.pending = undefined;
      return next ? this.applyNow(next.snapshot, next.origin) : true;
    });
    return this.applying;
  }

  /**
   * Applies one configuration version: storages started or kept (new ones warmed up for their
   * topics, for CLUSTER_WARM_UP_MS at most, while the running ones serve), then routing, limiter,
   * batching, storage budgets and server limits swapped in, then the storages it replaced retired.
   * A version that cannot be applied leaves the running one in place; at `boot` there is none, and
   * the error is thrown.
   */
  private async applyNow(snapshot: ConfigSnapshot, origin: ConfigOrigin, boot = false): Promise<boolean> {
    if (this.stopping) return false;
    const started = Date.now();
    const conf = configurationOf(snapshot);
    const identity: Identity = { instance: this.instanceId, requireBinding: this.status.mode === 'zookeeper' };
    try {
      const served = snapshot.pproxy ? await servedTopicsByCluster(snapshot.pproxy, snapshot.topics, identity) : new Map<string, string[]>();
      const warmUp = boot ? undefined : { topicsOf: (cluster: string) => served.get(cluster) ?? [], timeoutMs: CLUSTER_WARM_UP_MS };
      const change = await this.clusters.apply(clusterSpecs(conf, this.settings.dataDir, this.logger), warmUp);
      // built over several turns of the event loop, the old routing serving meanwhile; from here
      // to the swap nothing waits, so a request sees the old configuration or the new one whole
      const routing = await routingTable(snapshot, change.storages, identity);
      this.policy = buildPolicy(conf, routing, this.policy, Date.now);
      this.batcher.configure(batchSettings(conf));
      this.budgets.configure(conf.maxInFlightBytesPerStorage);
      this.pipeline.configure(routing, this.policy.policy);
      this.server.setLimits(serverLimits(conf));
      this.decoding.propertyLimits = decodeSettings(conf).propertyLimits;
      this.status = describe(this.instanceId, this.status.mode, origin, this.source, snapshot, routing, change.storages);
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
      this.logger.error({ err }, 'configuration not applied; the running configuration stays');
      return false;
    }
  }

  /** DDMQ's rate.limit.count metric: warning and refusal counts per topic, in the log. */
  private reportLimiter(): void {
    const counts = this.pipeline.limiter?.drainCounts();
    if (counts && counts.size > 0) this.logger.info({ rateLimit: Object.fromEntries(counts) }, 'rate limiter counts (last 10 s)');
  }

  private async shutdown(): Promise<void> {
    const started = Date.now();
    clearInterval(this.limiterReport);
    this.chronos?.stop();
    this.source?.close();
    // the connection counts (refusals, timeouts, bad frames) since start, until metrics report them
    this.logger.info({ connections: this.server.connectionCount(), server: this.server.stats().faults }, 'draining');
    const unanswered = await this.server.drain(this.settings.drainTimeoutMs);
    if (unanswered > 0) this.logger.warn({ unanswered }, 'drain timed out; requests left unanswered');
    if (this.chronos) {
      await this.chronos.close();
      this.logger.info(this.chronos.status(), 'chronos stopped');
    }
    await this.applying;
    await this.clusters.close();
    this.logger.info({ ms: Date.now() - started }, 'pproxy stopped');
  }
}

/** Where the first configuration comes from: the file, ZooKeeper, or (ZooKeeper unreachable) its cache. */
async function initialConfiguration(
  settings: ProxySettings,
  logger: Logger,
): Promise<{ source: ZkConfigSource | undefined; initial: ConfigSnapshot; origin: ConfigOrigin }> {
  if (settings.local) return { source: undefined, initial: settings.local, origin: 'file' };
  const instance = `${settings.host}:${settings.port}`;
  const source = new ZkConfigSource({ connectString: settings.zookeeperAddr!, instance }, logger);
  try {
    return { source, initial: await source.start(settings.zookeeperConnectTimeoutMs), origin: 'zookeeper' };
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'ZooKeeper unreachable at start; trying the configuration cache');
    const cached = loadSnapshot(cacheFile(settings), instance, logger);
    return { source, initial: cached ?? { pproxy: undefined, topics: [] }, origin: cached ? 'cache' : 'none' };
  }
}

/** An unbound proxy runs with every carreraConfiguration default. */
function configurationOf(snapshot: ConfigSnapshot): CarreraConfiguration {
  return snapshot.pproxy?.carreraConfiguration ?? UNBOUND_CONFIGURATION;
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
  if (!snapshot.pproxy) return { topics: new Map(), innerTopicPrefix: undefined, innerTopicNum: 0 };
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
): ProxyStatus {
  return {
    instance,
    mode,
    configOrigin: origin,
    waitingFor: source && !snapshot.pproxy ? source.fullPath(source.pproxyPath) : undefined,
    topics: [...routing.topics.keys()],
    clusters: [...storages.keys()],
  };
}

/** Topics listed in a status log line; past it the line says how many (a node may list tens of thousands). */
const LOGGED_TOPICS = 100;

function loggable(status: ProxyStatus): Record<string, unknown> {
  const { topics, ...rest } = status;
  return { ...rest, topicCount: topics.length, ...(topics.length <= LOGGED_TOPICS ? { topics } : {}) };
}

function cacheFile(settings: ProxySettings): string {
  return path.join(settings.dataDir, 'zookeeper-config.json');
}

function restartNeeded(before: ProxySettings, after: ProxySettings): boolean {
  const server = (s: ProxySettings) => JSON.stringify([s.host, s.port, s.bindAddress, s.dataDir, s.logDir, s.local?.pproxy.carreraConfiguration.thriftServer.backlog]);
  return server(before) !== server(after);
}
