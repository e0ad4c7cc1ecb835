/**
 * The send pipeline end to end on the mock Kafka cluster: auto-batching seen at the broker (and its
 * settings reloaded under load), deadlines under a slow broker, all-or-nothing batch validation,
 * the in-flight budget.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import thrift from 'thrift';
import YAML from 'yaml';
import { ProducerClient, int64 } from '../../src/client/producer-client';
import { Message } from '../../src/gen/producer_types';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { MockKafka, consumeAll, consumeRecordBatches } from '../helpers/kafka';
import { startProxy, startProxyProcess } from '../helpers/proxy';
import { lengthPrefix } from '../helpers/raw-socket';
import { encodeWithStockClient } from '../helpers/stock-thrift';
import { eventually } from '../helpers/wait';

async function proxyOn(t: TestContext, mock: MockKafka, options: { carrera?: Record<string, unknown>; thrift?: Record<string, unknown>; autoBatch?: boolean } = {}) {
  const config = localConfig({
    clusters: {},
    kafkaClusters: { K1: { bootstrapServers: mock.bootstraps, retries: 1, retryBackoff: 20 } },
    carreraConfiguration: { useKafka: true, ...options.carrera },
    thriftServer: options.thrift ?? {},
    topics: [{ topic: 'p' }],
    extra: { logLevel: 'info' },
  });
  const topics = (config['defaultTopicInfoConf'] as { topics: Record<string, unknown>[] }).topics;
  topics[0]!['autoBatch'] = options.autoBatch ?? false;
  const proxy = await startProxyProcess(t, writeConfig(tempDir(t), config));
  const client = await ProducerClient.connect('127.0.0.1', proxy.port);
  t.after(() => client.close());
  return { proxy, client };
}

test('concurrent sendSync calls reach the broker as multi-message produce requests', { timeout: 90_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('p', 2);
  const { proxy } = await proxyOn(t, mock, { carrera: { useAutoBatch: true }, autoBatch: true });
  const clients = await Promise.all(Array.from({ length: 8 }, () => ProducerClient.connect('127.0.0.1', proxy.port)));
  t.after(() => clients.forEach((c) => c.close()));
  const results = await Promise.all(
    Array.from({ length: 400 }, (_, i) => clients[i % 8]!.sendSync({ topic: 'p', body: `m${i}`, partitionId: i % 2 }, 5000)),
  );
  assert.deepEqual([...new Set(results.map((r) => r.code))], [0]);
  const stored = await consumeRecordBatches(mock.bootstraps, 'p', 400);
  const batchSizes = new Map<string, number>();
  for (const r of stored) batchSizes.set(`${r.partition}/${r.batchFirstOffset}`, (batchSizes.get(`${r.partition}/${r.batchFirstOffset}`) ?? 0) + 1);
  const multi = [...batchSizes.values()].filter((n) => n > 1);
  t.diagnostic(`400 messages in ${batchSizes.size} record batches, largest ${Math.max(...batchSizes.values())}`);
  assert.ok(multi.length > 0, 'some produce requests carried several messages');
  assert.ok(batchSizes.size < stored.length, `fewer produce batches (${batchSizes.size}) than messages`);
  assert.equal(new Set(stored.map((r) => r.value)).size, 400, 'every OK message is in the broker once');
});

test('a reloaded maxBatchMessagesNumber shapes the next produce requests of a queue that never went idle', { timeout: 90_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('p', 1);
  const proxy = await startProxy(t, {
    clusters: {},
    kafkaClusters: { K1: { bootstrapServers: mock.bootstraps } },
    carreraConfiguration: { useKafka: true, useAutoBatch: true, autoBatch: { maxBatchMessagesNumber: 16 } },
    topics: [{ topic: 'p', autoBatch: true }],
  });
  const clients = await Promise.all(Array.from({ length: 8 }, () => proxy.client()));
  // 200 requests out at all times: far more than a batch takes, so the queue always holds some
  let phase = 'before';
  let sent = 0;
  const counts = { before: 0, after: 0 };
  const codes = new Set<number>();
  const worker = async (client: ProducerClient) => {
    while (counts.after < 200) {
      const label = phase;
      const r = await client.sendSync({ topic: 'p', body: `${label}-${sent++}` }, 5000);
      codes.add(r.code);
      counts[label as keyof typeof counts]++;
    }
  };
  const load = Promise.all(clients.flatMap((c) => Array.from({ length: 25 }, () => worker(c))));
  await eventually(() => (counts.before >= 300 ? true : undefined), 20_000, 'the load to run');
  const config = YAML.parse(fs.readFileSync(proxy.configFile, 'utf8'));
  config.pproxy.carreraConfiguration.autoBatch.maxBatchMessagesNumber = 2;
  fs.writeFileSync(proxy.configFile, YAML.stringify(config));
  assert.equal(await proxy.app.reload(), true);
  phase = 'after';
  await load;
  assert.deepEqual([...codes], [0]);

  const stored = await consumeRecordBatches(mock.bootstraps, 'p', sent);
  const batches = new Map<string, string[]>();
  for (const r of stored) batches.set(r.batchFirstOffset, [...(batches.get(r.batchFirstOffset) ?? []), r.value]);
  const largest = (label: string) => Math.max(0, ...[...batches.values()].filter((b) => b.some((v) => v.startsWith(label))).map((b) => b.length));
  t.diagnostic(`${sent} messages; largest produce request before the reload ${largest('before')}, after ${largest('after')}`);
  assert.ok(largest('before') > 2, 'batches grew past 2 before the reload');
  assert.equal(largest('after'), 2, 'every message sent after the reload went in a batch of at most 2');
});

test('a broker slowed by RTT yields 12 exactly at the deadline, never later', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('p', 1);
  const { client } = await proxyOn(t, mock);
  assert.equal((await client.sendSync({ topic: 'p', body: 'warm' })).code, 0);
  for (const id of [1, 2, 3]) await mock.command(`rtt ${id} 1500`);
  for (const timeout of [100, 300]) {
    const started = process.hrtime.bigint();
    const r = await client.sendSync({ topic: 'p', body: `slow-${timeout}` }, timeout);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(r.code, 12);
    assert.ok(ms >= timeout - 1 && ms < timeout + 40, `answered after ${ms.toFixed(1)} ms for a ${timeout} ms timeout`);
  }
});

test('a Kafka batch with one invalid message answers 11 and writes nothing of it', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('p', 2);
  const { client } = await proxyOn(t, mock);
  const good = Array.from({ length: 5 }, (_, i) => ({ topic: 'p', body: `good-${i}` }));
  assert.equal((await client.sendBatchSync([...good, { topic: 'p', body: 'bad', key: 'k'.repeat(300) }])).code, 11);
  assert.equal((await client.sendBatchSync([...good, { topic: 'p', body: 'out-of-range', partitionId: 7 }])).code, 11);
  assert.equal((await client.sendBatchSync([{ topic: 'p', body: 'marker' }])).code, 0);
  const values = (await consumeAll(mock.bootstraps, 'p')).map((r) => r.value.toString());
  // the out-of-range message is refused by the cluster, the others of its batch are stored (not atomic, as DDMQ)
  assert.equal(values.includes('bad'), false);
  assert.equal(values.filter((v) => v.startsWith('good-')).length, 5, 'only the second batch stored its valid messages');
  assert.ok(values.includes('marker'));
});

test('past the in-flight byte budget the proxy stops reading, and still answers every request', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('p', 2);
  const { proxy, client } = await proxyOn(t, mock, { thrift: { maxInFlightBytes: 64 * 1024 } });
  assert.equal((await client.sendSync({ topic: 'p', body: 'warm' })).code, 0);
  for (const id of [1, 2, 3]) await mock.command(`rtt ${id} 100`);
  const body = Buffer.alloc(16 * 1024, 7);
  const results = await Promise.all(Array.from({ length: 64 }, (_, i) => client.sendSync({ topic: 'p', body, key: `big-${i}` }, 10_000)));
  assert.deepEqual([...new Set(results.map((r) => r.code))], [0], 'all answered OK');
  assert.match(proxy.output(), /in-flight budget exceeded: reading paused/);
  const stored = (await consumeAll(mock.bootstraps, 'p')).filter((r) => r.key?.toString().startsWith('big-'));
  assert.equal(stored.length, 64);
});

test('oneway calls count against the in-flight budget until their send ends, and idle closes after them', { timeout: 60_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('p', 2);
  const { proxy, client } = await proxyOn(t, mock, { thrift: { maxInFlightBytes: 64 * 1024, clientTimeout: 100 } });
  assert.equal((await client.sendSync({ topic: 'p', body: 'warm' })).code, 0);
  for (const id of [1, 2, 3]) await mock.command(`rtt ${id} 100`);
  const body = Buffer.alloc(16 * 1024, 7);
  const frames = Array.from({ length: 32 }, (_, i) => {
    const call = encodeWithStockClient((c) => c.sendSync(Object.assign(new Message(), { topic: 'p', body, key: `oneway-${i}`, partitionId: -2 }), int64(5000n)));
    call[1] = (call[1]! & 0x1f) | (thrift.Thrift.MessageType.ONEWAY << 5); // compact header: version | type << 5
    return Buffer.concat([lengthPrefix(call.length), call]);
  });
  const socket = net.connect(proxy.port, '127.0.0.1');
  t.after(() => socket.destroy());
  let answered = 0;
  socket.on('data', (d: Buffer) => (answered += d.length));
  let closedByProxy = false;
  socket.on('close', () => (closedByProxy = true));
  await new Promise((resolve) => socket.write(Buffer.concat(frames), resolve));
  await eventually(() => (/in-flight budget exceeded: reading paused/.test(proxy.output()) ? true : undefined), 10_000, 'the oneway flood to pause reading');
  const stored = async () => (await consumeAll(mock.bootstraps, 'p')).filter((r) => r.key?.toString().startsWith('oneway-')).length;
  await eventually(async () => ((await stored()) === 32 ? true : undefined), 20_000, 'every oneway message stored');
  assert.equal(answered, 0, 'oneway calls get no reply');
  // the calls outlast clientTimeout (100 ms, the broker answering after 100): once they are done, the
  // idle connection is closed
  await eventually(() => (closedByProxy ? true : undefined), 3000, 'the idle connection to be closed');
});
