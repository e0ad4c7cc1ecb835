/**
 * How long a ZooKeeper change takes to apply: from writing a topic node to the proxy serving the
 * new routing (watch notification + read + validation + cluster/routing swap), over 100 changes.
 * Needs the Debian zookeeper package (the test command installs it). Run: npm run bench:zk
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProxyApp, type ProxyStatus } from '../src/app';
import { loadSettings } from '../src/config/load';
import { ZkClient, ensureChroot } from '../src/config/zookeeper/zk-client';
import { ConsoleBinding, fastjson } from '../src/console/binding';
import { silentLogger } from '../src/log';
import { freePort } from '../test/helpers/ports';
import { ZooKeeperServer } from '../test/helpers/zookeeper';

const CHANGES = 100;

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
    const binding = new ConsoleBinding(client);
    await binding.init();
    await binding.putCluster('bench', { localConfigurationMap: { L1: {} } });
    const topic = await binding.putTopic({ topic: 'events', topicUnits: [{ brokerCluster: 'L1' }] });
    await binding.addPProxy('bench', instance);

    const configFile = path.join(dir, 'carrera.yaml');
    fs.writeFileSync(configFile, `zookeeperAddr: ${zk.address}\nhost: 127.0.0.1\nport: ${port}\nbindAddress: 127.0.0.1\ndataDir: ${dir}/data\nlogLevel: error\n`);
    let waiter: ((s: ProxyStatus) => void) | undefined;
    app = await ProxyApp.start(loadSettings(configFile), silentLogger(), { onStatus: (s) => waiter?.(s) });

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
    const at = (q: number) => samples[Math.min(samples.length - 1, Math.ceil(q * samples.length) - 1)]!.toFixed(2);
    process.stdout.write(
      `ZooKeeper change -> applied, ${CHANGES} changes (ms): p50 ${at(0.5)}  p90 ${at(0.9)}  p99 ${at(0.99)}  max ${at(1)}  min ${samples[0]!.toFixed(2)}\n`,
    );
  } finally {
    await app?.stop();
    client.close();
    await zk.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
