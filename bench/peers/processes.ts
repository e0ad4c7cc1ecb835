/** Ending a broker's process. */
import type { ChildProcess } from 'node:child_process';

/** SIGKILL, and wait for the exit: an outage, not a clean stop. Nothing when it has already ended. */
export async function killNow(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
}
