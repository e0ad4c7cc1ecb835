/** One run: start the system of a plan, drive it, read its peak RSS, tear everything down. */
import type { RunBrokers } from './brokers';
import type { Timing } from './load';
import type { Measurement } from './recorder';
import type { RunPlan } from './scenarios';
import { startSystem, type SystemUnderTest } from './systems';
import type { Teardown } from './teardown';

export interface RunResult extends Measurement {
  plan: RunPlan;
  peakRssMiB: number;
  /** Server CPU time per message answered OK in the measured window, in microseconds (NaN: not measured). */
  cpuUsPerMessage: number;
  rssOf: SystemUnderTest['rssOf'];
  notes: string[];
}

/** `teardown` is the caller's, so that an interrupted run is cleaned up too; `brokers` outlive the run. */
export async function measure(plan: RunPlan, timing: Omit<Timing, 'durationMs'>, teardown: Teardown, brokers: RunBrokers): Promise<RunResult> {
  const system = await startSystem(plan.system, plan.workload, plan.proxy, teardown, brokers, plan.baseline, plan.metrics);
  const measurement = await system.drive(plan.load, { ...timing, durationMs: plan.durationMs });
  const cpuUsPerMessage = (system.windowCpuSeconds() * 1e6) / measurement.okMessages;
  return { plan, ...measurement, peakRssMiB: system.peakRss(), cpuUsPerMessage, rssOf: system.rssOf, notes: system.notes() };
}
