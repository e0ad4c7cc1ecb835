/** Peak resident memory of a process, in MiB. */
import fs from 'node:fs';

/**
 * The kernel's high-water mark (VmHWM) of a live process: it catches spikes that sampling would
 * miss. Every measured process is started fresh for its run, so the mark is that run's.
 */
export function peakRssOf(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(m[1]) / 1024;
}
