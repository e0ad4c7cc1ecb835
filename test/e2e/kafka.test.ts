/**
 * Kafka storage end to end: the stock Thrift client -> pproxy -> librdkafka's mock Kafka cluster,
 * every message read back from the broker with kcat.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import YAML from 'yaml';
import type { MessageSpec, ProducerClient } from '../../src/client/producer-client';
import { silentLogger } from '../../src/log';
import { kafkaClusterSchema } from '../../src/storage/kafka/kafka-config';
import { KafkaStorage } from '../../src/storage/kafka/kafka-storage';
import type { OutgoingMessage } from '../../src/storage/storage';
import { ApiKey, KafkaError, MockKafka, consumeAll } from '../helpers/kafka';
import { startProxy, type InProcessProxy } from '../helpers/proxy';
import { eventually } from '../helpers/wait';

async function kafkaProxy(
  t: TestContext,
  mock: MockKafka,
  topics: string[],
  options: { cluster?: Record<string, unknown>; producers?: number } = {},
): Promise<{ proxy: InProcessProxy; client: ProducerClient }> {
  const proxy = await startProxy(t, {
    clusters: {},
    kafkaClusters: { K1: { bootstrapServers: mock.bootstraps, retries: 2, retryBackoff: 50, ...options.cluster } },
    carreraConfiguration: { useKafka: true, kafkaProducers: options.producers ?? 1 },
    topics: topics.map((topic) => ({ topic })),
  });
  return { proxy, client: await proxy.client() };
}

/** Sends and returns the code; OK bodies are remembered for the "nothing lost" check. */
function sender(client: ProducerClient, acknowledged: Set<string>) {
  return async (spec: MessageSpec & { body: string | Buffer }, timeoutMs = 5000): Promise<number> => {
    const r = await client.sendSync(spec, timeoutMs);
    if (r.code === 0) acknowledged.add(Buffer.from(spec.body).toString('latin1'));
    return r.code;
  };
}

async function assertAllStored(mock: MockKafka, topic: string, acknowledged: Set<string>): Promise<void> {
  const stored = new Set((await consumeAll(mock.bootstraps, topic)).map((r) => r.value.toString('latin1')));
  assert.deepEqual([...acknowledged].filter((b) => !stored.has(b)), [], 'every message answered OK is in the broker');
}

test('routing matrix on an 8-partition topic, read back from the broker', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('route8', 8);
  const { client } = await kafkaProxy(t, mock, ['route8']);
  const acknowledged = new Set<string>();
  const send = sender(client, acknowledged);

  for (let p = 0; p < 8; p++) assert.equal(await send({ topic: 'route8', body: `explicit-${p}`, partitionId: p }), 0);
  const hashes: [bigint, number][] = [
    [0n, 0], [1n, 1], [7n, 7], [8n, 0], [-1n, 1], [-9n, 1], [2n ** 63n - 1n, 7], [-(2n ** 63n), 0],
  ];
  for (const [hashId] of hashes) assert.equal(await send({ topic: 'route8', body: `hash-${hashId}`, partitionId: -1, hashId }), 0);
  for (let i = 0; i < 200; i++) assert.equal(await send({ topic: 'route8', body: `random-${i}`, partitionId: -2 }), 0);
  assert.equal(await send({ topic: 'route8', body: 'explicit-8', partitionId: 8 }), 11);
  for (let b = 0; b < 12; b++) {
    const batch = Array.from({ length: 20 }, (_, i) => ({ topic: 'route8', body: `sticky-${b}-${i}`, partitionId: -2 }));
    assert.equal((await client.sendBatchSync(batch)).code, 0);
    batch.forEach((m) => acknowledged.add(m.body));
  }

  const records = await consumeAll(mock.bootstraps, 'route8');
  const partitionOf = new Map(records.map((r) => [r.value.toString(), r.partition]));
  for (let p = 0; p < 8; p++) assert.equal(partitionOf.get(`explicit-${p}`), p, `explicit ${p}`);
  for (const [hashId, partition] of hashes) assert.equal(partitionOf.get(`hash-${hashId}`), partition, `hashId ${hashId}`);
  const randomPartitions = new Set(records.filter((r) => r.value.toString().startsWith('random-')).map((r) => r.partition));
  assert.deepEqual([...randomPartitions].sort(), [0, 1, 2, 3, 4, 5, 6, 7], 'random spreads over all partitions');
  assert.equal(partitionOf.has('explicit-8'), false, 'nothing written for a partition that does not exist');
  // random messages sent together share one random partition (Kafka's sticky partitioner)
  const stickyPartitions = Array.from({ length: 12 }, (_, b) => new Set(Array.from({ length: 20 }, (_, i) => partitionOf.get(`sticky-${b}-${i}`))));
  stickyPartitions.forEach((partitions, b) => assert.equal(partitions.size, 1, `batch ${b} in one partition: ${[...partitions].join(',')}`));
  assert.ok(new Set(stickyPartitions.map((p) => [...p][0])).size > 1, 'the batches draw different partitions');
  assert.equal(records.length, 8 + hashes.length + 200 + 12 * 20);
  await assertAllStored(mock, 'route8', acknowledged);
});

