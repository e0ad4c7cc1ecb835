/**
 * The proxy process as bin/pproxy-server starts it (as control.sh, the tests and the bench do): node
 * on dist/src/main.js with the proxy's V8 flags on its command line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { REPO_ROOT, startProxyProcess } from '../helpers/proxy';

test('the running proxy is node with --no-allocation-site-pretenuring before dist/src/main.js', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxyProcess(t, writeConfig(tempDir(t), localConfig()));
  const argv = fs.readFileSync(`/proc/${proxy.proc.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  assert.deepEqual(argv.slice(0, 3), [process.execPath, '--no-allocation-site-pretenuring', path.join(REPO_ROOT, 'dist/src/main.js')]);
});
