/**
 * A storage plugin from outside the repository: the Redis Streams example copied to a temporary
 * directory (built, with its own dependencies), named by path in a carrera.yaml elsewhere, loaded by
 * the built proxy process, and sent to over Thrift; the message is read back from the real server.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { ProducerClient } from '../../src/client/producer-client';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { REPO_ROOT, startProxyProcess } from '../helpers/proxy';
import { RedisServer } from '../helpers/redis';

test('the Redis plugin copied out of the repository is loaded by path and stores what the built proxy is sent', { timeout: 60_000 }, async (t) => {
  const redis = await RedisServer.start(t);
  const source = path.join(REPO_ROOT, 'plugins/redis');
  const copy = path.join(tempDir(t, 'pproxy-ext-plugins-'), 'redis-streams');
  for (const part of ['package.json', 'dist', 'node_modules']) fs.cpSync(path.join(source, part), path.join(copy, part), { recursive: true });

  const dir = tempDir(t);
  const config = localConfig({
    pluginClusters: { redisConfigurationMap: { R1: { port: redis.port, partitions: 2, keyPrefix: 'pp:' } } },
    topics: [{ topic: 'orders', clusters: ['R1'] }],
    extra: { storagePlugins: [path.relative(dir, copy)], logLevel: 'info' },
  });
  const proxy = await startProxyProcess(t, writeConfig(dir, config));
  const client = await ProducerClient.connect('127.0.0.1', proxy.port);
  t.after(() => client.close());
  const body = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  const result = await client.sendSync({ topic: 'orders', body, key: 'order-1', tags: 'paid', partitionId: 1, properties: { region: 'eu' } }, 5000);
  assert.equal(result.code, 0, JSON.stringify(result));

  const IORedis = createRequire(path.join(copy, 'package.json'))('ioredis') as new (options: object) => {
    xrangeBuffer(key: string, start: string, end: string): Promise<[Buffer, Buffer[]][]>;
    disconnect(): void;
  };
  const reader = new IORedis({ host: '127.0.0.1', port: redis.port });
  t.after(() => reader.disconnect());
  const entries = await reader.xrangeBuffer('pp:orders:1', '-', '+');
  assert.equal(entries.length, 1);
  const fields = new Map<string, Buffer>();
  const flat = entries[0]![1];
  for (let i = 0; i < flat.length; i += 2) fields.set(flat[i]!.toString(), flat[i + 1]!);
  assert.deepEqual(fields.get('body'), body);
  assert.equal(fields.get('key')?.toString(), 'order-1');
  assert.equal(fields.get('tags')?.toString(), 'paid');
  assert.equal(fields.get('p:region')?.toString(), 'eu');
  assert.match(proxy.output(), new RegExp(`"kind":"redis","version":"1\\.0\\.0","source":"${copy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/dist/index\\.js"`));
});
