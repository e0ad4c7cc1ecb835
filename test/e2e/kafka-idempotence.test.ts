/**
 * Idempotent produce on real Apache Kafka 4 and 3: every connection of the storage goes through a
 * TcpForwarder (the broker advertises the forwarder's port), which lets a Produce request reach the
 * broker and be written, then closes the connection before the answer reaches the storage. kafkajs
 * sends it again; only the idempotent producer's sequence numbers let the broker recognise it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/log';
import { kafkaClusterSchema } from '../../src/storage/kafka/kafka-config';
import { KafkaStorage } from '../../src/storage/kafka/kafka-storage';
import { schemaTools } from '../../src/storage/storage-context';
import type { OutgoingMessage, SendOutcome } from '../../src/storage/storage';
import { ApiKey, consumeAll } from '../helpers/kafka';
import { KafkaBroker, type KafkaVersion } from '../helpers/kafka-broker';
import { freePort } from '../helpers/ports';
import { fileScope } from '../helpers/processes';
import { TcpForwarder } from '../helpers/tcp-forwarder';
import { eventually } from '../helpers/wait';

interface FaultyKafka {
  broker: KafkaBroker;
  forwarder: TcpForwarder;
  /** The forwarder: the bootstrap connection goes through it too. */
  bootstraps: string[];
}

const shared = fileScope();
const peers = new Map<KafkaVersion, Promise<FaultyKafka>>();
function faultyKafka(version: KafkaVersion): Promise<FaultyKafka> {
  if (!peers.has(version)) {
    peers.set(
      version,
      (async () => {
        const advertisedPort = await freePort();
        const broker = await KafkaBroker.start(shared, { version, advertisedPort });
        const forwarder = await TcpForwarder.start(shared, broker.port, undefined, advertisedPort);
        return { broker, forwarder, bootstraps: [`127.0.0.1:${forwarder.port}`] };
      })(),
    );
  }
  return peers.get(version)!;
}
// one JVM starting at a time: the second starts while the first one's tests run
shared.hold(faultyKafka(4).catch(() => undefined).then(() => faultyKafka(3)).catch(() => undefined));

/**
 * A started storage on a fresh one-partition `topic`, its metadata loaded and a first message,
 * "before", stored: the faults that follow meet a producer that is up.
 */
async function readyStorage(kafka: FaultyKafka, topic: string, settings: { enableIdempotence: boolean; retries?: number; requestTimeout?: number }): Promise<KafkaStorage> {
  await kafka.broker.createTopic(topic, 1);
  const config = kafkaClusterSchema(schemaTools).parse({ bootstrapServers: kafka.bootstraps, retries: 3, retryBackoff: 50, ...settings });
  const s = new KafkaStorage('K1', config, 1, silentLogger());
  shared.after(() => s.close());
  await s.start();
  await s.warmUp([topic]);
  assert.deepEqual((await s.send([message(topic, 'before')])).map(describe), ['OK']);
  return s;
}

function message(topic: string, body: string): OutgoingMessage {
  return { topic, key: undefined, tags: undefined, body: Buffer.from(body), properties: undefined, partitionId: 0, hashId: 0n, ordered: false, timestamp: Date.now() };
}

/** How many times each body is in the topic. */
async function storedCounts(kafka: FaultyKafka, topic: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const r of await consumeAll(kafka.bootstraps, topic)) counts.set(r.value.toString(), (counts.get(r.value.toString()) ?? 0) + 1);
  return counts;
}

function describe(outcome: SendOutcome): string {
  return outcome.ok ? 'OK' : `${outcome.error.code}: ${outcome.error.message}`;
}

