/**
 * How long a ZooKeeper change takes to apply: from writing a topic node to the proxy serving the
 * new routing (watch notification + read + validation + cluster/routing swap), over 100 changes.
 * Then a large one: the proxy's node rewritten to list TOPICS more topics (`--topics N`, default
 * 30,000), whose nodes exist: how long until they are served, the latency of a client sending to
 * another topic meanwhile, and the proxy's peak RSS.
 * Needs the Debian zookeeper package (the test command installs it). Run: npm run bench:zk
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProxyApp, type ProxyStatus } from '../src/app';
import { ProducerClient } from '../src/client/producer-client';
import { loadNodeConfiguration, loadStorageRegistry } from '../src/node-configuration';
import { ZkClient, ensureChroot } from '../src/config/zookeeper/zk-client';
import { ConsoleBinding, fastjson } from '../src/console/binding';
import { silentLogger } from '../src/log';
import { freePort } from '../test/helpers/ports';
import { createNodes } from '../test/helpers/zk-nodes';
import { ZooKeeperServer } from '../test/helpers/zookeeper';

const CHANGES = 100;
const topicsArg = process.argv.indexOf('--topics');
const TOPICS = topicsArg > 0 ? Number(process.argv[topicsArg + 1]) : 30_000;

/** The value at quantile `q` of sorted `samples`, in ms. */
const quantile = (samples: readonly number[], q: number) => samples[Math.min(samples.length - 1, Math.ceil(q * samples.length) - 1)]!.toFixed(2);

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-bench-zk-'));
  const zk = await ZooKeeperServer.launch(path.join(dir, 'zk'));
  let app: ProxyApp | undefined;
  const client = new ZkClient(zk.address);
  try {
    await ensureChroot(zk.address, 10_000);
    client.connect();
    await client.waitConnected(10_000);
    const port = await freePort();
    const instance = `127.0.0.1:${port}`;
    const binding = new ConsoleBinding(client, loadStorageRegistry().types);
    await binding.init();
    await binding.putCluster('bench', { localConfigurationMap: { L1: {} } });
    const topic = await binding.putTopic({ topic: 'events', topicUnits: [{ brokerCluster: 'L1' }] });
    await binding.addPProxy('bench', instance);

    const configFile = path.join(dir, 'carrera.yaml');
    fs.writeFileSync(configFile, `zookeeperAddr: ${zk.address}\nhost: 127.0.0.1\nport: ${port}\nbindAddress: 127.0.0.1\ndataDir: ${dir}/data\nlogLevel: error\n`);
    let waiter: ((s: ProxyStatus) => void) | undefined;
    app = await ProxyApp.start(loadNodeConfiguration(configFile), silentLogger(), { onStatus: (s) => waiter?.(s) });

    const samples: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const bound = i % 2 === 1; // alternately unbind and bind the topic
      topic.topicUnits[0]!.proxies = { P_bench: bound ? [instance] : [] };
      const applied = new Promise<void>((resolve) => {
        waiter = (s) => {
          if (s.topics.includes('events') === bound) resolve();
        };
      });
      const started = process.hrtime.bigint();
      await client.put('/topic/events', fastjson(topic));
      await applied;
      samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    samples.sort((a, b) => a - b);
    const at = (q: number) => quantile(samples, q);
    process.stdout.write(
      `ZooKeeper change -> applied, ${CHANGES} changes (ms): p50 ${at(0.5)}  p90 ${at(0.9)}  p99 ${at(0.99)}  max ${at(1)}  min ${samples[0]!.toFixed(2)}\n`,
    );

    // the large listing: topic nodes written first, then the proxy's node naming them all
    const names = Array.from({ length: TOPICS }, (_, i) => `bulk-${i}`);
    const unit = { brokerCluster: 'L1', proxies: { P_bench: [instance] }, maxTps: 100, totalMaxTps: 100 };
    await createNodes(client, names.map((name) => [`/topic/${name}`, fastjson({ topic: name, topicUnits: [unit] })]));
    const producer = await ProducerClient.connect('127.0.0.1', port);
    const pproxyPath = `/pproxy/${instance}`;
    const node = JSON.parse((await client.getData(pproxyPath))!.toString()) as { topics: string[] };
    const served = new Promise<void>((resolve) => {
      waiter = (s) => {
        if (s.topics.length > TOPICS) resolve();
      };
    });
    const latencies: number[] = [];
    let peakRss = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const sent = process.hrtime.bigint();
        const { code } = await producer.sendSync({ topic: 'events', body: 'probe' }, 10_000);
        if (code !== 0) throw new Error(`a send to events answered ${code}`);
        latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      }
    })();
    const rewritten = process.hrtime.bigint();
    await client.put(pproxyPath, JSON.stringify({ ...node, topics: [...node.topics, ...names] }));
    await served;
    const servedMs = Number(process.hrtime.bigint() - rewritten) / 1e6;
    probing = false;
    await probe;
    producer.close();
    latencies.sort((a, b) => a - b);
    process.stdout.write(
      `pproxy node listing ${TOPICS} topics -> served in ${(servedMs / 1000).toFixed(2)} s; meanwhile ${latencies.length} sendSync to another topic (ms): ` +
        `p50 ${quantile(latencies, 0.5)}  p99 ${quantile(latencies, 0.99)}  max ${quantile(latencies, 1)}; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB\n`,
    );
  } finally {
    await app?.stop();
    client.close();
    await zk.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