test('key, headers from properties, tags and a 1 MiB binary body arrive exactly (gzip)', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('mapping', 2);
  const { client } = await kafkaProxy(t, mock, ['mapping'], { cluster: { compression: 'gzip' } });
  const body = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 8)) & 0xff;
  const r = await client.sendSync({ topic: 'mapping', body, key: 'order-7', tags: 'TagA', partitionId: 1, properties: { traceId: 't-1', spanId: 's-2' } }, 10_000);
  assert.equal(r.code, 0);
  assert.equal((await client.sendSync({ topic: 'mapping', body: 'no-key', partitionId: 0 })).code, 0);
  const records = await consumeAll(mock.bootstraps, 'mapping');
  const big = records.find((x) => x.partition === 1)!;
  assert.deepEqual(big.value, body);
  assert.equal(big.key!.toString(), 'order-7');
  assert.deepEqual(big.headers, { traceId: 't-1', spanId: 's-2', TAGS: 'TagA' });
  const small = records.find((x) => x.partition === 0)!;
  assert.equal(small.key, null);
  assert.deepEqual(small.headers, {});
});

test('injected broker errors map to result codes; a moved leader is followed', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('errs', 4);
  const { client } = await kafkaProxy(t, mock, ['errs', 'ghost'], { producers: 3 });
  const acknowledged = new Set<string>();
  const send = sender(client, acknowledged);
  assert.equal(await send({ topic: 'errs', body: 'warm-up', partitionId: 0 }), 0); // metadata cached

  await mock.command(`request_errors ${ApiKey.Produce} ${KafkaError.REQUEST_TIMED_OUT} ${KafkaError.REQUEST_TIMED_OUT}`);
  assert.equal(await send({ topic: 'errs', body: 'after-two-timeouts', partitionId: 1 }), 0, 'retried within the deadline');

  await mock.command(`request_errors ${ApiKey.Produce} ${KafkaError.MESSAGE_TOO_LARGE}`);
  assert.equal(await send({ topic: 'errs', body: 'too-large', partitionId: 1 }), 11);

  await mock.command(`request_errors ${ApiKey.Produce} ${KafkaError.TOPIC_AUTHORIZATION_FAILED}`);
  assert.equal(await send({ topic: 'errs', body: 'not-authorized', partitionId: 1 }), 10);

  await mock.command(`topic_error ghost ${KafkaError.UNKNOWN_TOPIC_OR_PART}`);
  assert.equal(await send({ topic: 'ghost', body: 'to-nowhere' }), 14);

  await mock.command('leader errs 2 3');
  assert.equal(await send({ topic: 'errs', body: 'after-leader-move', partitionId: 2 }), 0);
  await mock.command('broker_down 1');
  await mock.command('broker_up 1');
  assert.equal(await send({ topic: 'errs', body: 'after-broker-bounce', partitionId: 3 }), 0);

  const bodies = (await consumeAll(mock.bootstraps, 'errs')).map((r) => r.value.toString());
  assert.equal(bodies.includes('too-large') || bodies.includes('not-authorized'), false);
  await assertAllStored(mock, 'errs', acknowledged);
});

