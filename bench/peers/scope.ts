/**
 * What a broker launcher needs of its caller: somewhere to register its cleanup. node:test's
 * TestContext is one (the test helpers), the benchmark's Teardown another.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Scope {
  after(step: () => unknown): void;
}

/** A fresh directory under the system's temp dir, removed when the scope ends. */
export function scratchDir(scope: Scope, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scope.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
