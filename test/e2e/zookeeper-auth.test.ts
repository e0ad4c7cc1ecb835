/**
 * ZooKeeper with digest credentials, against the real ZooKeeper server: `pproxy zk` writes with
 * them (PPROXY_ZK_AUTH) and makes its nodes changeable by them alone; the proxy reads with its own
 * (zookeeperAuth, from a file) and serves; the credentials reach no log line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import zookeeper from 'node-zookeeper-client';
import pino from 'pino';
import { ProxyApp } from '../../src/app';
import { ProducerClient } from '../../src/client/producer-client';
import { ZkClient } from '../../src/config/zookeeper/zk-client';
import { loadNodeConfiguration } from '../../src/node-configuration';
import { tempDir, writeConfig } from '../helpers/config';
import { freePort } from '../helpers/ports';
import { eventually } from '../helpers/wait';
import { ZooKeeperServer } from '../helpers/zookeeper';
import { runZkCli } from '../helpers/zk-cli';

/** A secret setting read from `file`. */
const fileReference = (file: string) => `\${file:${file}}`;

const WRITER = { user: 'console', password: 'pa55:w0rd-never-logged' };

/** `pproxy zk <args>` with PPROXY_ZK_AUTH set to `auth` (none: unset). */
async function zkCliOk(zk: ZooKeeperServer, auth: string | undefined, ...args: string[]): Promise<void> {
  const r = await runZkCli(zk, args, auth);
  assert.equal(r.status, 0, `pproxy zk ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
}

/** A client of the server's DDMQ root, with these credentials or none. */
async function zkClient(t: TestContext, zk: ZooKeeperServer, auth?: { user: string; password: string }): Promise<ZkClient> {
  const client = new ZkClient(zk.address, { auth });
  client.connect();
  t.after(() => client.close());
  await client.waitConnected(10_000);
  return client;
}

const errorCode = (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (err: unknown) => (err instanceof zookeeper.Exception ? err.getCode() : String(err)),
  );

test('nodes written with credentials are readable by anyone and changeable by their writer alone; the proxy reads and serves with its own', { timeout: 90_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  const auth = `${WRITER.user}:${WRITER.password}`;
  const port = await freePort();
  const instance = `127.0.0.1:${port}`;
  const dir = tempDir(t);
  await zkCliOk(zk, auth, 'init');
  fs.writeFileSync(path.join(dir, 'cluster.yaml'), 'localConfigurationMap: {L1: {partitions: 2}}\n');
  await zkCliOk(zk, auth, 'put-cluster', '--cluster', 'local', '--file', path.join(dir, 'cluster.yaml'));
  fs.writeFileSync(path.join(dir, 'topic.yaml'), 'topic: events\ntopicUnits: [{brokerCluster: L1}]\n');
  await zkCliOk(zk, auth, 'put-topic', '--file', path.join(dir, 'topic.yaml'));
  await zkCliOk(zk, auth, 'add-pproxy', '--cluster', 'local', '--host', instance);

  const node = `/pproxy/${instance}`;
  const anonymous = await zkClient(t, zk);
  const stranger = await zkClient(t, zk, { user: WRITER.user, password: 'guessed' });
  const writer = await zkClient(t, zk, WRITER);
  const original = (await anonymous.getData(node))!.toString();
  assert.ok(JSON.parse(original).topics.includes('events'), 'anyone reads the node');
  for (const [who, client] of [['no credentials', anonymous], ['wrong password', stranger]] as const) {
    assert.equal(await errorCode(client.put(node, '{}')), zookeeper.Exception.NO_AUTH, `${who}: cannot change the node`);
    assert.equal(await errorCode(client.put('/topic/planted', '{}')), zookeeper.Exception.NO_AUTH, `${who}: cannot add a topic`);
    assert.equal(await errorCode(client.remove('/topic/events')), zookeeper.Exception.NO_AUTH, `${who}: cannot delete a topic`);
  }
  assert.equal((await anonymous.getData(node))!.toString(), original, 'the node is as the writer left it');
  const refused = await runZkCli(zk, ['bind', '--topic', 'events', '--host', '10.0.0.9']);
  assert.equal(refused.status, 1, 'pproxy zk without credentials fails');
  assert.match(refused.stderr, /NO_AUTH/, 'and says why');
  assert.equal(await errorCode(writer.put('/topic/planted', '{}')), 'no error', 'the writer may');
  await writer.remove('/topic/planted');

  // the proxy reads with credentials from a file, and logs nothing of them
  const authFile = path.join(dir, 'zk-auth');
  fs.writeFileSync(authFile, `${auth}\n`, { mode: 0o600 });
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
  const config = writeConfig(tempDir(t), {
    zookeeperAddr: zk.address,
    zookeeperAuth: fileReference(authFile),
    host: '127.0.0.1',
    port,
    bindAddress: '127.0.0.1',
    dataDir: tempDir(t),
  });
  const app = await ProxyApp.start(loadNodeConfiguration(config), logger);
  t.after(() => app.stop());
  const client = await ProducerClient.connect('127.0.0.1', port);
  t.after(() => client.close());
  await eventually(async () => ((await client.sendSync({ topic: 'events', body: 'hello' }, 3000)).code === 0 ? true : undefined), 10_000, 'events served');
  assert.ok(lines.length > 0, 'the proxy logged');
  assert.deepEqual(lines.filter((line) => line.includes(WRITER.password)), [], 'no log line holds the password');
});

test('zookeeperAuth from a file that cannot be read, or holds no user:password, refuses the configuration naming the file, not its content', (t) => {
  const dir = tempDir(t);
  const base = { zookeeperAddr: '127.0.0.1:1', port: 0, dataDir: dir };
  const absent = path.join(dir, 'absent');
  const missing = writeConfig(dir, { ...base, zookeeperAuth: fileReference(absent) }, 'missing.yaml');
  assert.throws(() => loadNodeConfiguration(missing), (err: Error) => err.message.includes('zookeeperAuth') && err.message.includes(`cannot read ${absent}`));
  fs.writeFileSync(path.join(dir, 'bad-auth'), 'only-a-secret-value\n');
  const bad = writeConfig(dir, { ...base, zookeeperAuth: fileReference(path.join(dir, 'bad-auth')) }, 'bad.yaml');
  assert.throws(
    () => loadNodeConfiguration(bad),
    (err: Error) => err.message.includes('must be user:password') && !err.message.includes('only-a-secret-value'),
  );
});
