/**
 * kafkajs' producer really groups with the linear grouping of src/storage/kafka/kafkajs.ts: the
 * grouping kafkajs' sendMessages binds when it loads is counted while a KafkaStorage sends to the
 * mock cluster. An identity check alone would pass if kafkajs stopped calling the module it binds.
 *
 * The count wraps what sendMessages gets from its require, so it is installed before anything loads
 * kafkajs, and this file loads the Kafka modules only after it.
 */
import assert from 'node:assert/strict';
import Module from 'node:module';
import { test } from 'node:test';

const SEND_MESSAGES = require.resolve('kafkajs/src/producer/sendMessages');
type Grouping = (...args: unknown[]) => Record<number, unknown[]>;
const bound: { grouping?: Grouping; calls: number; messages: number } = { calls: 0, messages: 0 };

const moduleRequire = Module.prototype.require;
Module.prototype.require = function (this: NodeJS.Module, id: string) {
  const exported = moduleRequire.call(this, id) as unknown;
  if (this.filename !== SEND_MESSAGES || id !== './groupMessagesPerPartition') return exported;
  const grouping = exported as Grouping;
  bound.grouping = grouping;
  return (...args: unknown[]) => {
    bound.calls++;
    const grouped = grouping(...args);
    bound.messages += Object.values(grouped).flat().length;
    return grouped;
  };
} as typeof Module.prototype.require;

test('a send through KafkaStorage calls the grouping kafkajs.ts installed, once per topic, with every message', { timeout: 60_000 }, async (t) => {
  const { groupMessagesPerPartition } = await import('../../../src/storage/kafka/kafkajs.js');
  const { KafkaStorage } = await import('../../../src/storage/kafka/kafka-storage.js');
  const { kafkaClusterSchema } = await import('../../../src/storage/kafka/kafka-config.js');
  const { schemaTools } = await import('../../../src/storage/storage-context.js');
  const { silentLogger } = await import('../../../src/log.js');
  const { MockKafka } = await import('../../helpers/kafka.js');
  Module.prototype.require = moduleRequire;
  assert.equal(bound.grouping, groupMessagesPerPartition, 'sendMessages bound the linear grouping');

  const mock = await MockKafka.start(t);
  await mock.createTopic('grouped', 4);
  const storage = new KafkaStorage('K1', kafkaClusterSchema(schemaTools).parse({ bootstrapServers: mock.bootstraps, retries: 0 }), 1, silentLogger());
  t.after(() => storage.close());
  await storage.start();
  const messages = Array.from({ length: 10 }, (_, i) => ({
    topic: 'grouped', key: undefined, tags: undefined, body: Buffer.from(`m${i}`), properties: undefined,
    partitionId: i % 3 === 0 ? -2 : i % 4, hashId: 0n, ordered: false, timestamp: Date.now(),
  }));
  const before = { ...bound };
  const outcomes = await storage.send(messages);
  assert.deepEqual(outcomes.map((o) => o.ok), messages.map(() => true));
  assert.equal(bound.calls - before.calls, 1, 'one grouping for the one topic');
  assert.equal(bound.messages - before.messages, messages.length, 'every message went through it');
});

test('each topic of a storage send is one batch handed to a producer, counted as pproxy_storage_kafka_producer_sends_total', { timeout: 60_000 }, async (t) => {
  const { kafkaStoragePlugin } = await import('../../../src/storage/builtin/kafka.js');
  const { createStorageContext, schemaTools } = await import('../../../src/storage/storage-context.js');
  const { ProxyMetrics } = await import('../../../src/metrics/proxy-metrics.js');
  const { kafkaClusterSchema } = await import('../../../src/storage/kafka/kafka-config.js');
  const { silentLogger } = await import('../../../src/log.js');
  const { MockKafka } = await import('../../helpers/kafka.js');
  const mock = await MockKafka.start(t);
  await mock.createTopic('a', 2);
  await mock.createTopic('b', 2);
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['K1']);
  const context = createStorageContext({ kind: 'kafka', cluster: 'K1', dataDir: '/nonexistent', logger: silentLogger(), producers: 1, metrics: metrics.storages.forCluster('kafka', 'K1', silentLogger()) });
  const storage = kafkaStoragePlugin.create(kafkaClusterSchema(schemaTools).parse({ bootstrapServers: mock.bootstraps, retries: 0 }), context);
  t.after(() => storage.close());
  await storage.start();
  const message = (topic: string) => ({
    topic, key: undefined, tags: undefined, body: Buffer.from(topic), properties: undefined, partitionId: -2, hashId: 0n, ordered: false, timestamp: Date.now(),
  });
  const outcomes = await storage.send(['a', 'b', 'a', 'b', 'a'].map(message));
  assert.deepEqual(outcomes.map((o) => o.ok), [true, true, true, true, true]);
  await storage.send([message('a')]);
  assert.match(await metrics.render(), /^pproxy_storage_kafka_producer_sends_total\{cluster="K1"\} 3$/m);
});
