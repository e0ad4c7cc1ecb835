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
import { buildRoutingTable, servedTopicsByCluster, type Identity, type RoutingTable } from './core/routing-table';
import type { Logger } from './log';
import type { ProducerMessage } from './core/message';
import { ResultCode } from './protocol/result-codes';
import { FrameServer } from './server/frame-server';
import { createProducerFrameHandler } from './server/producer-service';
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
    private policy: BuiltPolicy,
    private readonly server: FrameServer,
    private readonly logger: Logger,
    private readonly hooks: ProxyHooks,
    readonly instance: string,
    status: ProxyStatus,
    private readonly chronos: LocalChronos | undefined,
  ) {
    this.status = status;
    this.limiterReport = setInterval(() => this.reportLimiter(), LIMITER_REPORT_MS);
    this.limiterReport.unref();
  }

  static async start(settings: ProxySettings, logger: Logger, hooks: ProxyHooks = {}): Promise<ProxyApp> {
    const mode = settings.local ? 'local' : 'zookeeper';
    const configuredInstance = `${settings.host}:${settings.port}`;
    let source: ZkConfigSource | undefined;
    let initial: ConfigSnapshot;
    let origin: ConfigOrigin;
    if (settings.local) {
      initial = settings.local;
      origin = 'file';
    } else {
      source = new ZkConfigSource({ connectString: settings.zookeeperAddr!, instance: configuredInstance }, logger);
      try {
        initial = await source.start(settings.zookeeperConnectTimeoutMs);
        origin = 'zookeeper';
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'ZooKeeper unreachable at start; trying the configuration cache');
        const cached = loadSnapshot(cacheFile(settings), configuredInstance, logger);
        initial = cached ?? { pproxy: undefined, topics: [] };
        origin = cached ? 'cache' : 'none';
      }
    }

    const clusters = new ClusterSet(logger);
    const conf = initial.pproxy?.carreraConfiguration ?? UNBOUND_CONFIGURATION;
    let storages: ReadonlyMap<string, ClusterStorage>;
    try {
      ({ storages } = await clusters.apply(clusterSpecs(conf, settings.dataDir, logger)));
    } catch (error) {
      source?.close();
      throw error;
    }
    const requireBinding = mode === 'zookeeper';
    const firstRouting = routingTable(initial, storages, { instance: configuredInstance, requireBinding });
    let policy = buildPolicy(conf, firstRouting, undefined, Date.now);
    const batcher = new AutoBatcher(batchSettings(conf));
    // local mode plays Chronos' part: it delivers the delay messages it accepted, through itself
    let deliverDelay: (m: ProducerMessage) => ResultCode | Promise<ResultCode> = () => ResultCode.FAIL_SERVER_SHUTDOWN;
    const chronos = settings.local ? new LocalChronos(path.join(settings.dataDir, 'chronos'), (m) => deliverDelay(m), logger) : undefined;
    const pipeline = new ProducerPipeline(firstRouting, policy.policy, {
      logger,
      timers: realTimers,
      random: Math.random,
      batcher,
    });
    const delays = new DelaySender(pipeline, logger, realTimers.now, chronos);
    deliverDelay = (m) => pipeline.sendSync(m, CHRONOS_DELIVERY_TIMEOUT_MS);
    const thrift = conf.thriftServer;
    const server = new FrameServer(
      {
        bindAddress: settings.bindAddress,
        port: settings.port,
        backlog: thrift.backlog,
        maxFrameBytes: thrift.maxReadBufferBytes,
        maxInFlightPerConnection: thrift.maxInFlightPerConnection,
        maxInFlightBytes: thrift.maxInFlightBytes,
        idleTimeoutMs: thrift.clientTimeout,
      },
      createProducerFrameHandler(pipeline, delays, logger),
      logger,
    );
    let address: AddressInfo;
    try {
      address = await server.listen();
    } catch (error) {
      source?.close();
      await clusters.close();
      throw error;
    }
    const instance = `${settings.host}:${address.port}`;
    // port 0 (tests, local mode) is known only now; units may name this instance in their proxies
    const routing = routingTable(initial, storages, { instance, requireBinding });
    if (address.port !== settings.port) {
      policy = buildPolicy(conf, routing, policy, Date.now);
      pipeline.configure(routing, policy.policy);
    }
    const status = describe(instance, mode, origin, source, initial, routing, storages);
    const app = new ProxyApp(settings, source, clusters, pipeline, batcher, policy, server, logger, hooks, instance, status, chronos);
    chronos?.start();
    logger.info({ ...status, bind: `${address.address}:${address.port}` }, 'pproxy started');
    hooks.onStatus?.(status);
    source?.onChange((snapshot) => void app.apply(snapshot, 'zookeeper'));
    if (origin === 'zookeeper') saveSnapshot(cacheFile(settings), instance, initial);
    return app;
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

  private async applyNow(snapshot: ConfigSnapshot, origin: ConfigOrigin): Promise<boolean> {
    if (this.stopping) return false;
    const started = Date.now();
    const conf = snapshot.pproxy?.carreraConfiguration ?? UNBOUND_CONFIGURATION;
    const identity: Identity = { instance: this.instance, requireBinding: this.status.mode === 'zookeeper' };
    try {
      const served = snapshot.pproxy ? servedTopicsByCluster(snapshot.pproxy, snapshot.topics, identity) : new Map<string, string[]>();
      const change = await this.clusters.apply(clusterSpecs(conf, this.settings.dataDir, this.logger), {
        topicsOf: (cluster) => served.get(cluster) ?? [],
        timeoutMs: CLUSTER_WARM_UP_MS,
      });
      const routing = routingTable(snapshot, change.storages, identity);
      this.policy = buildPolicy(conf, routing, this.policy, Date.now);
      this.batcher.configure(batchSettings(conf));
      this.pipeline.configure(routing, this.policy.policy);
      this.server.setLimits({
        maxFrameBytes: conf.thriftServer.maxReadBufferBytes,
        maxInFlightPerConnection: conf.thriftServer.maxInFlightPerConnection,
        maxInFlightBytes: conf.thriftServer.maxInFlightBytes,
        idleTimeoutMs: conf.thriftServer.clientTimeout,
      });
      this.status = describe(this.instance, this.status.mode, origin, this.source, snapshot, routing, change.storages);
      this.logger.info({ ...this.status, ms: Date.now() - started }, 'configuration applied');
      // the new configuration is live: what follows must not undo that, nor skip the retirement
      try {
        if (origin === 'zookeeper') saveSnapshot(cacheFile(this.settings), this.instance, snapshot);
        this.hooks.onStatus?.(this.status);
      } catch (err) {
        this.logger.error({ err }, 'configuration applied, but its cache or status could not be written');
      }
      await change.retire();
      return true;
    } catch (err) {
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
    if (this.chronos) this.logger.info(this.chronos.status(), 'chronos stopped');
    this.source?.close();
    this.logger.info({ connections: this.server.connectionCount() }, 'draining');
    const unanswered = await this.server.drain(this.settings.drainTimeoutMs);
    if (unanswered > 0) this.logger.warn({ unanswered }, 'drain timed out; requests left unanswered');
    await this.applying;
    await this.clusters.close();
    this.logger.info({ ms: Date.now() - started }, 'pproxy stopped');
  }
}

function routingTable(snapshot: ConfigSnapshot, storages: ReadonlyMap<string, ClusterStorage>, identity: Identity): RoutingTable {
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

function cacheFile(settings: ProxySettings): string {
  return path.join(settings.dataDir, 'zookeeper-config.json');
}

function restartNeeded(before: ProxySettings, after: ProxySettings): boolean {
  const server = (s: ProxySettings) => JSON.stringify([s.host, s.port, s.bindAddress, s.dataDir, s.logDir, s.local?.pproxy.carreraConfiguration.thriftServer.backlog]);
  return server(before) !== server(after);
}
