/**
 * Turns carreraConfiguration and the routing table into what the pipeline enforces: the limiter
 * (rebuilt only when a limit changed, so an unrelated configuration change does not refill its
 * buckets) and the auto-batch settings.
 */
import type { BatchSettings } from '../batch/batch-queue';
import type { CarreraConfiguration } from '../config/schema';
import { METRICS_OFF, type ProxyMetrics } from '../metrics/proxy-metrics';
import { TpsLimiter, type TpsLimits } from '../ratelimit/tps-limiter';
import type { PipelinePolicy } from './pipeline';
import type { RoutingTable } from './routing-table';

/** A batch goes out this long before its most urgent member's deadline at the latest. */
const URGENCY_MARGIN_MS = 2;

export interface BuiltPolicy {
  readonly policy: PipelinePolicy;
  /** The limits the limiter enforces, to keep it when they did not change. */
  readonly limits: TpsLimits | undefined;
}

/**
 * A new limiter resolves its topics' metrics as it is built: `metrics` must be configured with the
 * routing's topics first. One that is kept has its topics' children still (the same topics).
 */
export function buildPolicy(
  conf: CarreraConfiguration,
  routing: RoutingTable,
  previous: BuiltPolicy | undefined,
  clock: () => number,
  metrics: ProxyMetrics = METRICS_OFF,
): BuiltPolicy {
  const limits = conf.useRequestLimiter ? limitsOf(conf, routing) : undefined;
  const limiter = !limits
    ? undefined
    : previous?.limits && previous.policy.limiter && sameLimits(previous.limits, limits)
      ? previous.policy.limiter
      : new TpsLimiter(limits, clock, metrics);
  return {
    limits,
    policy: {
      limiter,
      limiterRetryQueueSize: conf.limiterFailureRetryQueueSize,
      autoBatchThresholdBytes: conf.useAutoBatch ? conf.autoBatch.doBatchThresholdBytes : undefined,
    },
  };
}

function limitsOf(conf: CarreraConfiguration, routing: RoutingTable): TpsLimits {
  const topics = new Map<string, number>();
  // a topic's limit on this proxy: the sum of this proxy's shares over its clusters
  for (const t of routing.topics.values()) topics.set(t.name, t.clusters.reduce((sum, c) => sum + c.maxTps, 0));
  return { nodeMaxTps: conf.maxTps, warningRatio: conf.tpsWarningRatio, topics };
}

/** Compared entry by entry: a configuration of tens of thousands of topics is compared in a millisecond. */
function sameLimits(a: TpsLimits, b: TpsLimits): boolean {
  if (a.nodeMaxTps !== b.nodeMaxTps || a.warningRatio !== b.warningRatio || a.topics.size !== b.topics.size) return false;
  for (const [topic, rate] of a.topics) if (b.topics.get(topic) !== rate) return false;
  return true;
}

export function batchSettings(conf: CarreraConfiguration): BatchSettings {
  return {
    maxMessages: conf.autoBatch.maxBatchMessagesNumber,
    maxBytes: conf.autoBatch.maxBathBytes,
    lingerMs: conf.autoBatch.batchWaitMills,
    maxInFlight: conf.autoBatch.maxInFlightBatches,
    urgencyMarginMs: URGENCY_MARGIN_MS,
  };
}