test('a paused broker answers 12 at the deadline, then OK after it resumes', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('pause', 2);
  const { client } = await kafkaProxy(t, mock, ['pause']);
  const acknowledged = new Set<string>();
  const send = sender(client, acknowledged);
  assert.equal(await send({ topic: 'pause', body: 'before' }), 0);

  await mock.pause();
  const started = Date.now();
  assert.equal(await send({ topic: 'pause', body: 'while-paused' }, 500), 12);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 490 && elapsed < 800, `answered at the deadline (${elapsed} ms)`);
  assert.equal((await client.sendSync({ topic: 'carrera_heartbeat' })).code, 0, 'the proxy keeps serving');
  mock.resume();

  let n = 0;
  await eventually(async () => ((await send({ topic: 'pause', body: `after-${n++}` }, 2000)) === 0 ? true : undefined), 20_000, 'OK after resume');
  await assertAllStored(mock, 'pause', acknowledged);
});

test('a killed cluster gives error codes without hanging; reloading onto a live cluster recovers', { timeout: 90_000 }, async (t) => {
  const dead = await MockKafka.start(t);
  await dead.createTopic('moving', 2);
  const { proxy, client } = await kafkaProxy(t, dead, ['moving']);
  assert.equal((await client.sendSync({ topic: 'moving', body: 'first' })).code, 0);
  await dead.kill();

  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    const r = await client.sendSync({ topic: 'moving', body: `into-the-void-${i}` }, 1000);
    assert.ok(r.code === 10 || r.code === 12, `an error code, got ${r.code}`);
    assert.ok(Date.now() - started < 1300, 'no hang');
  }
  assert.equal((await client.sendSync({ topic: 'carrera_heartbeat' })).code, 0, 'no crash');

  const live = await MockKafka.start(t);
  await live.createTopic('moving', 2);
  const config = YAML.parse(fs.readFileSync(proxy.configFile, 'utf8'));
  config.pproxy.carreraConfiguration.kafkaConfigurationMap.K1.bootstrapServers = live.bootstraps;
  fs.writeFileSync(proxy.configFile, YAML.stringify(config));
  assert.equal(await proxy.app.reload(), true);
  // the reload warmed the new storage up: it needs no metadata now, which the cluster stops serving
  await live.command(`topic_error moving ${KafkaError.UNKNOWN_TOPIC_OR_PART}`);

  const acknowledged = new Set<string>();
  const send = sender(client, acknowledged);
  assert.equal(await send({ topic: 'moving', body: 'recovered' }), 0, 'the same connection now reaches the live cluster');
  await live.command('topic_error moving 0');
  await assertAllStored(live, 'moving', acknowledged);
});

test('a Kafka storage warmed up for its topics sends without fetching metadata again', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('warm', 4);
  const config = kafkaClusterSchema.parse({ bootstrapServers: mock.bootstraps, retries: 0 });
  const warmed = new KafkaStorage('K1', config, 2, silentLogger());
  const cold = new KafkaStorage('K1', config, 1, silentLogger());
  t.after(() => Promise.all([warmed.close(), cold.close()]));
  await warmed.start();
  // a topic the cluster does not know spoils nothing (kafkajs refuses a whole refresh for it)
  await mock.command(`topic_error unknown ${KafkaError.UNKNOWN_TOPIC_OR_PART}`);
  await warmed.warmUp(['warm', 'unknown']);
  // from now on the topic's metadata says it does not exist (the mock's produce path ignores that):
  // only what the warm-up loaded can serve
  await mock.command(`topic_error warm ${KafkaError.UNKNOWN_TOPIC_OR_PART}`);
  const message: OutgoingMessage = {
    topic: 'warm', key: undefined, tags: undefined, body: Buffer.from('after warm-up'), properties: undefined,
    partitionId: -2, hashId: 0n, ordered: false, timestamp: Date.now(),
  };
  await cold.start();
  const [coldOutcome] = await cold.send([message]);
  assert.equal(coldOutcome!.ok ? 'OK' : coldOutcome!.error.code, 'TOPIC_NOT_FOUND', 'a storage that was not warmed up needs the metadata');
  for (let i = 0; i < 4; i++) {
    const [outcome] = await warmed.send([message]);
    assert.equal(outcome!.ok, true, `send ${i} on the warmed storage: ${outcome!.ok ? '' : outcome!.error.message}`);
  }
});
