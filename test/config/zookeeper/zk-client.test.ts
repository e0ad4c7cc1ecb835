/**
 * The ZooKeeper client wrapper against the real ZooKeeper server, behind a forwarder that makes the
 * one fault the server cannot be asked for: a connection accepted and never answered.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { ZkClient } from '../../../src/config/zookeeper/zk-client';
import { REPO_ROOT } from '../../helpers/proxy';
import { TcpForwarder } from '../../helpers/tcp-forwarder';
import { eventually } from '../../helpers/wait';
import { ZooKeeperServer } from '../../helpers/zookeeper';

test('a server that accepts the connection and never answers the connect request is given up on, and the next attempt connects', { timeout: 60_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  const forwarder = await TcpForwarder.start(t, zk.port, (index) => (index === 0 ? 'swallow' : 'forward'));
  const client = new ZkClient(`127.0.0.1:${forwarder.port}`, { raw: true, handshakeTimeoutMs: 300 });
  client.connect();
  t.after(() => client.close());
  const started = Date.now();
  await client.waitConnected(10_000);
  assert.ok(forwarder.accepted >= 2, `connected on a later connection (${forwarder.accepted} accepted)`);
  assert.ok(Date.now() - started >= 300, 'waited for the handshake bound before trying again');
  await client.put('/handshake', 'ok');
  assert.equal((await client.getData('/handshake'))?.toString(), 'ok', 'the session works');
});

test('the handshake bound does not touch a connected session: it stays on its first connection', { timeout: 60_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  const forwarder = await TcpForwarder.start(t, zk.port);
  const client = new ZkClient(`127.0.0.1:${forwarder.port}`, { raw: true, handshakeTimeoutMs: 200 });
  client.connect();
  t.after(() => client.close());
  await client.waitConnected(10_000);
  const connectedOn = forwarder.accepted;
  await new Promise((r) => setTimeout(r, 600));
  await client.put('/steady', 'ok');
  assert.equal((await client.getData('/steady'))?.toString(), 'ok');
  assert.equal(forwarder.accepted, connectedOn, 'no new connection: the bound only applies before the server answers');
});

test('node-zookeeper-client of another version than 1.1.3 stops the process with the reason', async () => {
  const zkClientJs = path.resolve(__dirname, '../../../src/config/zookeeper/zk-client.js');
  const script = `require('node-zookeeper-client/package.json').version = '1.2.0'; require(${JSON.stringify(zkClientJs)})`;
  await assert.rejects(promisify(execFile)(process.execPath, ['-e', script], { cwd: REPO_ROOT }), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /pproxy bounds the connect handshake of node-zookeeper-client 1\.1\.3 and cannot run on 1\.2\.0 \(.*node_modules\/node-zookeeper-client\/package\.json\): install node-zookeeper-client@1\.1\.3 exactly/);
    return true;
  });
  const loaded = await promisify(execFile)(process.execPath, ['-e', `require(${JSON.stringify(zkClientJs)}); console.log('loaded')`], { cwd: REPO_ROOT });
  assert.equal(loaded.stdout.trim(), 'loaded', 'the installed release loads');
});

test('a client closed while the server has not answered its connect request ends its connection at the handshake bound', { timeout: 30_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  const forwarder = await TcpForwarder.start(t, zk.port, () => 'swallow');
  const client = new ZkClient(`127.0.0.1:${forwarder.port}`, { raw: true, handshakeTimeoutMs: 300 });
  client.connect();
  await new Promise((r) => setTimeout(r, 100)); // connected, the connect request unanswered
  assert.equal(forwarder.accepted, 1);
  client.close();
  await eventually(async () => (forwarder.openSockets === 0 ? true : undefined), 5000, 'the client to end its connection');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(forwarder.accepted, 1, 'and not to open another');
});
