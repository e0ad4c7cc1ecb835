/**
 * The proxy's lifecycle, readiness and configuration versions, and its ZooKeeper session: what the
 * admin listener and the configuration sources count. Nothing here is on the per-message path.
 */
import { ZK_SESSION_EVENTS, type ZkSessionEvent } from '../config/zookeeper/session-events';
import type { CounterChild, GaugeChild, HistogramChild } from './families';
import type { MetricRegistrar } from './registrar';

/** The proxy's phases, in order: starting until served and warmed, serving, then on a stop draining (still accepting) and stopping. */
export const LIFECYCLE_PHASES = ['starting', 'serving', 'draining', 'stopping'] as const;
export type LifecyclePhase = (typeof LIFECYCLE_PHASES)[number];

/** Where a configuration version came from (the status' configOrigin, but for the absence of one). */
export const CONFIG_ORIGINS = ['file', 'zookeeper', 'cache'] as const;
export type ConfigVersionOrigin = (typeof CONFIG_ORIGINS)[number];
/** applied: serving it; refused: it did not validate or could not be applied, and the running one stays. */
export const CONFIG_OUTCOMES = ['applied', 'refused'] as const;
export type ConfigOutcome = (typeof CONFIG_OUTCOMES)[number];

/** Seconds: a configuration apply or a ZooKeeper write's way to the routing, 1 ms to 60 s. */
export const CONFIG_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Children of the lifecycle and configuration metrics, resolved once; none is on the per-message
 * path. The ZooKeeper ones are made on first use, so a local-mode proxy exports none.
 */
export interface LifecycleMetrics {
  /** 1 while /ready answers 200. */
  readonly ready: GaugeChild;
  /** 1 for the current phase, 0 for the others. */
  readonly phase: Readonly<Record<LifecyclePhase, GaugeChild>>;
  readonly zookeeperConnected: GaugeChild;
  readonly zookeeperEvents: Readonly<Record<ZkSessionEvent, CounterChild>>;
  configVersions(origin: ConfigVersionOrigin, outcome: ConfigOutcome): CounterChild;
  readonly configApplyDuration: HistogramChild;
  /** From a ZooKeeper node's write (its mtime) to the configuration holding it serving. */
  readonly zookeeperWriteToApplied: HistogramChild;
}

export function lifecycleMetrics(metrics: MetricRegistrar): LifecycleMetrics {
  const ready = metrics.gauge('pproxy_ready', '1 while GET /ready answers 200 (configuration applied, clusters warmed, no stop begun), else 0.', []);
  const phase = metrics.gauge('pproxy_lifecycle_phase', '1 for the current phase (starting, serving, draining, stopping), 0 for the others.', ['phase']);
  const connected = metrics.gauge('pproxy_zookeeper_connected', '1 while the ZooKeeper session is connected, else 0 (ZooKeeper mode).', []);
  const events = metrics.counter('pproxy_zookeeper_events_total', 'ZooKeeper session events (connected, disconnected, expired).', ['event']);
  const versions = metrics.counter(
    'pproxy_config_versions_total',
    'Configuration versions by origin and outcome (refused: did not validate or could not be applied; the running one stayed).',
    ['origin', 'outcome'],
  );
  const applyDuration = metrics.histogram('pproxy_config_apply_duration_seconds', 'How long applying a configuration version took.', [], CONFIG_LATENCY_BUCKETS);
  const writeToApplied = metrics.histogram(
    'pproxy_zookeeper_write_to_applied_seconds',
    "From a ZooKeeper node's write (its mtime) to the configuration holding it serving.",
    [],
    CONFIG_LATENCY_BUCKETS,
  );
  const phases = Object.fromEntries(LIFECYCLE_PHASES.map((p) => [p, phase.child({ phase: p })])) as Record<LifecyclePhase, GaugeChild>;
  phases.starting.set(1);
  // resolved on first use, by a ZooKeeper-mode proxy: a local one exports no ZooKeeper series
  let zookeeper: { connected: GaugeChild; events: Record<ZkSessionEvent, CounterChild>; writeToApplied: HistogramChild } | undefined;
  const zk = () =>
    (zookeeper ??= {
      connected: connected.child({}),
      events: Object.fromEntries(ZK_SESSION_EVENTS.map((event) => [event, events.child({ event })])) as Record<ZkSessionEvent, CounterChild>,
      writeToApplied: writeToApplied.child({}),
    });
  return {
    ready: ready.child({}),
    phase: phases,
    get zookeeperConnected() {
      return zk().connected;
    },
    get zookeeperEvents() {
      return zk().events;
    },
    // counted once per configuration version, so the family's own lookup is cheap enough
    configVersions: (origin, outcome) => versions.child({ origin, outcome }),
    configApplyDuration: applyDuration.child({}),
    get zookeeperWriteToApplied() {
      return zk().writeToApplied;
    },
  };
}
