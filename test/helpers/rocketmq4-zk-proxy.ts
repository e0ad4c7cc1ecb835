/**
 * A proxy in ZooKeeper mode bound to RocketMQ 4 clusters the way DDMQ's console binds it: the real
 * ZooKeeper server, `pproxy zk init / put-cluster / put-topic / add-pproxy / bind`, and the console's
 * stock cluster config (test/fixtures/ddmq-console/pproxy-nodes.json, row P_PROXY) with only the
 * name server addresses replaced; no `protocol` key, so the port rule picks remoting.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { ProxyApp } from '../../src/app';
import { ProducerClient } from '../../src/client/producer-client';
import { silentLogger } from '../../src/log';
import { loadNodeConfiguration } from '../../src/node-configuration';
import type { WriteQueue } from '../../src/storage/rocketmq4/queue-choice';
import type { RocketMq4Cluster, StoredMessage, TopicRoute } from '../../bench/peers/rocketmq4-server';
import { tempDir, writeConfig } from './config';
import { freePort } from './ports';
import { REPO_ROOT } from './proxy';
import { ZooKeeperServer } from './zookeeper';
import { zkCli } from './zk-cli';

/** The stock cluster as the console wrote it. */
export const STOCK_CLUSTER = 'R_default';

interface ConsoleRow {
  node: { carreraConfiguration: { rocketmqConfigurationMap: Record<string, Record<string, unknown>> } & Record<string, unknown> };
}

/** The console's stock carreraConfiguration (its P_PROXY row). */
function stockCarreraConfiguration(): ConsoleRow['node']['carreraConfiguration'] {
  const fixture = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/ddmq-console/pproxy-nodes.json'), 'utf8')) as { rows: ConsoleRow[] };
  return fixture.rows[0]!.node.carreraConfiguration;
}

export interface BoundTopic {
  topic: string;
  cluster: string;
  strongOrder?: boolean;
  autoBatch?: boolean;
  delayTopic?: boolean;
}

export interface ZkBoundProxy {
  app: ProxyApp;
  client: ProducerClient;
  /** Another connection to the proxy, closed with the scope. */
  connect(): Promise<ProducerClient>;
}

/**
 * ZooKeeper, the console's binding and a proxy, all ended with `scope`. `clusters`: each RocketMQ
 * cluster's namesrvAddrs; every other key is the stock R_default's. Half the topics are put before
 * the proxy is added and half after, then bound, as the console does either way.
 */
export async function startZkBoundProxy(scope: TestContext, clusters: Record<string, string[]>, topics: BoundTopic[]): Promise<ZkBoundProxy> {
  const zk = await ZooKeeperServer.start(scope);
  const dir = tempDir(scope, 'pproxy-rmq4-zk-');
  const port = await freePort();
  const instance = `127.0.0.1:${port}`;
  const stock = stockCarreraConfiguration();
  const rocketmqConfigurationMap = Object.fromEntries(
    Object.entries(clusters).map(([name, namesrvAddrs]) => [name, { ...stock.rocketmqConfigurationMap[STOCK_CLUSTER], namesrvAddrs }]),
  );
  await zkCli(zk, 'init');
  await zkCli(zk, 'put-cluster', '--cluster', 'ddmq', '--file', writeConfig(dir, { carreraConfiguration: { ...stock, rocketmqConfigurationMap } }, 'cluster.yaml'));
  const putTopic = (t: BoundTopic, i: number) =>
    zkCli(zk, 'put-topic', '--file', writeConfig(dir, { topic: t.topic, strongOrder: t.strongOrder ?? false, autoBatch: t.autoBatch ?? false, delayTopic: t.delayTopic ?? false, topicUnits: [{ brokerCluster: t.cluster, totalMaxTps: 100_000 }] }, `topic-${i}.yaml`));
  const half = Math.ceil(topics.length / 2);
  for (const [i, t] of topics.slice(0, half).entries()) await putTopic(t, i);
  await zkCli(zk, 'add-pproxy', '--cluster', 'ddmq', '--host', instance);
  for (const [i, t] of topics.slice(half).entries()) await putTopic(t, half + i);
  for (const t of topics) await zkCli(zk, 'bind', '--topic', t.topic, '--host', instance);

  // an admin port: the proxy keeps metrics only with one
  const node = { zookeeperAddr: zk.address, zookeeperConnectTimeoutMs: 2000, host: '127.0.0.1', port, bindAddress: '127.0.0.1', adminPort: await freePort(), dataDir: path.join(dir, 'data'), logLevel: 'warn' };
  const file = writeConfig(dir, node);
  const app = await ProxyApp.start(loadNodeConfiguration(file), silentLogger());
  scope.after(() => app.stop());
  const connect = async () => {
    const client = await ProducerClient.connect('127.0.0.1', port);
    scope.after(() => client.close());
    return client;
  };
  return { app, client: await connect(), connect };
}

/** Where a message is (to be) stored, as `broker/queueId`. */
export const at = (m: { brokerName: string; queueId: number }) => `${m.brokerName}/${m.queueId}`;

/** The topic's stored messages by body (read as latin1: any bytes); a body stored twice fails. */
export async function storedByBody(cluster: RocketMq4Cluster, topic: string): Promise<Map<string, StoredMessage>> {
  const byBody = new Map<string, StoredMessage>();
  for (const m of await readAllPatiently(cluster, topic)) {
    const body = m.body.toString('latin1');
    assert.ok(!byBody.has(body), `${topic}: ${JSON.stringify(body.slice(0, 40))} stored twice`);
    byBody.set(body, m);
  }
  return byBody;
}

/**
 * A topic's write queues in the 4.x producer's order, from the name server's route as mqadmin
 * prints it: the order config's brokers as written, else the brokers sorted by name; ids from 0.
 */
export function producerQueueOrder(route: TopicRoute): WriteQueue[] {
  const counts: [string, number][] = route.orderTopicConf
    ? route.orderTopicConf.split(';').map((entry) => [entry.split(':')[0]!, Number(entry.split(':')[1])])
    : [...route.queues].sort((a, b) => (a.brokerName < b.brokerName ? -1 : 1)).map((q) => [q.brokerName, q.writeQueueNums]);
  return counts.flatMap(([brokerName, n]) => Array.from({ length: n }, (_, queueId) => ({ brokerName, queueId })));
}

/** DDMQ's queue index for a hashId: |hashId| mod n on the exact 64-bit value. */
export function hashQueueIndex(hashId: bigint, n: number): number {
  return Number((hashId < 0n ? -hashId : hashId) % BigInt(n));
}

/**
 * Every message of `topic` (RocketMq4Cluster.readAll), read again when mqadmin's own name server
 * lookup timed out: on a loaded machine its 2-3 s request deadline is sometimes missed, and a read
 * changes nothing.
 */
export async function readAllPatiently(cluster: RocketMq4Cluster, topic: string): Promise<StoredMessage[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await cluster.readAll(topic);
    } catch (error) {
      if (attempt === 3 || !/RemotingTimeoutException/.test(String(error))) throw error;
    }
  }
}