for (const version of [4, 3] as const) {
  test(`Kafka ${version}: without enableIdempotence, a produce whose answer is lost is written twice`, { timeout: 120_000 }, async () => {
    const kafka = await faultyKafka(version);
    const s = await readyStorage(kafka, 'answer-lost', { enableIdempotence: false });

    const dropped = kafka.forwarder.dropAnswerToNext(ApiKey.Produce);
    const bodies = ['a', 'b', 'c'];
    const outcomes = await s.send(bodies.map((b) => message('answer-lost', b)));
    await dropped;
    assert.deepEqual(outcomes.map(describe), ['OK', 'OK', 'OK'], 'kafkajs sent the batch again on a new connection');

    const counts = await storedCounts(kafka, 'answer-lost');
    assert.deepEqual(bodies.map((b) => counts.get(b)), [2, 2, 2], 'the broker wrote the first request and its retry');
  });

  test(`Kafka ${version}: with enableIdempotence, every message answered OK is in the topic once, after lost answers among concurrent sends`, { timeout: 120_000 }, async () => {
    const kafka = await faultyKafka(version);
    const s = await readyStorage(kafka, 'answer-lost-idempotent', { enableIdempotence: true });

    const acknowledged: string[] = [];
    const failed: string[] = [];
    const ROUNDS = 6;
    const SENDS = 4;
    for (let round = 0; round < ROUNDS; round++) {
      const dropped = kafka.forwarder.dropAnswerToNext(ApiKey.Produce);
      // one record each, to one partition: sends whose batches kafkajs could confuse if one took
      // another's sequence numbers
      const bodies = Array.from({ length: SENDS }, (_, i) => `r${round}-s${i}`);
      const outcomes = await Promise.all(bodies.map((b) => s.send([message('answer-lost-idempotent', b)])));
      await dropped;
      outcomes.forEach(([outcome], i) => (outcome!.ok ? acknowledged : failed).push(`${bodies[i]} ${describe(outcome!)}`));
    }

    const counts = await storedCounts(kafka, 'answer-lost-idempotent');
    const ok = acknowledged.map((a) => a.split(' ')[0]!);
    assert.deepEqual(ok.filter((b) => counts.get(b) !== 1).map((b) => `${b} x${counts.get(b) ?? 0}`), [], `answered OK, stored other than once (failed: ${failed.join('; ')})`);
    assert.deepEqual([...counts].filter(([, n]) => n > 1), [], 'nothing stored twice');
    assert.deepEqual(failed, [], 'every send succeeds on a retry');
  });

  test(`Kafka ${version}: with enableIdempotence, a send whose every attempt lost its answer leaves the next sends intact`, { timeout: 120_000 }, async () => {
    const kafka = await faultyKafka(version);
    const RETRIES = 1;
    const s = await readyStorage(kafka, 'retries-used-up', { enableIdempotence: true, retries: RETRIES });

    const failing = s.send([message('retries-used-up', 'answers-lost')]);
    for (let attempt = 0; attempt <= RETRIES; attempt++) await kafka.forwarder.dropAnswerToNext(ApiKey.Produce);
    const [failed] = await failing;
    assert.equal(failed!.ok, false, 'no answer reached the storage');
    // the broker has written the failed send: the sends after it must not be taken for it, whatever their size
    assert.deepEqual((await s.send(['x', 'y', 'z'].map((b) => message('retries-used-up', b)))).map(describe), ['OK', 'OK', 'OK']);
    assert.deepEqual((await s.send([message('retries-used-up', 'same-size')])).map(describe), ['OK']);

    const counts = await storedCounts(kafka, 'retries-used-up');
    assert.deepEqual(['before', 'answers-lost', 'x', 'y', 'z', 'same-size'].map((b) => counts.get(b)), [1, 1, 1, 1, 1, 1]);
  });

  test(`Kafka ${version}: with enableIdempotence, a send waiting behind one the broker does not answer is given up unsent at the wait bound, and never written`, { timeout: 120_000 }, async (t) => {
    const kafka = await faultyKafka(version);
    // the wait bound is the cluster's requestTimeout (at most 30 s)
    const s = await readyStorage(kafka, 'turn-wait', { enableIdempotence: true, retries: 1, requestTimeout: 1000 });

    kafka.forwarder.holdAnswers();
    t.after(() => kafka.forwarder.releaseAnswers());
    const ahead = s.send([message('turn-wait', 'ahead')]);
    const queuedAt = Date.now();
    const [behind] = await s.send([message('turn-wait', 'behind')]);
    const waited = Date.now() - queuedAt;
    assert.equal(describe(behind!), 'TIMEOUT: kafka K1: not sent: waited 1000 ms behind a send of the same idempotent producer');
    assert.ok(!behind!.ok && behind!.error.retriable, 'retriable: nothing was sent');
    assert.ok(waited >= 900 && waited < 1900, `at the bound, not when the send ahead of it ends (${waited} ms)`);
    kafka.forwarder.releaseAnswers();
    await ahead;
    await eventually(async () => ((await s.send([message('turn-wait', 'after')]))[0]!.ok ? true : undefined), 20_000, 'a send after the broker answers again');
    const counts = await storedCounts(kafka, 'turn-wait');
    assert.equal(counts.get('behind'), undefined, `the given-up send is not written: ${JSON.stringify([...counts])}`);
    assert.equal(counts.get('before'), 1);
  });

  test(`Kafka ${version}: with enableIdempotence, a send still waiting for its turn when close() ends is answered CLOSED and never written`, { timeout: 120_000 }, async (t) => {
    const kafka = await faultyKafka(version);
    // a wait bound (requestTimeout) past close()'s 10 s grace
    const s = await readyStorage(kafka, 'after-close', { enableIdempotence: true, retries: 1, requestTimeout: 20_000 });

    kafka.forwarder.holdAnswers();
    t.after(() => kafka.forwarder.releaseAnswers());
    const ahead = s.send([message('after-close', 'ahead')]);
    const behind = s.send([message('after-close', 'behind')]);
    await s.close();
    kafka.forwarder.releaseAnswers();
    const [behindOutcome] = await behind;
    assert.equal(describe(behindOutcome!), 'CLOSED: kafka K1: not sent: the storage is closed');
    await ahead;
    await new Promise((r) => setTimeout(r, 1000)); // a producer connected after close() would have sent it by now
    assert.equal((await storedCounts(kafka, 'after-close')).get('behind'), undefined, 'behind is not written');
  });
}
