/**
 * control.sh status with the admin listener on: it describes the configuration from GET /status
 * (an IPv6 listener included), and from the status file when the listener it names refuses, hangs,
 * fails or cannot be addressed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { freePort } from '../helpers/ports';
import { REPO_ROOT } from '../helpers/proxy';
import { run } from '../helpers/run';

/** What status says of the default local configuration (topics "test" and "other"). */
const DESCRIBED = /^pproxy: running \(pid \d+\), answering on \S+; 2 topic\(s\) from config file/m;

/** Listens on a free port of 127.0.0.1 until the test ends, then drops the connections it holds. */
async function listening(t: TestContext, server: net.Server): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    sockets.forEach((socket) => socket.destroy());
    return closed;
  });
  return (server.address() as net.AddressInfo).port;
}

test('control.sh status reads an IPv6 admin listener, and falls back to the status file when the listener is unusable', { timeout: 90_000 }, async (t) => {
  // registered before the temp dir's removal (after-hooks run in order): stop needs its pid file
  let control: (...args: string[]) => ReturnType<typeof run> = async () => ({ status: 0, stdout: '', stderr: '' });
  t.after(() => control('stop'));
  const dir = tempDir(t);
  const [port, adminPort] = [await freePort(), await freePort()];
  const config = writeConfig(dir, localConfig({ port, extra: { adminPort, adminBindAddress: '::1' } }));
  const runDir = path.join(dir, 'run');
  const env = { ...process.env, PPROXY_RUN_DIR: runDir, PPROXY_LOG_DIR: path.join(dir, 'logs') };
  control = (...args: string[]) => run(path.join(REPO_ROOT, 'control.sh'), args, { env, timeoutMs: 60_000 });

  const started = await control('start', config);
  assert.equal(started.status, 0, started.stdout);
  assert.match(started.stdout, new RegExp(`, admin on http://\\[::1\\]:${adminPort}$`, 'm'));
  const adminFile = path.join(runDir, 'pproxy.admin');
  assert.equal(fs.readFileSync(adminFile, 'utf8').trim(), `[::1]:${adminPort}`);

  // without the status file, only GET /status can say where the configuration comes from
  const statusFile = path.join(runDir, 'pproxy.status');
  const written = fs.readFileSync(statusFile);
  fs.rmSync(statusFile);
  const fromAdmin = await control('status');
  assert.equal(fromAdmin.status, 0, fromAdmin.stdout);
  assert.match(fromAdmin.stdout, DESCRIBED);
  fs.writeFileSync(statusFile, written);

  const hanging = net.createServer(() => undefined); // accepts, never answers
  const failing = http.createServer((_req, res) => res.writeHead(500).end('{"error":"broken"}'));
  const unusable: Record<string, string> = {
    refusing: `127.0.0.1:${await freePort()}`,
    hanging: `127.0.0.1:${await listening(t, hanging)}`,
    'answering 500': `127.0.0.1:${await listening(t, failing)}`,
    'an IPv6 address without brackets': `::1:${adminPort}`,
  };
  for (const [what, address] of Object.entries(unusable)) {
    fs.writeFileSync(adminFile, `${address}\n`);
    const status = await control('status');
    assert.equal(status.status, 0, `${what}: ${status.stdout}`);
    assert.match(status.stdout, DESCRIBED, `${what}: the status file's description`);
  }
  assert.equal((await control('stop')).status, 0);
});
