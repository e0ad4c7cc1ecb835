/**
 * The conformance kit against the Redis Streams plugin (plugins/redis) and a real redis-server,
 * read back with the plugin's own client; the outage is the server killed and started again on the
 * same port and data.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { before } from 'node:test';
import type { StoragePlugin } from '../../src/storage/plugin-api';
import { runStorageConformance } from '../../src/storage/testing/conformance';
import { fileScope } from '../helpers/processes';
import { RedisServer } from '../helpers/redis';

const PARTITIONS = 3;
const pluginDir = path.resolve(__dirname, '../../../plugins/redis');
const plugin = createRequire(__filename)(pluginDir).storagePlugin as StoragePlugin;
const IORedis = createRequire(path.join(pluginDir, 'package.json'))('ioredis') as new (options: object) => {
  xrangeBuffer(key: string, start: string, end: string): Promise<[Buffer, Buffer[]][]>;
  disconnect(): void;
};

let server: RedisServer;
const scope = fileScope();
before(async () => {
  server = await RedisServer.start(scope);
});

runStorageConformance({
  plugin,
  config: () => ({ port: server.port, partitions: PARTITIONS, connectTimeoutMs: 2000, commandTimeoutMs: 2000 }),
  createTopic: async (partitions) => {
    if (partitions > PARTITIONS) throw new Error(`the cluster has ${PARTITIONS} partitions, ${partitions} asked`);
    return `conformance_${randomBytes(4).toString('hex')}`;
  },
  readBack: async (topic, partition) => {
    const client = new IORedis({ host: '127.0.0.1', port: server.port });
    try {
      const entries = await client.xrangeBuffer(`${topic}:${partition}`, '-', '+');
      return entries.map(([, fields]) => fields[fields.findIndex((f, i) => i % 2 === 0 && f.toString() === 'body') + 1]!);
    } finally {
      client.disconnect();
    }
  },
  outage: { begin: () => server.kill(), end: () => server.run() },
});
