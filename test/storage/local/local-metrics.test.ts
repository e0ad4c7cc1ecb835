/**
 * The local storage's metrics, made as the host makes the storage (its plugin, a context counting
 * into ProxyMetrics): bytes and segments per partition equal to the files on disk, one fsync
 * observed per synced batch, and a torn tail cut at start counted; and a proxy's own, wired as it runs.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test, { type TestContext } from 'node:test';
import { ProxyApp } from '../../../src/app';
import { ProducerClient } from '../../../src/client/producer-client';
import { silentLogger } from '../../../src/log';
import { loadNodeConfiguration } from '../../../src/node-configuration';
import { ProxyMetrics } from '../../../src/metrics/proxy-metrics';
import { localStoragePlugin, type LocalClusterConfig } from '../../../src/storage/builtin/local';
import { createStorageContext } from '../../../src/storage/storage-context';
import type { ClusterStorage } from '../../../src/storage/storage';
import { parseClusterConfig } from '../../../src/storage/testing/storage-under-test';
import { localConfig, writeConfig } from '../../helpers/config';
import { freePort } from '../../helpers/ports';
import { message, tempDir } from './helpers';
import { sample } from '../../helpers/metrics-exposition';

const CLUSTER = 'L1';

/** A started local storage of cluster L1 in `dataDir`, counting into `metrics`, closed after the test. */
async function startLocal(t: TestContext, metrics: ProxyMetrics, dataDir: string, settings: Record<string, unknown>): Promise<ClusterStorage> {
  const config = parseClusterConfig(localStoragePlugin, { partitions: 2, ...settings }, 'strict') as LocalClusterConfig;
  const context = createStorageContext({ kind: 'local', cluster: CLUSTER, dataDir, logger: silentLogger(), producers: 1, metrics: metrics.storages.forCluster('local', CLUSTER, silentLogger()) });
  const storage = localStoragePlugin.create(config, context);
  t.after(() => storage.close());
  await storage.start();
  return storage;
}

/** Bytes and count of the segment files of one partition directory. */
function onDisk(directory: string): { bytes: number; segments: number } {
  const files = fs.readdirSync(directory).filter((f) => f.endsWith('.log'));
  return { bytes: files.reduce((sum, f) => sum + fs.statSync(path.join(directory, f)).size, 0), segments: files.length };
}

test('partition bytes and segments follow the files; each synced batch observes one fsync', async (t) => {
  const dataDir = tempDir(t);
  const metrics = new ProxyMetrics(true);
  metrics.configure(['orders'], [CLUSTER]);
  const storage = await startLocal(t, metrics, dataDir, { flushPolicy: 'fsync', segmentBytes: 4096 });
  const sends = 12;
  for (let i = 0; i < sends; i++) {
    const outcomes = await storage.send([message({ partitionId: 0, body: Buffer.alloc(1000, 0x61) })]);
    assert.ok(outcomes[0]!.ok);
  }
  await storage.send([message({ partitionId: 1 })]);
  const text = await metrics.render();
  const p0 = onDisk(path.join(dataDir, 'local', CLUSTER, 'orders', '0'));
  assert.ok(p0.segments >= 3, `12 records of 1000 bytes roll 4 KiB segments: ${p0.segments}`);
  assert.equal(sample(text, 'pproxy_storage_local_partition_bytes', { cluster: CLUSTER, topic: 'orders', partition: 0 }), p0.bytes);
  assert.equal(sample(text, 'pproxy_storage_local_partition_segments', { cluster: CLUSTER, topic: 'orders', partition: 0 }), p0.segments);
  const p1 = onDisk(path.join(dataDir, 'local', CLUSTER, 'orders', '1'));
  assert.equal(sample(text, 'pproxy_storage_local_partition_bytes', { cluster: CLUSTER, topic: 'orders', partition: 1 }), p1.bytes);
  // one sync per batch (the segment left at a roll is synced before it, with the records it has)
  assert.equal(sample(text, 'pproxy_storage_local_fsync_duration_seconds_count', { cluster: CLUSTER }), sends + 1);
  assert.ok(sample(text, 'pproxy_storage_local_fsync_duration_seconds_sum', { cluster: CLUSTER })! > 0);
  assert.equal(sample(text, 'pproxy_storage_local_truncations_total', { cluster: CLUSTER }), 0);
});

test('retention takes the deleted segments out of the partition bytes', async (t) => {
  const dataDir = tempDir(t);
  const metrics = new ProxyMetrics(true);
  metrics.configure(['orders'], [CLUSTER]);
  const storage = await startLocal(t, metrics, dataDir, { segmentBytes: 4096, retentionBytes: 8192 });
  for (let i = 0; i < 40; i++) await storage.send([message({ partitionId: 0, body: Buffer.alloc(1000, 0x61) })]);
  const disk = onDisk(path.join(dataDir, 'local', CLUSTER, 'orders', '0'));
  const text = await metrics.render();
  assert.ok(disk.bytes <= 8192 + 4096, `retention keeps about 8 KiB: ${disk.bytes}`);
  assert.equal(sample(text, 'pproxy_storage_local_partition_bytes', { cluster: CLUSTER, topic: 'orders', partition: 0 }), disk.bytes);
  assert.equal(sample(text, 'pproxy_storage_local_partition_segments', { cluster: CLUSTER, topic: 'orders', partition: 0 }), disk.segments);
});

