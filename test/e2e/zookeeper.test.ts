/**
 * ZooKeeper mode against the real ZooKeeper server: binding with `pproxy zk` (the console's part),
 * live changes, refused updates, an unbound start, outages and the on-disk cache.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import YAML from 'yaml';
import { ProxyApp, type ProxyStatus } from '../../src/app';
import { ProducerClient, type MessageSpec } from '../../src/client/producer-client';
import { loadNodeConfiguration } from '../../src/node-configuration';
import { ZkClient } from '../../src/config/zookeeper/zk-client';
import { silentLogger } from '../../src/log';
import { tempDir, writeConfig } from '../helpers/config';
import { MockKafka, consumeAll } from '../helpers/kafka';
import { freePort } from '../helpers/ports';
import { CLI_JS, REPO_ROOT } from '../helpers/proxy';
import { run } from '../helpers/run';
import { ZooKeeperServer } from '../helpers/zookeeper';
import { zkCli } from '../helpers/zk-cli';
import { eventually } from '../helpers/wait';

async function writeYaml(t: TestContext, content: unknown): Promise<string> {
  return writeConfig(tempDir(t), content, 'input.yaml');
}

interface ZkProxy {
  app: ProxyApp;
  client: ProducerClient;
  statuses: ProxyStatus[];
}

/** A proxy in ZooKeeper mode on `port`, with its data in `dataDir`. */
async function startZkProxy(t: TestContext, zk: ZooKeeperServer, port: number, dataDir: string, extra: Record<string, unknown> = {}): Promise<ZkProxy> {
  const dir = tempDir(t);
  const file = writeConfig(dir, {
    ...extra,
    zookeeperAddr: zk.address,
    zookeeperConnectTimeoutMs: 2000,
    host: '127.0.0.1',
    port,
    bindAddress: '127.0.0.1',
    dataDir,
    logLevel: 'warn',
  });
  const statuses: ProxyStatus[] = [];
  const app = await ProxyApp.start(loadNodeConfiguration(file), silentLogger(), { onStatus: (s) => statuses.push(s) });
  t.after(() => app.stop());
  const client = await ProducerClient.connect('127.0.0.1', port);
  t.after(() => client.close());
  return { app, client, statuses };
}

const codeOf = async (client: ProducerClient, spec: MessageSpec) => (await client.sendSync(spec, 3000)).code;

/** Polls until a send to `topic` answers `code`; returns how long that took. */
async function untilCode(client: ProducerClient, topic: string, code: number, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  await eventually(async () => ((await codeOf(client, { topic, body: 'probe' })) === code ? true : undefined), timeoutMs, `code ${code} on ${topic}`);
  return Date.now() - started;
}

