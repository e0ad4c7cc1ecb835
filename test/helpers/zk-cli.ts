/** `pproxy zk` run as its own process against a test's ZooKeeper, as an operator runs it. */
import assert from 'node:assert/strict';
import { CLI_JS } from './proxy';
import { run, type RunResult } from './run';
import type { ZooKeeperServer } from './zookeeper';

/** `pproxy zk <args>`, with PPROXY_ZK_AUTH set to `auth` (absent from its environment when undefined). */
export function runZkCli(zk: ZooKeeperServer, args: readonly string[], auth?: string): Promise<RunResult> {
  const env = { ...process.env };
  delete env['PPROXY_ZK_AUTH'];
  if (auth !== undefined) env['PPROXY_ZK_AUTH'] = auth;
  return run(process.execPath, [CLI_JS, 'zk', '-z', zk.address, ...args], { env });
}

/** `pproxy zk <args>`, which must succeed; its output. */
export async function zkCli(zk: ZooKeeperServer, ...args: string[]): Promise<string> {
  const r = await runZkCli(zk, args);
  assert.equal(r.status, 0, `pproxy zk ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}
