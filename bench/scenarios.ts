/**
 * The scenarios: which systems each one measures, with which requests and which load. Scenario 3's
 * rate comes from scenario 1's measurement of (d), hence `peakOfD`, unless --rate gives it.
 */
import type { Load } from './load';
import type { ProxyOptions } from './proxy-config';
import { PROXY_SYSTEMS, type SystemId, type Workload } from './systems';

export interface RunPlan {
  scenario: ScenarioId;
  system: SystemId;
  workload: Workload;
  load: Load;
  proxy: ProxyOptions;
  durationMs: number;
  /** pproxy (c, d, g, j, k) from another checkout's build (--baseline); absent: this one. */
  baseline?: string;
  /** pproxy with its metrics on (--metrics): its admin listener on, on a free port. */
  metrics?: boolean;
  /** pproxy's Thrift port over TLS (--tls), the load generator's connections too. */
  tls?: boolean;
}

export const SCENARIO_IDS = ['1', '2', '3', '4', '5'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export interface Scenario {
  id: ScenarioId;
  title: string;
  systems: SystemId[];
  plan(system: SystemId, context: PlanContext): Promise<RunPlan>;
}

export interface PlanContext {
  durationMs: number;
  /** Scenario 3's calls/s when given (--rate), instead of half of 1/d's peak. */
  openLoopRate: number | undefined;
  /** Scenario 1's msgs/s of (d), measuring it first when this run has not. */
  peakOfD(): Promise<number>;
}

const CALLERS = 256;
const SMALL = { batch: 1, bodyBytes: 200 };
const BATCH = { batch: 50, bodyBytes: 200 };
/** pproxy runs with DDMQ's auto-batching flags on, as the shipped carrera.yaml does. */
const proxyFor = (system: SystemId): ProxyOptions => (PROXY_SYSTEMS.includes(system) ? { autoBatch: true } : {});
/**
 * Overload: 10x the callers, and every 100th body 1 MiB against an in-flight budget of 2 MiB, so
 * that what the callers hold in flight (~27 MiB) is over ten times the proxy's budget.
 */
const OVERLOAD_CALLERS = 10 * CALLERS;
const OVERLOAD_LARGE_EVERY = 100;
const OVERLOAD_BUDGET_BYTES = 2 * 1024 * 1024;
const LIMIT_TPS = 1000;
const LIMITED_LOAD = 5 * LIMIT_TPS;

export const SCENARIOS: Scenario[] = [
  {
    id: '1',
    title: `sendSync 200 B, ${CALLERS} callers`,
    systems: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'],
    plan: async (system, { durationMs }) => ({
      scenario: '1',
      system,
      workload: SMALL,
      load: { kind: 'closed', callers: CALLERS },
      proxy: proxyFor(system),
      durationMs,
    }),
  },
  {
    id: '2',
    title: `sendBatchSync 50 x 200 B, ${CALLERS} callers (compare with 1/f, 1/i)`,
    systems: ['b', 'c', 'd', 'g', 'j', 'k'],
    plan: async (system, { durationMs }) => ({
      scenario: '2',
      system,
      workload: BATCH,
      load: { kind: 'closed', callers: CALLERS },
      proxy: proxyFor(system),
      durationMs,
    }),
  },
  {
    id: '3',
    title: 'sendSync 200 B, open loop at half the peak msgs/s of 1/d (or at --rate)',
    // a and b give the floor of the load generator and of stock Thrift at the same rate
    systems: ['a', 'b', 'c', 'd'],
    plan: async (system, { durationMs, peakOfD, openLoopRate }) => ({
      scenario: '3',
      system,
      workload: SMALL,
      load: { kind: 'open', callsPerSec: openLoopRate ?? Math.max(1, Math.round((await peakOfD()) / 2)) },
      proxy: proxyFor(system),
      durationMs,
    }),
  },
  {
    id: '4',
    title: `overload: sendSync, ${OVERLOAD_CALLERS} callers, every ${OVERLOAD_LARGE_EVERY}th body 1 MiB, proxy maxInFlightBytes 2 MiB`,
    systems: ['c'],
    plan: async (system, { durationMs }) => ({
      scenario: '4',
      system,
      workload: { ...SMALL, largeEvery: OVERLOAD_LARGE_EVERY },
      load: { kind: 'closed', callers: OVERLOAD_CALLERS },
      proxy: { maxInFlightBytes: OVERLOAD_BUDGET_BYTES },
      durationMs,
    }),
  },
  {
    id: '5',
    title: `rate limiter: topic maxTps ${LIMIT_TPS}, open loop ${LIMITED_LOAD}/s`,
    systems: ['c'],
    plan: async (system, { durationMs }) => ({
      scenario: '5',
      system,
      workload: SMALL,
      load: { kind: 'open', callsPerSec: LIMITED_LOAD },
      proxy: { maxTps: LIMIT_TPS },
      durationMs: 2 * durationMs, // 10 s by default: enough seconds to see the limiter's steadiness
    }),
  },
];