test('bind with the console command, send to Kafka, unbind (13 within 1 s), move the topic to another cluster live', { timeout: 120_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  const [k1, k2] = await Promise.all([MockKafka.start(t), MockKafka.start(t)]);
  await k1.createTopic('orders', 4);
  await k2.createTopic('orders', 4);
  const port = await freePort();
  const instance = `127.0.0.1:${port}`;

  await zkCli(zk, 'init');
  const cluster = await writeYaml(t, {
    carreraConfiguration: {
      useKafka: true,
      kafkaConfigurationMap: { K1: { bootstrapServers: k1.bootstraps, retries: 2 }, K2: { bootstrapServers: k2.bootstraps, retries: 2 } },
      rateLimit: { console: 'field' }, // console output carries fields the proxy does not use
    },
  });
  await zkCli(zk, 'put-cluster', '--cluster', 'ddmq', '--file', cluster);
  const topicOnK1 = await writeYaml(t, { topic: 'orders', alarmGroup: ['ops'], topicUnits: [{ brokerCluster: 'K1', totalMaxTps: 1000 }] });
  await zkCli(zk, 'put-topic', '--file', topicOnK1);
  await zkCli(zk, 'add-pproxy', '--cluster', 'ddmq', '--host', instance);

  // what the console would have written
  const shown = YAML.parse(await zkCli(zk, 'show'));
  assert.deepEqual(shown.pproxies[instance].topics, ['orders']);
  assert.equal(shown.pproxies[instance].proxyCluster, 'P_ddmq');
  assert.deepEqual(shown.pproxies[instance].brokerClusters, ['K1', 'K2']);
  assert.deepEqual(shown.topics[0].topicUnits[0].proxies, { P_ddmq: [instance] });
  assert.equal(shown.topics[0].topicUnits[0].maxTps, 1000);
  await zkCli(zk, 'add-pproxy', '--cluster', 'ddmq', '--host', '10.0.0.2'); // a second proxy halves the share
  const shared = YAML.parse(await zkCli(zk, 'show'));
  assert.deepEqual(shared.topics[0].topicUnits[0].proxies, { P_ddmq: [instance, '10.0.0.2:9613'] });
  assert.equal(shared.topics[0].topicUnits[0].maxTps, 500);

  const { client } = await startZkProxy(t, zk, port, tempDir(t));
  assert.equal(await codeOf(client, { topic: 'orders', body: 'first' }), 0);
  assert.deepEqual((await consumeAll(k1.bootstraps, 'orders')).map((r) => r.value.toString()), ['first']);

  await zkCli(zk, 'unbind', '--topic', 'orders', '--host', instance);
  const unbindMs = await untilCode(client, 'orders', 13);
  assert.ok(unbindMs < 1000, `13 within 1 s (took ${unbindMs} ms)`);
  await zkCli(zk, 'bind', '--topic', 'orders', '--host', instance);
  await untilCode(client, 'orders', 0);

  // Move the topic to K2 while 4 connections keep sending: nothing fails, no connection drops.
  const senders = await Promise.all(Array.from({ length: 4 }, () => ProducerClient.connect('127.0.0.1', port)));
  t.after(() => senders.forEach((s) => s.close()));
  const codes: number[] = [];
  const acknowledged: string[] = [];
  let sending = true;
  let seq = 0;
  const load = Promise.all(
    senders.map(async (s) => {
      while (sending) {
        const body = `swap-${seq++}`;
        const r = await s.sendSync({ topic: 'orders', body }, 5000);
        codes.push(r.code);
        if (r.code === 0) acknowledged.push(body);
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 200));
  const topicOnK2 = await writeYaml(t, { topic: 'orders', topicUnits: [{ brokerCluster: 'K2', totalMaxTps: 1000 }] });
  await zkCli(zk, 'put-topic', '--file', topicOnK2);
  await eventually(async () => ((await consumeAll(k2.bootstraps, 'orders')).some((r) => r.value.toString().startsWith('swap-')) ? true : undefined), 10_000, 'messages on K2');
  await new Promise((r) => setTimeout(r, 200));
  sending = false;
  await load;
  assert.ok(codes.length > 20, `load ran (${codes.length} sends)`);
  assert.deepEqual([...new Set(codes)], [0], 'no request failed during the swap');
  for (const s of senders) assert.equal(await codeOf(s, { topic: 'orders', body: 'same-connection' }), 0, 'connections kept');
  const stored = new Set([...(await consumeAll(k1.bootstraps, 'orders')), ...(await consumeAll(k2.bootstraps, 'orders'))].map((r) => r.value.toString()));
  assert.deepEqual(acknowledged.filter((b) => !stored.has(b)), [], 'every OK message is in K1 or K2');
});

/** A ZooKeeper with one cluster of local storage and topic `events`. */
async function localCluster(t: TestContext, zk: ZooKeeperServer): Promise<void> {
  await zkCli(zk, 'init');
  await zkCli(zk, 'put-cluster', '--cluster', 'local', '--file', await writeYaml(t, { localConfigurationMap: { L1: { partitions: 2 } } }));
  await zkCli(zk, 'put-topic', '--file', await writeYaml(t, { topic: 'events', topicUnits: [{ brokerCluster: 'L1' }] }));
}

test('a proxy started before it is bound serves the heartbeat, answers 13, then serves once bound', { timeout: 60_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  await localCluster(t, zk);
  const port = await freePort();
  const { app, client, statuses } = await startZkProxy(t, zk, port, tempDir(t));
  assert.equal(await codeOf(client, { topic: 'carrera_heartbeat' }), 0);
  assert.equal(await codeOf(client, { topic: 'events', body: 'too-early' }), 13);
  assert.equal(app.currentStatus().waitingFor, `/carrera/v4/config/pproxy/127.0.0.1:${port}`);

  await zkCli(zk, 'add-pproxy', '--cluster', 'local', '--host', `127.0.0.1:${port}`);
  await untilCode(client, 'events', 0);
  assert.equal(app.currentStatus().waitingFor, undefined);
  assert.deepEqual(app.currentStatus().topics, ['events']);
  assert.equal(statuses.at(-1)!.configOrigin, 'zookeeper');
});

test('/ready is 503 naming the node while unbound, 200 once bound; ZooKeeper and configuration metrics count it', { timeout: 60_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  await localCluster(t, zk);
  const port = await freePort();
  const adminPort = await freePort();
  const base = `http://127.0.0.1:${adminPort}`;
  await startZkProxy(t, zk, port, tempDir(t), { adminPort, drainDelayMs: 0 });
  const readiness = async () => {
    const r = await fetch(`${base}/ready`);
    return { status: r.status, body: (await r.json()) as { ready: boolean; reason?: string } };
  };
  const unbound = await eventually(async () => {
    const r = await readiness();
    return r.body.reason?.startsWith('not bound') ? r : undefined;
  }, 10_000, 'the not-bound reason');
  assert.deepEqual(unbound, { status: 503, body: { ready: false, reason: `not bound: waiting for ZooKeeper node /carrera/v4/config/pproxy/127.0.0.1:${port}` } });
  const metric = async (series: string) => {
    const line = (await (await fetch(`${base}/metrics`)).text()).split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  assert.equal(await metric('pproxy_zookeeper_connected'), 1);
  assert.equal(await metric('pproxy_ready'), 0);

  await zkCli(zk, 'add-pproxy', '--cluster', 'local', '--host', `127.0.0.1:${port}`);
  const bound = await eventually(async () => {
    const r = await readiness();
    return r.status === 200 ? r : undefined;
  }, 10_000, '/ready 200 after binding');
  assert.deepEqual(bound.body, { ready: true });
  assert.equal(await metric('pproxy_ready'), 1);
  assert.ok((await metric('pproxy_config_versions_total{origin="zookeeper",outcome="applied"}'))! >= 2, 'the unbound start and the binding');
  const writeToApplied = await metric('pproxy_zookeeper_write_to_applied_seconds_count');
  assert.ok(writeToApplied! >= 1, 'the binding write is timed to its apply');
  assert.ok((await metric('pproxy_zookeeper_write_to_applied_seconds_sum'))! < 10 * writeToApplied!, 'seconds, not milliseconds');
  assert.equal(await metric('pproxy_zookeeper_events_total{event="connected"}'), 1);

  const raw = new ZkClient(zk.address);
  raw.connect();
  t.after(() => raw.close());
  await raw.waitConnected(5000);
  await raw.put('/topic/events', '{"topic": "events", "topicUnits": [');
  await eventually(async () => ((await metric('pproxy_config_versions_total{origin="zookeeper",outcome="refused"}')) === 1 ? true : undefined), 5000, 'the refused node counted');
  assert.equal((await readiness()).status, 200, 'a refused node leaves the proxy ready on its last good configuration');
});

test('invalid or schema-violating updates are refused whole; the last good config keeps serving', { timeout: 60_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  await localCluster(t, zk);
  const port = await freePort();
  const instance = `127.0.0.1:${port}`;
  await zkCli(zk, 'add-pproxy', '--cluster', 'local', '--host', instance);
  const { client } = await startZkProxy(t, zk, port, tempDir(t));
  assert.equal(await codeOf(client, { topic: 'events', body: 'before' }), 0);

  const raw = new ZkClient(zk.address);
  raw.connect();
  t.after(() => raw.close());
  await raw.waitConnected(5000);
  const goodPProxy = (await raw.getData(`/pproxy/${instance}`))!.toString();
  const bad: [string, string][] = [
    [`/topic/events`, '{"topic": "events", "topicUnits": ['],
    [`/topic/events`, JSON.stringify({ topic: 'events', topicUnits: [] })],
    [`/topic/events`, JSON.stringify({ topic: 'events', topicUnits: [{ brokerCluster: 'L1', maxTps: 'lots' }] })],
    [`/pproxy/${instance}`, 'not json'],
    [`/pproxy/${instance}`, JSON.stringify({ ...JSON.parse(goodPProxy), carreraConfiguration: { ...JSON.parse(goodPProxy).carreraConfiguration, retryDelays: [] } })],
    [`/pproxy/${instance}`, JSON.stringify({ ...JSON.parse(goodPProxy), proxyCluster: '' })],
    // a cluster type no storage plugin of this node provides (accepted, its empty topic list would answer 13)
    [`/pproxy/${instance}`, JSON.stringify({ ...JSON.parse(goodPProxy), topics: [], carreraConfiguration: { ...JSON.parse(goodPProxy).carreraConfiguration, memcacheConfigurationMap: { M1: { servers: ['m:11211'] } } } })],
  ];
  for (const [path, data] of bad) {
    await raw.put(path, data);
    await new Promise((r) => setTimeout(r, 150)); // the watch fires within milliseconds
    assert.equal(await codeOf(client, { topic: 'events', body: `after ${data.slice(0, 20)}` }), 0, `still serving after ${path} = ${data}`);
  }
  // a valid change after the refused ones is applied
  await raw.put(`/pproxy/${instance}`, JSON.stringify({ ...JSON.parse(goodPProxy), topics: [] }));
  await untilCode(client, 'events', 13);
});

test('ZooKeeper down: keeps serving, applies changes after it returns; a restart while it is down serves the cache', { timeout: 90_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  await localCluster(t, zk);
  const port = await freePort();
  const instance = `127.0.0.1:${port}`;
  await zkCli(zk, 'add-pproxy', '--cluster', 'local', '--host', instance);
  const dataDir = tempDir(t);
  const first = await startZkProxy(t, zk, port, dataDir);
  assert.equal(await codeOf(first.client, { topic: 'events', body: 'a' }), 0);

  await zk.kill();
  assert.equal(await codeOf(first.client, { topic: 'events', body: 'during-outage' }), 0, 'serves while ZooKeeper is down');
  await zk.run();
  await zkCli(zk, 'unbind', '--topic', 'events', '--host', instance);
  await untilCode(first.client, 'events', 13, 20_000);
  await zkCli(zk, 'bind', '--topic', 'events', '--host', instance);
  await untilCode(first.client, 'events', 0, 10_000);

  // restart the proxy while ZooKeeper is down: it serves its on-disk copy
  first.client.close();
  await first.app.stop();
  await zk.kill();
  const second = await startZkProxy(t, zk, port, dataDir);
  assert.equal(second.app.currentStatus().configOrigin, 'cache');
  assert.equal(await codeOf(second.client, { topic: 'events', body: 'from-cache' }), 0);
  // and takes ZooKeeper's word again once it is back
  await zk.run();
  await zkCli(zk, 'unbind', '--topic', 'events', '--host', instance);
  await untilCode(second.client, 'events', 13, 30_000);
});

test('control.sh status and the log name the node an unbound proxy waits for', { timeout: 60_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  const port = await freePort();
  const dir = tempDir(t);
  const config = writeConfig(dir, { zookeeperAddr: `${zk.address}/carrera/v4/config`, host: '127.0.0.1', port, bindAddress: '127.0.0.1' });
  const env = { ...process.env, PPROXY_RUN_DIR: `${dir}/run`, PPROXY_LOG_DIR: `${dir}/logs` };
  const control = (...args: string[]) => run(path.join(REPO_ROOT, 'control.sh'), args, { env, timeoutMs: 60_000 });
  t.after(() => control('stop'));
  assert.equal((await control('start', config)).status, 0);
  const status = await control('status');
  assert.equal(status.status, 0, status.stdout);
  assert.match(status.stdout, new RegExp(`answering on 127\\.0\\.0\\.1:${port}; not bound: waiting for ZooKeeper node /carrera/v4/config/pproxy/127\\.0\\.0\\.1:${port}`));
  const log = fs.readFileSync(path.join(dir, 'logs/pproxy.log'), 'utf8');
  assert.match(log, new RegExp(`"node":"/carrera/v4/config/pproxy/127\\.0\\.0\\.1:${port}","msg":"not bound: waiting for this proxy's node in ZooKeeper"`));
  assert.equal((await control('stop')).status, 0);
});

test('a cluster node pproxy zk cannot read (an older release wrote it) is refused with the fix, not a stack', { timeout: 60_000 }, async (t) => {
  const zk = await ZooKeeperServer.start(t);
  await zkCli(zk, 'init');
  const raw = new ZkClient(zk.address);
  raw.connect();
  t.after(() => raw.close());
  await raw.waitConnected(5000);
  // no retryDelays, and a key the strict schema does not know
  await raw.put('/pproxy_cluster/old', JSON.stringify({ carreraConfiguration: { localConfigurationMap: { L1: {} }, legacyKey: 1 }, proxies: [] }));
  const r = await run(process.execPath, [CLI_JS, 'zk', '-z', zk.address, 'add-pproxy', '--cluster', 'old', '--host', '127.0.0.1:9613']);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /\/pproxy_cluster\/old does not validate \(write it again with put-cluster\): .*legacyKey/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
