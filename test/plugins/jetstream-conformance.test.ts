/**
 * The conformance kit against the NATS JetStream plugin (plugins/jetstream) and a real nats-server
 * with JetStream, read back with the plugin's own client; the outage is the server killed and
 * started again on the same port and store.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { before } from 'node:test';
import type { StoragePlugin } from '../../src/storage/plugin-api';
import { runStorageConformance } from '../../src/storage/testing/conformance';
import { fileScope } from '../helpers/processes';
import { NatsServer } from '../helpers/nats-server';

const PARTITIONS = 3;
const pluginDir = path.resolve(__dirname, '../../../plugins/jetstream');
const plugin = createRequire(__filename)(pluginDir).storagePlugin as StoragePlugin;

interface StoredMsg {
  subject: string;
  data: Uint8Array;
}
interface Jsm {
  streams: {
    info(name: string): Promise<{ state: { first_seq: number; last_seq: number } }>;
    getMessage(name: string, query: { seq: number }): Promise<StoredMsg>;
  };
}
const nats = createRequire(path.join(pluginDir, 'package.json'))('nats') as {
  connect(options: { servers: string }): Promise<{ jetstreamManager(): Promise<Jsm>; close(): Promise<void> }>;
};

let server: NatsServer;
const scope = fileScope();
before(async () => {
  server = await NatsServer.start(scope);
});

runStorageConformance({
  plugin,
  config: () => ({ servers: [server.url], partitions: PARTITIONS, connectTimeoutMs: 2000, publishTimeoutMs: 2000, reconnectWaitMs: 100, maxReconnectWaitMs: 500 }),
  createTopic: async (partitions) => {
    if (partitions > PARTITIONS) throw new Error(`the cluster has ${PARTITIONS} partitions, ${partitions} asked`);
    return `conformance_${randomBytes(4).toString('hex')}`;
  },
  readBack: async (topic, partition) => {
    const nc = await nats.connect({ servers: server.url });
    try {
      const jsm = await nc.jetstreamManager();
      const { state } = await jsm.streams.info(topic);
      const bodies: Buffer[] = [];
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const stored = await jsm.streams.getMessage(topic, { seq });
        if (stored.subject === `carrera.${topic}.${partition}`) bodies.push(Buffer.from(stored.data));
      }
      return bodies;
    } finally {
      await nc.close();
    }
  },
  outage: { begin: () => server.kill(), end: () => server.run() },
});