test('a torn tail cut at start is counted, and the partition on disk is reported before any send', async (t) => {
  const dataDir = tempDir(t);
  const first = new ProxyMetrics(true);
  first.configure(['orders'], [CLUSTER]);
  const writer = await startLocal(t, first, dataDir, {});
  for (let i = 0; i < 3; i++) await writer.send([message({ partitionId: 1 })]);
  await writer.close();
  const directory = path.join(dataDir, 'local', CLUSTER, 'orders', '1');
  const segment = path.join(directory, fs.readdirSync(directory).find((f) => f.endsWith('.log'))!);
  const whole = fs.statSync(segment).size;
  fs.appendFileSync(segment, Buffer.from([0, 0, 0, 99, 1, 2, 3])); // a record's start, as a crash leaves it

  const metrics = new ProxyMetrics(true);
  metrics.configure(['orders'], [CLUSTER]);
  await startLocal(t, metrics, dataDir, {});
  const text = await metrics.render();
  assert.equal(fs.statSync(segment).size, whole);
  assert.equal(sample(text, 'pproxy_storage_local_truncations_total', { cluster: CLUSTER }), 1);
  assert.equal(sample(text, 'pproxy_storage_local_partition_bytes', { cluster: CLUSTER, topic: 'orders', partition: 1 }), whole);
  assert.equal(sample(text, 'pproxy_storage_local_partition_segments', { cluster: CLUSTER, topic: 'orders', partition: 1 }), 1);
});

test("a proxy with its admin port on exports its local clusters' metrics, and drops a cluster's when it leaves the configuration", async (t) => {
  const dir = tempDir(t);
  const adminPort = await freePort();
  const config = (clusters: Record<string, Record<string, unknown>>) => localConfig({ clusters, topics: [{ topic: 'orders', clusters: ['L1'] }], extra: { adminPort } });
  const file = writeConfig(dir, config({ L1: {}, L2: {} }));
  const app = await ProxyApp.start(loadNodeConfiguration(file), silentLogger());
  t.after(() => app.stop());
  const client = await ProducerClient.connect('127.0.0.1', app.address().port);
  t.after(() => client.close());
  assert.equal((await client.sendSync({ topic: 'orders', body: 'x', partitionId: 0 })).code, 0);
  const partition = { cluster: 'L1', topic: 'orders', partition: 0 };
  assert.ok(sample(await app.metrics.render(), 'pproxy_storage_local_partition_bytes', partition)! > 0);
  assert.equal(sample(await app.metrics.render(), 'pproxy_storage_local_truncations_total', { cluster: 'L2' }), 0);

  writeConfig(dir, config({ L1: {} }));
  assert.equal(await app.reload(), true);
  const text = await app.metrics.render();
  assert.equal(sample(text, 'pproxy_storage_local_truncations_total', { cluster: 'L2' }), undefined);
  assert.ok(sample(text, 'pproxy_storage_local_partition_bytes', partition)! > 0);
});

test("a topic that leaves the configuration keeps its local partition series, which describe files still on disk, while its cluster stays", async (t) => {
  const dir = tempDir(t);
  const adminPort = await freePort();
  const config = (topics: string[]) => localConfig({ clusters: { L1: {} }, topics: topics.map((topic) => ({ topic, clusters: ['L1'] })), extra: { adminPort } });
  const file = writeConfig(dir, config(['orders', 'audit']));
  const app = await ProxyApp.start(loadNodeConfiguration(file), silentLogger());
  t.after(() => app.stop());
  const client = await ProducerClient.connect('127.0.0.1', app.address().port);
  t.after(() => client.close());
  assert.equal((await client.sendSync({ topic: 'orders', body: 'x', partitionId: 0 })).code, 0);

  writeConfig(dir, config(['audit']));
  assert.equal(await app.reload(), true);
  const text = await app.metrics.render();
  assert.equal(sample(text, 'pproxy_messages_received_total', { method: 'sendSync', topic: 'orders' }), undefined, "the proxy's own series of the topic go");
  const files = onDisk(path.join(dir, 'data', 'local', 'L1', 'orders', '0'));
  assert.ok(files.bytes > 0);
  assert.equal(sample(text, 'pproxy_storage_local_partition_bytes', { cluster: 'L1', topic: 'orders', partition: 0 }), files.bytes);
  assert.equal(sample(text, 'pproxy_storage_local_partition_segments', { cluster: 'L1', topic: 'orders', partition: 0 }), files.segments);
});
