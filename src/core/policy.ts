/**
 * Turns carreraConfiguration and the routing table into what the pipeline enforces: the limiter
 * (rebuilt only when a limit changed, so an unrelated configuration change does not refill its
 * buckets) and the auto-batch settings.
 */
import type { BatchSettings } from '../batch/batch-queue';
import type { CarreraConfiguration } from '../config/schema';
import { TpsLimiter, type TpsLimits } from '../ratelimit/tps-limiter';
import type { PipelinePolicy } from './pipeline';
import type { RoutingTable } from './routing-table';

/** A batch goes out this long before its most urgent member's deadline at the latest. */
const URGENCY_MARGIN_MS = 2;

export interface BuiltPolicy {
  readonly policy: PipelinePolicy;
  /** Identifies the limits, to keep the limiter when they did not change. */
  readonly limitsKey: string;
}

export function buildPolicy(
  conf: CarreraConfiguration,
  routing: RoutingTable,
  previous: BuiltPolicy | undefined,
  clock: () => number,
): BuiltPolicy {
  const limits: TpsLimits = {
    nodeMaxTps: conf.maxTps,
    warningRatio: conf.tpsWarningRatio,
    // a topic's limit on this proxy: the sum of this proxy's shares over its clusters
    topics: new Map([...routing.topics.values()].map((t) => [t.name, t.clusters.reduce((sum, c) => sum + c.maxTps, 0)])),
  };
  const limitsKey = conf.useRequestLimiter ? JSON.stringify([limits.nodeMaxTps, limits.warningRatio, [...limits.topics]]) : '';
  const limiter = !conf.useRequestLimiter
    ? undefined
    : previous?.limitsKey === limitsKey
      ? previous.policy.limiter
      : new TpsLimiter(limits, clock);
  return {
    limitsKey,
    policy: {
      limiter,
      limiterRetryQueueSize: conf.limiterFailureRetryQueueSize,
      autoBatchThresholdBytes: conf.useAutoBatch ? conf.autoBatch.doBatchThresholdBytes : undefined,
    },
  };
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
