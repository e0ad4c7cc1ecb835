/**
 * Kafka storage end to end: the stock Thrift client -> pproxy -> a Kafka peer, every message read back
 * from the broker with kcat. The broker-independent checks run against librdkafka's mock cluster and
 * against real Apache Kafka 4 and 3 (one broker per version for the whole file); the fault-injection
 * tests need the mock's controls and run on it alone.
 */
import { schemaTools } from '../../src/storage/storage-context';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { test, type TestContext } from 'node:test';
import YAML from 'yaml';
import type { MessageSpec, ProducerClient } from '../../src/client/producer-client';
import { silentLogger } from '../../src/log';
import { kafkaClusterSchema } from '../../src/storage/kafka/kafka-config';
import { KafkaStorage } from '../../src/storage/kafka/kafka-storage';
import type { OutgoingMessage } from '../../src/storage/storage';
import { ApiKey, KafkaError, MockKafka, consumeAll, consumeRecordBatches } from '../helpers/kafka';
import { KafkaBroker, type KafkaVersion } from '../helpers/kafka-broker';
import { fileScope } from '../helpers/processes';
import { startProxy, type InProcessProxy } from '../helpers/proxy';
import { sendThroughRestart } from '../helpers/restart-under-load';
import { eventually } from '../helpers/wait';

/** What the shared checks need of a Kafka peer. */
interface KafkaPeer {
  readonly bootstraps: string[];
  createTopic(name: string, partitions: number): Promise<void>;
}

const shared = fileScope();
const realBrokers = new Map<KafkaVersion, Promise<KafkaBroker>>();
/** The file's one broker of a version. */
function realKafka(version: KafkaVersion): Promise<KafkaBroker> {
  if (!realBrokers.has(version)) realBrokers.set(version, KafkaBroker.start(shared, { version }));
  return realBrokers.get(version)!;
}
// They start while the mock's tests run, one after the other (two JVMs starting at once on two
// cores take longer than in turn); a failed start fails each test that awaits it.
shared.hold(realKafka(4).catch(() => undefined).then(() => realKafka(3)).catch(() => undefined));

const PEERS: { name: string; start: (t: TestContext) => Promise<KafkaPeer> }[] = [
  { name: 'librdkafka mock', start: (t) => MockKafka.start(t) },
  { name: 'Kafka 4', start: () => realKafka(4) },
  { name: 'Kafka 3', start: () => realKafka(3) },
];

