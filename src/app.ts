/**
 * Wires a loaded configuration into a running proxy: storages -> routing table -> pipeline ->
 * Thrift server, and takes it down in the reverse order with a drain.
 */
import type { AddressInfo } from 'node:net';
import type { ProxySettings } from './config/load';
import { ProducerPipeline } from './core/pipeline';
import { buildRoutingTable, type RoutingTable } from './core/routing-table';
import type { Logger } from './log';
import { FrameServer } from './server/frame-server';
import { createProducerFrameHandler } from './server/producer-service';
import { createStorages } from './storage/registry';
import type { ClusterStorage } from './storage/storage';

export class ProxyApp {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly server: FrameServer,
    private readonly storages: ReadonlyMap<string, ClusterStorage>,
    private readonly logger: Logger,
    private readonly drainTimeoutMs: number,
    readonly instance: string,
  ) {}

  static async start(settings: ProxySettings, logger: Logger): Promise<ProxyApp> {
    const local = settings.local;
    if (!local) {
      throw new Error(`zookeeperAddr is set (${settings.zookeeperAddr}), but this build supports local mode only`);
    }
    const conf = local.pproxy.carreraConfiguration;
    const storages = createStorages(conf, settings.dataDir, logger);
    await startStorages(storages);
    const routingFor = (port: number): RoutingTable =>
      buildRoutingTable(local.pproxy, local.topics, storages, {
        instance: `${settings.host}:${port}`,
        requireBinding: false,
      });
    const pipeline = new ProducerPipeline(routingFor(settings.port), {
      logger,
      clock: Date.now,
      random: Math.random,
    });
    const thrift = conf.thriftServer;
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
    const address = await server.listen();
    const instance = `${settings.host}:${address.port}`;
    // port 0 (tests) is known only now; units may name this instance in their proxies
    const routing = routingFor(address.port);
    if (address.port !== settings.port) pipeline.setRouting(routing);
    logger.info(
      {
        instance,
        bind: `${address.address}:${address.port}`,
        mode: 'local',
        topics: [...routing.topics.keys()],
        clusters: [...storages.keys()],
      },
      'pproxy started',
    );
    return new ProxyApp(server, storages, logger, settings.drainTimeoutMs, instance);
  }

  address(): AddressInfo {
    return this.server.address();
  }

  /** Stops accepting, answers every request already received, then flushes and closes storage. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    const started = Date.now();
    this.logger.info({ connections: this.server.connectionCount() }, 'draining');
    const unanswered = await this.server.drain(this.drainTimeoutMs);
    if (unanswered > 0) this.logger.warn({ unanswered }, 'drain timed out; requests left unanswered');
    const results = await Promise.allSettled([...this.storages.values()].map((s) => s.close()));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.logger.error({ err: r.reason, cluster: [...this.storages.keys()][i] }, 'closing storage failed');
    });
    this.logger.info({ ms: Date.now() - started }, 'pproxy stopped');
  }
}

/** Starts every storage; if one fails, closes those started and rethrows. */
async function startStorages(storages: ReadonlyMap<string, ClusterStorage>): Promise<void> {
  const results = await Promise.allSettled([...storages.values()].map((s) => s.start()));
  const failed = results.findIndex((r) => r.status === 'rejected');
  if (failed < 0) return;
  await Promise.allSettled([...storages.values()].map((s) => s.close()));
  const cluster = [...storages.keys()][failed];
  throw new Error(`storage ${cluster} cannot start: ${String((results[failed] as PromiseRejectedResult).reason?.message ?? results[failed])}`);
}
