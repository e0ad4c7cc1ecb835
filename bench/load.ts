/**
 * Load policies, independent of what carries the calls: a closed loop (N callers, each issuing its
 * next call when the previous one is answered) and an open loop (calls scheduled at a fixed rate
 * whatever the answers, latency measured from the scheduled time so a stall is not hidden).
 * Both run a warm-up, then the measured window, then the same load for COOLDOWN_MS more (not
 * measured), then wait (bounded) for every call to be answered.
 */
import type { Outcome } from './frames';
import { LOST, Recorder, type Measurement } from './recorder';

/** Something that carries calls to the system under test. */
export interface Target {
  /** Messages that call number `index` carries. */
  messagesOf(index: number): number;
  /** Issues call number `index`; `done` runs once, later (never synchronously), with its outcome. */
  call(index: number, done: (outcome: Outcome) => void): void;
}

export type Load = { kind: 'closed'; callers: number } | { kind: 'open'; callsPerSec: number };

export interface Timing {
  warmupMs: number;
  durationMs: number;
  /** How long to wait after the window for the calls still outstanding. */
  graceMs: number;
  /** Called as the measured window begins and as it ends. */
  window?: { begin(): void; end(): void };
}

export function drive(target: Target, load: Load, timing: Timing): Promise<Measurement> {
  return load.kind === 'closed' ? closedLoop(target, load.callers, timing) : openLoop(target, load.callsPerSec, timing);
}

/** Calls `window` at the recorder's window's bounds. */
function watchWindow(recorder: Recorder, window: Timing['window']): void {
  if (!window) return;
  setTimeout(() => window.begin(), recorder.windowStart - performance.now());
  setTimeout(() => window.end(), recorder.windowEnd - performance.now());
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Load after the window, so that the window's last calls meet the competition the others met: a
 * rate limiter's deferred retries from the window's last 100 ms, say, would otherwise find the
 * limiter idle, and the last calls' latency would be measured on a server already unloading.
 */
const COOLDOWN_MS = 500;

async function closedLoop(target: Target, callers: number, timing: Timing): Promise<Measurement> {
  const start = performance.now();
  const recorder = new Recorder(start + timing.warmupMs, timing.durationMs);
  watchWindow(recorder, timing.window);
  const loadEnd = recorder.windowEnd + COOLDOWN_MS;
  let next = 0;
  const issue = () => {
    const issuedAt = performance.now();
    if (issuedAt >= loadEnd) return; // this caller is done
    const index = next++;
    recorder.issued();
    target.call(index, (outcome) => {
      recorder.answered(issuedAt, outcome, target.messagesOf(index));
      if (outcome !== LOST) issue(); // a caller whose connection is gone stops
    });
  };
  for (let i = 0; i < callers; i++) issue();
  await sleep(loadEnd - performance.now());
  await recorder.drained(timing.graceMs);
  return recorder.result();
}

/** Timer period of the open loop: calls due since the last tick go out together. */
const TICK_MS = 1;

async function openLoop(target: Target, callsPerSec: number, timing: Timing): Promise<Measurement> {
  const start = performance.now();
  const recorder = new Recorder(start + timing.warmupMs, timing.durationMs);
  watchWindow(recorder, timing.window);
  const interval = 1000 / callsPerSec;
  const loadEnd = recorder.windowEnd + COOLDOWN_MS;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = Math.min(performance.now(), loadEnd);
      for (; start + sent * interval < now; sent++) {
        const index = sent;
        const scheduledAt = start + index * interval;
        recorder.issued();
        target.call(index, (outcome) => recorder.answered(scheduledAt, outcome, target.messagesOf(index)));
      }
      if (now >= loadEnd) resolve();
      else setTimeout(tick, TICK_MS);
    };
    tick();
  });
  await recorder.drained(timing.graceMs);
  return recorder.result();
}
