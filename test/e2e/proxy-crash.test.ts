/**
 * Durability of what the proxy acknowledges: kill -9 under load, a torn tail, a restart; and the
 * drain on SIGTERM.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ProducerClient } from '../../src/client/producer-client';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { spawn } from 'node:child_process';
import { PROXY_SERVER, proxyEnv, startProxyProcess, type ChildProxy } from '../helpers/proxy';
import { eventually } from '../helpers/wait';
import { storedMessages } from '../helpers/storage';

const CONNECTIONS = 8;

/**
 * Sends unique messages on CONNECTIONS connections (8 calls in flight on each), signals the proxy
 * after `afterMs`, and returns the bodies answered OK once the proxy has exited.
 */
async function loadThenSignal(proxy: ChildProxy, signal: NodeJS.Signals, afterMs: number) {
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => ProducerClient.connect('127.0.0.1', proxy.port, { callTimeoutMs: 5000 })),
  );
  const acknowledged = new Set<string>();
  let stopped = false;
  let seq = 0;
  const load = Promise.all(
    clients.flatMap((client, c) =>
      Array.from({ length: 8 }, async () => {
        while (!stopped) {
          const body = `c${c}-${seq++}`;
          try {
            const r = await client.sendSync({ topic: 'test', body, key: body, hashId: BigInt(seq) }, 5000);
            if (r.code === 0) acknowledged.add(body);
          } catch {
            return; // connection gone
          }
        }
      }),
    ),
  );
  await new Promise((r) => setTimeout(r, afterMs));
  proxy.proc.kill(signal);
  const exitCode = await proxy.exited;
  stopped = true;
  await load;
  for (const c of clients) c.close();
  return { acknowledged, exitCode };
}

test('kill -9 under load: every acknowledged message survives, a torn tail is cut, the proxy restarts', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, localConfig({ topics: [{ topic: 'test' }] }));
  const first = await startProxyProcess(t, config);
  const { acknowledged } = await loadThenSignal(first, 'SIGKILL', 700);
  assert.ok(acknowledged.size > 500, `load reached the proxy (${acknowledged.size} acknowledged)`);

  // A torn record at the tail, as a crash in the middle of a write leaves it.
  const dataDir = path.join(dir, 'data');
  const partitionDir = path.join(dataDir, 'local/L_local/test/0');
  const segment = fs.readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort().pop()!;
  const sizeBefore = fs.statSync(path.join(partitionDir, segment)).size;
  fs.appendFileSync(path.join(partitionDir, segment), Buffer.from([0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef, 1, 0, 0]));

  const second = await startProxyProcess(t, config);
  assert.equal(fs.statSync(path.join(partitionDir, segment)).size, sizeBefore, 'the torn tail was truncated');
  const stored = await storedMessages(dataDir, 'test');
  const byBody = new Map(stored.map((m) => [m.body.toString(), m]));
  const missing = [...acknowledged].filter((b) => !byBody.has(b));
  assert.deepEqual(missing, [], 'no acknowledged message is missing');
  for (const body of acknowledged) assert.equal(byBody.get(body)!.key, body, 'stored intact');

  const client = await ProducerClient.connect('127.0.0.1', second.port);
  t.after(() => client.close());
  assert.equal((await client.sendSync({ topic: 'test', body: 'after-restart', partitionId: 0 })).code, 0);
  const partition0 = (await storedMessages(dataDir, 'test')).filter((m) => m.partition === 0);
  const last = partition0[partition0.length - 1]!;
  assert.equal(last.body.toString(), 'after-restart');
  assert.equal(last.offset, BigInt(partition0.length - 1), 'offsets continue without a gap');
});

test('SIGTERM drains: requests already received are answered and stored, then the process exits 0', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  // fsync makes every write slow enough that requests are still in flight when SIGTERM arrives
  const config = writeConfig(
    dir,
    localConfig({
      topics: [{ topic: 'test' }],
      clusters: { L_local: { partitions: 4, flushPolicy: 'fsync' } },
      extra: { logLevel: 'info' },
    }),
  );
  const proxy = await startProxyProcess(t, config);
  const { acknowledged, exitCode } = await loadThenSignal(proxy, 'SIGTERM', 500);

  assert.equal(exitCode, 0);
  assert.match(proxy.output(), /"msg":"lifecycle: stopping"/);
  assert.match(proxy.output(), /"msg":"pproxy stopped"/);
  assert.doesNotMatch(proxy.output(), /drain timed out/);
  assert.ok(acknowledged.size > 0);
  const stored = new Set((await storedMessages(path.join(dir, 'data'), 'test')).map((m) => m.body.toString()));
  assert.deepEqual([...acknowledged].filter((b) => !stored.has(b)), [], 'every acknowledged message is stored');
});

test('a second proxy on the same data directory refuses to start and says why', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const config = writeConfig(dir, localConfig({ topics: [{ topic: 'test' }] }));
  const first = await startProxyProcess(t, config);
  await assert.rejects(startProxyProcess(t, config), (err: Error) => {
    assert.match(err.message, /exited with 2/);
    assert.match(err.message, new RegExp(`cluster L_local \\(local\\) cannot start: .* is in use by process ${first.proc.pid}`));
    return true;
  });
});

test('a log that cannot be written (full disk) stops logging, not serving; the proxy still stops on SIGTERM', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(path.join(dir, 'logs'));
  fs.symlinkSync('/dev/full', path.join(dir, 'logs', 'pproxy.log'));
  const config = writeConfig(dir, localConfig({ topics: [{ topic: 'test' }], extra: { logDir: path.join(dir, 'logs'), logLevel: 'info' } }));
  const proc = spawn(PROXY_SERVER, [config], { stdio: ['ignore', 'pipe', 'pipe'], env: proxyEnv() });
  t.after(() => proc.kill('SIGKILL'));
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const port = await eventually(() => {
    const m = / listening on [^ ]+:(\d+) /.exec(output);
    return m ? Number(m[1]) : undefined;
  }, 10_000, 'the proxy to listen');
  const client = await ProducerClient.connect('127.0.0.1', port);
  assert.equal((await client.sendSync({ topic: 'test', body: 'still served' })).code, 0);
  client.close();
  assert.match(output, /logging stopped, the log cannot be written: ENOSPC/);
  proc.kill('SIGTERM');
  assert.equal(await exited, 0);
});
