/** A broker's process: waiting for it to be up, and ending it. */
import type { ChildProcess } from 'node:child_process';

/** SIGKILL, and wait for the exit: an outage, not a clean stop. Nothing when it has already ended. */
export async function killNow(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
}

/**
 * Resolves once `proc`'s output (stdout and stderr) matches `ready`; rejects, with the output so
 * far, when it exits first, cannot be spawned, or has not matched within `timeoutMs`.
 */
export function readyLine(proc: ChildProcess, what: string, ready: RegExp, timeoutMs: number): Promise<void> {
  let output = '';
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} not started within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}):\n${output}`));
    });
    proc.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${what} could not start (${error.message}); Java 17 and scripts/fetch-test-peers.sh are needed`));
    });
  });
}
