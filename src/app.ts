/**
 * Wires a loaded configuration into a running proxy: storages -> routing table -> pipeline ->
 * Thrift server; applies a changed configuration live; takes it all down with a drain.
 */
import type { AddressInfo } from 'node:net';
import { loadSettings, type ProxySettings } from './config/load';
import { ProducerPipeline } from './core/pipeline';
import { buildRoutingTable, type RoutingTable } from './core/routing-table';
import type { Logger } from './log';
import { FrameServer } from './server/frame-server';
import { createProducerFrameHandler } from './server/producer-service';
import { ClusterSet } from './storage/cluster-set';
import { clusterSpecs } from './storage/registry';
import type { ClusterStorage } from './storage/storage';

type LocalConfig = NonNullable<ProxySettings['local']>;

export class ProxyApp {
  private stopping: Promise<void> | undefined;
  private reloading: Promise<boolean> = Promise.resolve(true);

  private constructor(
    private settings: ProxySettings,
    private readonly clusters: ClusterSet,
    private readonly pipeline: ProducerPipeline,
    private readonly server: FrameServer,
    private readonly logger: Logger,
    readonly instance: string,
  ) {}

  static async start(settings: ProxySettings, logger: Logger): Promise<ProxyApp> {
    const local = localConfig(settings);
    const clusters = new ClusterSet(logger);
    const { storages } = await clusters.apply(clusterSpecs(local.pproxy.carreraConfiguration, settings.dataDir, logger));
    const pipeline = new ProducerPipeline(routingTable(local, storages, `${settings.host}:${settings.port}`), {
      logger,
      clock: Date.now,
      random: Math.random,
    });
    const thrift = local.pproxy.carreraConfiguration.thriftServer;
    const server = new FrameServer(
      {
        bindAddress: settings.bindAddress,
        port: settings.port,
        backlog: thrift.backlog,
        maxFrameBytes: thrift.maxReadBufferBytes,
        maxInFlightPerConnection: thrift.maxInFlightPerConnection,
        idleTimeoutMs: thrift.clientTimeout,
      },
      createProducerFrameHandler(pipeline, logger),
      logger,
    );
    let address: AddressInfo;
    try {
      address = await server.listen();
    } catch (error) {
      await clusters.close();
      throw error;
    }
    const instance = `${settings.host}:${address.port}`;
    // port 0 (tests) is known only now; units may name this instance in their proxies
    const routing = routingTable(local, storages, instance);
    if (address.port !== settings.port) pipeline.setRouting(routing);
    logger.info(
      { instance, bind: `${address.address}:${address.port}`, mode: 'local', topics: [...routing.topics.keys()], clusters: [...storages.keys()] },
      'pproxy started',
    );
    return new ProxyApp(settings, clusters, pipeline, server, logger, instance);
  }

  address(): AddressInfo {
    return this.server.address();
  }

  /**
   * Re-reads the configuration file and applies it without dropping connections: topics and
   * clusters are added, changed and removed. An invalid file is refused whole and the running
   * configuration stays. Server settings (port, bind address, thriftServer) need a restart.
   * Resolves with whether the new configuration was applied.
   */
  reload(): Promise<boolean> {
    this.reloading = this.reloading.then(() => this.applyReload());
    return this.reloading;
  }

  /** Stops accepting, answers every request already received, then flushes and closes storage. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async applyReload(): Promise<boolean> {
    if (this.stopping) return false;
    let next: ProxySettings;
    let local: LocalConfig;
    try {
      next = loadSettings(this.settings.configPath);
      local = localConfig(next);
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, 'configuration reload refused; the running configuration stays');
      return false;
    }
    if (restartNeeded(this.settings, next)) {
      this.logger.warn('server settings (port, bind address, thriftServer, dataDir) changed: they apply after a restart');
    }
    try {
      const change = await this.clusters.apply(clusterSpecs(local.pproxy.carreraConfiguration, next.dataDir, this.logger));
      const routing = routingTable(local, change.storages, this.instance);
      this.pipeline.setRouting(routing);
      this.settings = next;
      await change.retire();
      this.logger.info({ topics: [...routing.topics.keys()], clusters: [...change.storages.keys()] }, 'configuration reloaded');
      return true;
    } catch (err) {
      this.logger.error({ err }, 'configuration reload failed; the running configuration stays');
      return false;
    }
  }

  private async shutdown(): Promise<void> {
    const started = Date.now();
    this.logger.info({ connections: this.server.connectionCount() }, 'draining');
    const unanswered = await this.server.drain(this.settings.drainTimeoutMs);
    if (unanswered > 0) this.logger.warn({ unanswered }, 'drain timed out; requests left unanswered');
    await this.clusters.close();
    this.logger.info({ ms: Date.now() - started }, 'pproxy stopped');
  }
}

function localConfig(settings: ProxySettings): LocalConfig {
  if (!settings.local) {
    throw new Error(`zookeeperAddr is set (${settings.zookeeperAddr}), but this build supports local mode only`);
  }
  return settings.local;
}

function routingTable(local: LocalConfig, storages: ReadonlyMap<string, ClusterStorage>, instance: string): RoutingTable {
  return buildRoutingTable(local.pproxy, local.topics, storages, { instance, requireBinding: false });
}

function restartNeeded(before: ProxySettings, after: ProxySettings): boolean {
  const server = (s: ProxySettings) =>
    JSON.stringify([s.host, s.port, s.bindAddress, s.dataDir, s.logDir, s.local?.pproxy.carreraConfiguration.thriftServer]);
  return server(before) !== server(after);
}
