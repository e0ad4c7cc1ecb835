/**
 * Cleanup steps of one run, run in reverse order even when the run fails. It also stands in for
 * node:test's context where the test helpers (MockKafka, startProxyProcess) register their own
 * cleanup with `t.after`.
 */
import type { TestContext } from 'node:test';

export class Teardown {
  private steps: (() => unknown)[] = [];

  after(step: () => unknown): void {
    this.steps.push(step);
  }

  /** For the test helpers, which only call `after`. */
  asTestContext(): TestContext {
    return this as unknown as TestContext;
  }

  /** Runs every step once; a failing step does not keep the others from running. */
  async run(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        process.stderr.write(`bench: cleanup step failed: ${(err as Error).message}\n`);
      }
    }
  }
}
