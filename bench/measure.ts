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
  const [result] = await measureTogether([plan], timing, teardown, brokers);
  return result!;
}

/**
 * Several runs at once (--side-by-side): every system started, then all driven in the same window,
 * each with its plan's whole load, so that whatever else the machine does falls on each alike.
 */
export async function measureTogether(plans: readonly RunPlan[], timing: Omit<Timing, 'durationMs'>, teardown: Teardown, brokers: RunBrokers): Promise<RunResult[]> {
  const systems: SystemUnderTest[] = [];
  for (const plan of plans) systems.push(await startSystem(plan.system, plan.workload, plan.proxy, teardown, brokers, plan.baseline, plan.metrics, plan.tls));
  const measurements = await Promise.all(systems.map((system, i) => system.drive(plans[i]!.load, { ...timing, durationMs: plans[i]!.durationMs })));
  return systems.map((system, i) => {
    const measurement = measurements[i]!;
    const cpuUsPerMessage = (system.windowCpuSeconds() * 1e6) / measurement.okMessages;
    return { plan: plans[i]!, ...measurement, peakRssMiB: system.peakRss(), cpuUsPerMessage, rssOf: system.rssOf, notes: system.notes() };
  });
}
