/** One run: start the system of a plan, drive it, read its peak RSS, tear everything down. */
import type { Timing } from './load';
import type { Measurement } from './recorder';
import type { RunPlan } from './scenarios';
import { startSystem, type SystemUnderTest } from './systems';
import type { Teardown } from './teardown';

export interface RunResult extends Measurement {
  plan: RunPlan;
  peakRssMiB: number;
  rssOf: SystemUnderTest['rssOf'];
  notes: string[];
}

/** `teardown` is the caller's, so that an interrupted run is cleaned up too. */
export async function measure(plan: RunPlan, timing: Omit<Timing, 'durationMs'>, teardown: Teardown): Promise<RunResult> {
  const system = await startSystem(plan.system, plan.workload, plan.proxy, teardown, plan.baseline);
  const measurement = await system.drive(plan.load, { ...timing, durationMs: plan.durationMs });
  return { plan, ...measurement, peakRssMiB: system.peakRss(), rssOf: system.rssOf, notes: system.notes() };
}