async function kafkaProxy(
  t: TestContext,
  peer: KafkaPeer,
  topics: string[],
  options: { cluster?: Record<string, unknown>; producers?: number } = {},
): Promise<{ proxy: InProcessProxy; client: ProducerClient }> {
  const proxy = await startProxy(t, {
    clusters: {},
    kafkaClusters: { K1: { bootstrapServers: peer.bootstraps, retries: 2, retryBackoff: 50, ...options.cluster } },
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

async function assertAllStored(peer: KafkaPeer, topic: string, acknowledged: ReadonlySet<string>): Promise<void> {
  const stored = new Set((await consumeAll(peer.bootstraps, topic)).map((r) => r.value.toString('latin1')));
  assert.deepEqual([...acknowledged].filter((b) => !stored.has(b)), [], 'every message answered OK is in the broker');
}

async function routingMatrix(t: TestContext, peer: KafkaPeer): Promise<void> {
  await peer.createTopic('route8', 8);
  const { client } = await kafkaProxy(t, peer, ['route8']);
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

  const records = await consumeAll(peer.bootstraps, 'route8');
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
  await assertAllStored(peer, 'route8', acknowledged);
}

async function mappingExact(t: TestContext, peer: KafkaPeer): Promise<void> {
  await peer.createTopic('mapping', 2);
  const { client } = await kafkaProxy(t, peer, ['mapping'], { cluster: { compression: 'gzip' } });
  const body = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 8)) & 0xff;
  const r = await client.sendSync({ topic: 'mapping', body, key: 'order-7', tags: 'TagA', partitionId: 1, properties: { traceId: 't-1', spanId: 's-2' } }, 10_000);
  assert.equal(r.code, 0);
  assert.equal((await client.sendSync({ topic: 'mapping', body: 'no-key', partitionId: 0 })).code, 0);
  const records = await consumeAll(peer.bootstraps, 'mapping');
  const big = records.find((x) => x.partition === 1)!;
  assert.deepEqual(big.value, body);
  assert.equal(big.key!.toString(), 'order-7');
  assert.deepEqual(big.headers, { traceId: 't-1', spanId: 's-2', TAGS: 'TagA' });
  const small = records.find((x) => x.partition === 0)!;
  assert.equal(small.key, null);
  assert.deepEqual(small.headers, {});
}

async function batchReadBack(t: TestContext, peer: KafkaPeer): Promise<void> {
  await peer.createTopic('batch-a', 4);
  await peer.createTopic('batch-b', 2);
  const { client } = await kafkaProxy(t, peer, ['batch-a', 'batch-b']);
  const batch = [
    ...Array.from({ length: 40 }, (_, i) => ({ topic: 'batch-a', body: `a-${i}`, key: `k-${i}`, partitionId: i % 4, properties: { n: String(i) } })),
    ...Array.from({ length: 10 }, (_, i) => ({ topic: 'batch-b', body: `b-${i}`, partitionId: -1, hashId: BigInt(i) })),
  ];
  assert.equal((await client.sendBatchSync(batch)).code, 0);
  const a = await consumeAll(peer.bootstraps, 'batch-a');
  assert.equal(a.length, 40);
  for (const record of a) {
    const i = Number(record.value.toString().slice(2));
    assert.equal(record.partition, i % 4, `a-${i} partition`);
    assert.equal(record.key!.toString(), `k-${i}`);
    assert.deepEqual(record.headers, { n: String(i) });
  }
  // within a partition the batch's order is kept
  for (let p = 0; p < 4; p++) {
    const order = a.filter((r) => r.partition === p).map((r) => Number(r.value.toString().slice(2)));
    assert.deepEqual(order, [...order].sort((x, y) => x - y), `partition ${p} in send order`);
  }
  const b = await consumeAll(peer.bootstraps, 'batch-b');
  assert.deepEqual(b.map((r) => `${r.value.toString()}@${r.partition}`).sort(), Array.from({ length: 10 }, (_, i) => `b-${i}@${i % 2}`).sort());
}

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

/**
 * Each codec, one proxy each: one sendSync and one sendBatchSync (JSON bodies and a binary one) read
 * back byte-exact; on a real broker, Kafka's DumpLogSegments shows every stored batch with that
 * codec (the broker decompressed each to validate it, and kept the producer's compression).
 */
async function codecMatrix(t: TestContext, peer: KafkaPeer): Promise<void> {
  const json = (i: number) => Buffer.from(JSON.stringify({ order: i, user: `user-${i}`, items: Array.from({ length: 12 }, (_, j) => ({ sku: `sku-${(i * 31 + j) % 97}`, qty: j })) }));
  const binary = Buffer.concat([randomBytes(16 * 1024), Buffer.from(Array.from({ length: 16 * 1024 }, (_, i) => (i * 31 + (i >> 8)) & 0xff))]);
  const topics = CODECS.map((codec) => `codec-${codec}`);
  for (const [n, codec] of CODECS.entries()) {
    const topic = topics[n]!;
    await peer.createTopic(topic, 2);
    const { client } = await kafkaProxy(t, peer, [topic], { cluster: { compression: codec } });
    const single = json(0);
    assert.equal((await client.sendSync({ topic, body: single, key: 'single', partitionId: 0, properties: { codec } }, 10_000)).code, 0, `${codec} sendSync`);
    const bodies = [...Array.from({ length: 9 }, (_, i) => json(i + 1)), binary];
    const batch = bodies.map((body, i) => ({ topic, body, key: `batch-${i}`, partitionId: 1 }));
    assert.equal((await client.sendBatchSync(batch)).code, 0, `${codec} sendBatchSync`);

    const stored = await consumeAll(peer.bootstraps, topic);
    const inPartition = (p: number) => stored.filter((r) => r.partition === p);
    assert.deepEqual(inPartition(0).map((r) => [r.key!.toString(), r.value, r.headers]), [['single', single, { codec }]], `${codec}: the sendSync message`);
    assert.deepEqual(inPartition(1).map((r) => [r.key!.toString(), r.value]), batch.map((m) => [m.key, m.body]), `${codec}: the batch, in order`);
  }
  if (!(peer instanceof KafkaBroker)) return;
  const batches = await peer.storedBatches(topics);
  for (const [n, codec] of CODECS.entries()) {
    for (const [partition, records] of [[0, 1], [1, 10]] as const) {
      const stored = batches.get(`${topics[n]}-${partition}`) ?? [];
      assert.deepEqual(stored.map((b) => b.codec), stored.map(() => codec.toUpperCase()), `${codec}: every batch of partition ${partition} stored as ${codec}`);
      assert.equal(stored.reduce((sum, b) => sum + b.count, 0), records, `${codec}: records of partition ${partition}`);
    }
  }
}

const SHARED_CHECKS: [string, (t: TestContext, peer: KafkaPeer) => Promise<void>][] = [
  ['routing matrix on an 8-partition topic, read back from the broker', routingMatrix],
  ['key, headers from properties, tags and a 1 MiB binary body arrive exactly (gzip)', mappingExact],
  ['sendBatchSync over two topics: partitions, keys, headers and order read back', batchReadBack],
  ['every codec (gzip, snappy, lz4, zstd), sendSync and sendBatchSync, read back byte-exact', codecMatrix],
];

for (const [name, check] of SHARED_CHECKS) {
  for (const peer of PEERS) {
    test(`${name} [${peer.name}]`, { timeout: 90_000 }, async (t) => check(t, await peer.start(t)));
  }
}

/** A topic pproxy serves that the broker does not have (auto-creation off): 14, answered at once. */
async function unknownTopic(t: TestContext, peer: KafkaPeer): Promise<void> {
  await peer.createTopic('known', 1);
  const { client } = await kafkaProxy(t, peer, ['known', 'ghost']);
  for (let i = 0; i < 2; i++) {
    const started = Date.now();
    assert.equal((await client.sendSync({ topic: 'ghost', body: `to-nowhere-${i}` }, 5000)).code, 14);
    assert.ok(Date.now() - started < 4000, `answered before the deadline (${Date.now() - started} ms)`);
  }
  assert.equal((await client.sendSync({ topic: 'known', body: 'still served' })).code, 0);
}

/** A body over the topic's max.message.bytes: 11 from the broker, and nothing stored. */
async function overTopicLimit(t: TestContext, broker: KafkaBroker): Promise<void> {
  await broker.createTopic('small', 1, { 'max.message.bytes': '2048' });
  const { client } = await kafkaProxy(t, broker, ['small']);
  const acknowledged = new Set<string>();
  const send = sender(client, acknowledged);
  assert.equal(await send({ topic: 'small', body: randomBytes(1024).toString('hex').slice(0, 1500) }), 0, 'under the limit');
  assert.equal(await send({ topic: 'small', body: randomBytes(2048).toString('hex') }), 11, 'over the limit');
  const batch = Array.from({ length: 4 }, () => ({ topic: 'small', body: randomBytes(400).toString('hex') }));
  assert.equal((await client.sendBatchSync(batch)).code, 11, 'a batch over the limit');
  assert.equal(await send({ topic: 'small', body: 'after' }), 0, 'the topic still takes messages');
  const stored = await consumeAll(broker.bootstraps, 'small');
  assert.equal(stored.length, 2);
  await assertAllStored(broker, 'small', acknowledged);
}

// The mock creates any topic it is asked about and has no per-topic max.message.bytes: these two
// run on the real brokers only.
const REAL_ONLY_CHECKS: [string, (t: TestContext, peer: KafkaBroker) => Promise<void>][] = [
  ['an unknown topic answers 14 without waiting for the deadline', unknownTopic],
  ["a body over the topic's max.message.bytes answers 11 and is not stored", overTopicLimit],
];

for (const [name, check] of REAL_ONLY_CHECKS) {
  for (const version of [4, 3] as const) {
    test(`${name} [Kafka ${version}]`, { timeout: 90_000 }, async (t) => check(t, await realKafka(version)));
  }
}

/**
 * The broker killed and started again on the same data while four senders keep sending: error codes
 * meanwhile, OK again after it is back, and every message answered OK is in the topic.
 */
async function restartUnderLoad(t: TestContext, broker: KafkaBroker): Promise<void> {
  await broker.createTopic('restart', 2);
  const { client } = await kafkaProxy(t, broker, ['restart']);
  const { acknowledged, codes } = await sendThroughRestart(client, 'restart', { kill: () => broker.kill(), start: () => broker.restart() });
  await assertAllStored(broker, 'restart', acknowledged);
  const stored = (await consumeAll(broker.bootstraps, 'restart')).map((r) => r.value.toString());
  t.diagnostic(`Kafka ${broker.version} restart: ${JSON.stringify(Object.fromEntries(codes))} codes, ${stored.length - new Set(stored).size} duplicates`);
}

for (const version of [4, 3] as const) {
  test(`a broker killed and restarted under load: every message answered OK is stored [Kafka ${version}]`, { timeout: 120_000 }, async (t) =>
    restartUnderLoad(t, await realKafka(version)));
}

test('injected broker errors map to result codes; a moved leader is followed', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('errs', 4);
  // before the proxy starts: its clusters' warm-up asks for the topics' metadata, and the mock
  // creates a topic it is asked about unless it answers that topic with an error
  await mock.command(`topic_error ghost ${KafkaError.UNKNOWN_TOPIC_OR_PART}`);
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
  const config = kafkaClusterSchema(schemaTools).parse({ bootstrapServers: mock.bootstraps, retries: 0 });
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

test('warming up a topic the cluster does not know fails no send of a known topic meanwhile', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('known', 1);
  await mock.command(`topic_error ghost ${KafkaError.UNKNOWN_TOPIC_OR_PART}`);
  const config = kafkaClusterSchema(schemaTools).parse({ bootstrapServers: mock.bootstraps, retries: 0 });
  const storage = new KafkaStorage('K1', config, 1, silentLogger());
  t.after(() => storage.close());
  await storage.start();
  await storage.warmUp(['known']);
  // Every request takes 300 ms. The send's produce request fails with an error (not the leader)
  // that has kafkajs refresh the producer's metadata; that refresh starts while the warm-up's is
  // under way, and kafkajs makes it wait for the warm-up's and share its result.
  for (const broker of [1, 2, 3]) await mock.command(`rtt ${broker} 300`);
  await mock.command(`request_errors ${ApiKey.Produce} ${KafkaError.NOT_LEADER_FOR_PARTITION}`);
  const message: OutgoingMessage = {
    topic: 'known', key: undefined, tags: undefined, body: Buffer.from('during the warm-up'), properties: undefined,
    partitionId: 0, hashId: 0n, ordered: false, timestamp: Date.now(),
  };
  const sent = storage.send([message]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await storage.warmUp(['known', 'ghost']);
  const [outcome] = await sent;
  // its own failure (retries: 0), which the pipeline retries, not the unknown topic's (answered 14)
  assert.equal(outcome!.ok, false);
  assert.deepEqual({ code: outcome!.error.code, retriable: outcome!.error.retriable }, { code: 'UNKNOWN', retriable: true }, outcome!.error.message);
});

/**
 * Forty senders, each sending its own sequence to one partition (the next message once the last is
 * answered), 400 small messages in all: auto-batching puts messages of different senders in one
 * produce request, and each sender's sequence is stored in its order.
 */
async function autoBatchedUnderLoad(t: TestContext, broker: KafkaBroker): Promise<void> {
  await broker.createTopic('auto-batched', 2);
  const proxy = await startProxy(t, {
    clusters: {},
    kafkaClusters: { K1: { bootstrapServers: broker.bootstraps, retries: 2, retryBackoff: 50 } },
    carreraConfiguration: { useKafka: true, useAutoBatch: true },
    topics: [{ topic: 'auto-batched', autoBatch: true }],
  });
  const clients = await Promise.all(Array.from({ length: 4 }, () => proxy.client()));
  const senders = 40;
  const perSender = 10;
  const codes = new Set<number>();
  await Promise.all(
    Array.from({ length: senders }, async (_, s) => {
      for (let n = 0; n < perSender; n++) {
        codes.add((await clients[s % 4]!.sendSync({ topic: 'auto-batched', body: `${s}:${n}`, partitionId: s % 2 }, 10_000)).code);
      }
    }),
  );
  assert.deepEqual([...codes], [0]);

  const stored = await consumeRecordBatches(broker.bootstraps, 'auto-batched', senders * perSender);
  assert.equal(new Set(stored.map((r) => r.value)).size, senders * perSender, 'every message is in the broker once');
  const batchSizes = new Map<string, number>();
  for (const r of stored) batchSizes.set(`${r.partition}/${r.batchFirstOffset}`, (batchSizes.get(`${r.partition}/${r.batchFirstOffset}`) ?? 0) + 1);
  t.diagnostic(`Kafka ${broker.version}: ${stored.length} messages in ${batchSizes.size} record batches, largest ${Math.max(...batchSizes.values())}`);
  assert.ok(batchSizes.size < stored.length / 2, `fewer produce batches (${batchSizes.size}) than half the messages`);
  for (let s = 0; s < senders; s++) {
    const mine = stored.filter((r) => r.value.startsWith(`${s}:`));
    assert.ok(mine.every((r) => r.partition === s % 2), `sender ${s} on partition ${s % 2}`);
    assert.deepEqual(mine.map((r) => Number(r.value.split(':')[1])), [...Array(perSender).keys()], `sender ${s} in send order`);
  }
}

for (const version of [4, 3] as const) {
  test(`auto-batched sendSync under load: fewer produce requests than messages, each sender's order kept [Kafka ${version}]`, { timeout: 90_000 }, async (t) =>
    autoBatchedUnderLoad(t, await realKafka(version)));
}

/**
 * A topic moved by a config reload from cluster K1 (Kafka 4) to K2 (Kafka 3) while four senders keep
 * sending: every message answered OK is on one of the two, every one answered before the reload
 * began is on K1 alone, and every one sent after the reload returned is on K2 alone. A message sent
 * just before the reload may be routed after it, to either.
 */
test('a live cluster swap by reload: nothing answered OK is lost, and after it the new cluster alone takes messages [Kafka 4 -> Kafka 3]', { timeout: 120_000 }, async (t) => {
  const [from, to] = [await realKafka(4), await realKafka(3)];
  await Promise.all([from.createTopic('swap', 2), to.createTopic('swap', 2)]);
  const proxy = await startProxy(t, {
    clusters: {},
    kafkaClusters: { K1: { bootstrapServers: from.bootstraps, retries: 2, retryBackoff: 50 }, K2: { bootstrapServers: to.bootstraps, retries: 2, retryBackoff: 50 } },
    carreraConfiguration: { useKafka: true },
    topics: [{ topic: 'swap', clusters: ['K1'] }],
  });
  const client = await proxy.client();
  const acknowledged = new Set<string>();
  const send = sender(client, acknowledged);
  const codes = new Map<number, number>();
  let phase: 'before' | 'during' | 'after' = 'before';
  let n = 0;
  const counts = { before: 0, during: 0, after: 0 };
  const answeredBefore = new Set<string>();
  const senders = Array.from({ length: 4 }, async () => {
    while (counts.after < 200) {
      const label = phase;
      const body = `${label}-${n++}`;
      const code = await send({ topic: 'swap', body });
      codes.set(code, (codes.get(code) ?? 0) + 1);
      if (code === 0) counts[label]++;
      if (code === 0 && phase === 'before') answeredBefore.add(body);
    }
  });
  await eventually(() => (answeredBefore.size >= 200 ? true : undefined), 30_000, '200 messages on K1 before the swap');
  const config = YAML.parse(fs.readFileSync(proxy.configFile, 'utf8'));
  config.defaultTopicInfoConf.topics[0].topicUnits = [{ brokerCluster: 'K2' }];
  fs.writeFileSync(proxy.configFile, YAML.stringify(config));
  phase = 'during';
  assert.equal(await proxy.app.reload(), true);
  phase = 'after';
  await Promise.all(senders);

  assert.deepEqual([...codes.keys()], [0], `codes: ${JSON.stringify([...codes])}`);
  const onK1 = (await consumeAll(from.bootstraps, 'swap')).map((r) => r.value.toString());
  const onK2 = (await consumeAll(to.bootstraps, 'swap')).map((r) => r.value.toString());
  const stored = new Set([...onK1, ...onK2]);
  assert.deepEqual([...acknowledged].filter((b) => !stored.has(b)), [], 'every message answered OK is on K1 or K2');
  assert.deepEqual(onK1.filter((b) => b.startsWith('after-')), [], 'nothing sent after the reload is on K1');
  assert.equal(onK2.filter((b) => b.startsWith('after-')).length, counts.after, 'every message sent after the reload is on K2');
  assert.deepEqual([...answeredBefore].filter((b) => !onK1.includes(b) || onK2.includes(b)), [], 'what was answered before the reload is on K1 alone');
  t.diagnostic(`swap: ${onK1.length} on K1, ${onK2.length} on K2 (${counts.during} sent while the reload ran)`);
});
