/** Child processes of the test peers (servers started for a test), and a test file's shared peers. */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { after, type TestContext } from 'node:test';

export { killNow } from '../../bench/peers/processes';

/**
 * SIGSTOP, and wait until every thread of the process is stopped: the signal takes effect some time
 * after kill() returns, and a request sent meanwhile would still be answered.
 */
export async function stopNow(proc: ChildProcess, what: string): Promise<void> {
  proc.kill('SIGSTOP');
  const tasks = `/proc/${proc.pid}/task`;
  const stopped = () => fs.readdirSync(tasks).every((task) => / [tT] /.test(fs.readFileSync(`${tasks}/${task}/stat`, 'utf8').replace(/^.*\)/, ')')));
  const deadline = Date.now() + 5000;
  while (!stopped()) {
    if (Date.now() > deadline) throw new Error(`${what} not stopped 5 s after SIGSTOP`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** A file's shared scope: a TestContext stand-in, and the work its cleanup must wait for. */
export type FileScope = TestContext & {
  /**
   * Work started under the scope that no test may await (a peer started ahead for later tests):
   * the cleanup waits for it first, so what it starts is cleaned up even when every test that
   * would have used it was filtered out or has already ended.
   */
  hold(work: Promise<unknown>): void;
};

/**
 * A stand-in for a TestContext whose cleanups run when the whole file's tests are done, in reverse
 * order: for a peer that the tests of a file share (the conformance kit registers its own tests).
 * Call it at the file's top level, where its after() hook belongs.
 */
export function fileScope(): FileScope {
  const cleanups: (() => unknown)[] = [];
  const held: Promise<unknown>[] = [];
  after(async () => {
    await Promise.allSettled(held);
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return {
    after: (cleanup: () => unknown) => void cleanups.push(cleanup),
    hold: (work: Promise<unknown>) => void held.push(work),
  } as unknown as FileScope;
}
