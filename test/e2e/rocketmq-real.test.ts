/**
 * The broker-independent RocketMQ end-to-end checks (the stock Thrift client -> pproxy -> RocketMQ 5)
 * run against both the stand-in (test/helpers/rocketmq-standin.ts) and the real Apache RocketMQ
 * 5.3.3 (test/helpers/rocketmq-server.ts, one server for the file, read back with RocketMQ's own
 * consumer). The stand-in-only checks (how many SendMessage calls a batch takes, injected faults,
 * outages) are in rocketmq.test.ts.
 */
import assert from 'node:assert/strict';
import { before, test, type TestContext } from 'node:test';
import { fileScope } from '../helpers/processes';
import { MAX_MESSAGE_SIZE, RocketMqServer } from '../helpers/rocketmq-server';
import { MockKafka, consumeAll } from '../helpers/kafka';
import { startProxy } from '../helpers/proxy';
import { sendThroughRestart } from '../helpers/restart-under-load';
import { rmqConfig, rmqProxy, standIn } from '../helpers/rocketmq-proxy';

/** A message as a peer stored it: the queue as `broker/queueId`. */
interface PeerMessage {
  queue: string;
  body: Buffer;
  tag: string | undefined;
  keys: string[];
  messageGroup: string | undefined;
  properties: Record<string, string>;
}

/** A RocketMQ 5 proxy the broker-independent tests run against, with its topics normal, fifo, big and batch. */
interface Peer {
  name: string;
  address: string;
  /** Write queues of a topic over all brokers. */
  queues: number;
  /** The largest body the broker stores. */
  maxMessageSize: number;
  read(topic: string, count: number): Promise<PeerMessage[]>;
}

/**
 * The deadline of the content checks' sends: a real server's first write to a topic, on a loaded
 * machine, has taken over a second (answered 12); these checks are about what is stored, not when.
 */
const SLOW_PEER_MS = 10_000;

const TOPICS = { normal: 'NORMAL', fifo: 'FIFO', big: 'NORMAL', batch: 'NORMAL', routed: 'NORMAL', restart: 'NORMAL' } as const;

async function standInPeer(t: TestContext): Promise<Peer> {
  const topics = Object.fromEntries(Object.entries(TOPICS).map(([topic, type]) => [topic, { type }]));
  const s = await standIn(t, { maxBodySize: MAX_MESSAGE_SIZE, topics });
  return {
    name: 'stand-in',
    address: s.address,
    queues: s.writeQueues('normal').length,
    maxMessageSize: MAX_MESSAGE_SIZE,
    read: async (topic) =>
      s.stored
        .filter((e) => e.topic === topic)
        .map((e) => ({ queue: `${e.broker}/${e.queueId}`, body: e.body, tag: e.tag, keys: e.keys, messageGroup: e.messageGroup, properties: e.userProperties })),
  };
}

// one real server for the file: starting it takes ~20 s
const realScope = fileScope();
let real: RocketMqServer;
before(async () => {
  real = await RocketMqServer.start(realScope, { ...TOPICS });
}, { timeout: 120_000 });

function realPeer(): Peer {
  return {
    name: 'Apache RocketMQ 5',
    address: real.address,
    queues: 4,
    maxMessageSize: MAX_MESSAGE_SIZE,
    read: async (topic, count) =>
      (await real.readAll(topic, count)).map((m) => ({ queue: `broker-a/${m.queueId}`, body: m.body, tag: m.tag, keys: m.keys, messageGroup: m.messageGroup, properties: m.properties })),
  };
}

const PEERS: [string, (t: TestContext) => Promise<Peer>][] = [
  ['stand-in', standInPeer],
  ['Apache RocketMQ 5', async () => realPeer()],
];

for (const [peerName, peerOf] of PEERS) {
  test(`${peerName}: tags, keys, properties and a binary body reach RocketMQ exactly`, { timeout: 60_000 }, async (t) => {
    const peer = await peerOf(t);
    const client = await rmqProxy(t, peer, [{ topic: 'normal' }]);
    const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xff));
    const r = await client.sendSync({ topic: 'normal', body, key: 'order-9', tags: 'TagA', properties: { traceId: 't-1', region: 'eu' } }, SLOW_PEER_MS);
    assert.equal(r.code, 0);
    const [entry, ...rest] = await peer.read('normal', 1);
    assert.equal(rest.length, 0);
    assert.deepEqual(entry!.body, body);
    assert.deepEqual([entry!.tag, entry!.keys, entry!.properties, entry!.messageGroup], ['TagA', ['order-9'], { traceId: 't-1', region: 'eu' }, undefined]);
  });

  test(`${peerName}: strongOrder topic: each hashId keeps its send order on one queue; a normal topic spreads over all queues`, { timeout: 90_000 }, async (t) => {
    const peer = await peerOf(t);
    // an attempt that outlasts a short sendMsgTimeout is retried, and may then be stored twice
    const client = await rmqProxy(t, peer, [{ topic: 'fifo', strongOrder: true }, { topic: 'big' }], {
      rocketmqClusters: { R1: { namesrvAddrs: [peer.address], protocol: 'grpc', sendMsgTimeout: SLOW_PEER_MS } },
    });
    const hashIds = [0n, 1n, -1n, 7n, -9n, 12_345n, -77_777n, 42n, 2n ** 63n - 1n, -(2n ** 63n)];
    // 10 sequences of 20, sent concurrently across hashIds and in order within each
    await Promise.all(
      hashIds.map(async (hashId) => {
        for (let n = 0; n < 20; n++) {
          const r = await client.sendSync({ topic: 'fifo', body: `${hashId}:${n}`, hashId, partitionId: -1 }, SLOW_PEER_MS);
          assert.equal(r.code, 0, `hashId ${hashId} #${n}`);
        }
      }),
    );
    // read back in queue order: per queue, in the order stored
    const fifo = await peer.read('fifo', 200);
    assert.equal(fifo.length, 200);
    for (const hashId of hashIds) {
      const mine = fifo.filter((e) => e.body.toString().startsWith(`${hashId}:`));
      assert.deepEqual(mine.map((e) => Number(e.body.toString().split(':')[1])), [...Array(20).keys()], `order of hashId ${hashId}`);
      assert.equal(new Set(mine.map((e) => e.queue)).size, 1, `hashId ${hashId} on one queue`);
      assert.ok(mine.every((e) => e.messageGroup === `hash-${hashId}`));
    }
    // the normal topic is 'big' here: 'normal' is read by the test above on the shared real server
    for (let i = 0; i < 40; i++) assert.equal((await client.sendSync({ topic: 'big', body: `n${i}`, partitionId: -2 }, SLOW_PEER_MS)).code, 0);
    const queues = new Set((await peer.read('big', 40)).map((e) => e.queue));
    assert.equal(queues.size, peer.queues, `all ${peer.queues} queues`);
  });

  test(`${peerName}: a sendBatchSync and concurrent auto-batched sendSync calls, several messages per SendMessage, are OK and each in the topic once`, { timeout: 60_000 }, async (t) => {
    const peer = await peerOf(t);
    const client = await rmqProxy(t, peer, [{ topic: 'batch', autoBatch: true }], { carreraConfiguration: { useRocketmq: true, useAutoBatch: true } });
    const batch = await client.sendBatchSync(Array.from({ length: 20 }, (_, i) => ({ topic: 'batch', body: `b${i}` })));
    assert.equal(batch.code, 0, `sendBatchSync: ${batch.msg}`);
    const singles = await Promise.all(Array.from({ length: 200 }, (_, i) => client.sendSync({ topic: 'batch', body: `s${i}` }, SLOW_PEER_MS)));
    assert.deepEqual([...new Set(singles.map((r) => r.code))], [0], JSON.stringify(singles.find((r) => r.code !== 0)));
    const expected = [...Array.from({ length: 20 }, (_, i) => `b${i}`), ...Array.from({ length: 200 }, (_, i) => `s${i}`)];
    const stored = (await peer.read('batch', expected.length)).map((e) => e.body.toString());
    assert.deepEqual(stored.sort(), expected.sort());
  });

  test(`${peerName}: an unknown topic is 14; a body over the broker's maxMessageSize is 11`, { timeout: 60_000 }, async (t) => {
    const peer = await peerOf(t);
    const client = await rmqProxy(t, peer, [{ topic: 'normal' }, { topic: 'ghost' }], {});
    const ghost = await client.sendSync({ topic: 'ghost', body: 'x' }, SLOW_PEER_MS);
    assert.equal(ghost.code, 14, `TOPIC_NOT_FOUND: ${ghost.msg}`);
    const tooLarge = await client.sendSync({ topic: 'normal', body: Buffer.alloc(peer.maxMessageSize + 1, 1) }, SLOW_PEER_MS);
    assert.equal(tooLarge.code, 11, `over the broker's limit: ${tooLarge.msg}`);
  });

  test(`${peerName}: a topic on one Kafka and one RocketMQ cluster routes by DDMQ cluster choice`, { timeout: 60_000 }, async (t) => {
    const peer = await peerOf(t);
    const kafka = await MockKafka.start(t);
    await kafka.createTopic('routed', 4);
    const proxy = await startProxy(t, {
      ...rmqConfig(peer, [{ topic: 'routed' }]),
      kafkaClusters: { K1: { bootstrapServers: kafka.bootstraps } },
      carreraConfiguration: { useRocketmq: true, useKafka: true },
    });
    const client = await proxy.client();
    // clusters sorted by name: [K1, R1]; index = partitionId, else |hashId|, each mod 2
    const cases: [number, bigint, string][] = [[0, 0n, 'K1'], [1, 0n, 'R1'], [2, 0n, 'K1'], [-1, 3n, 'R1'], [-1, -4n, 'K1'], [-1, -(2n ** 63n), 'K1']];
    for (const [partitionId, hashId] of cases) {
      assert.equal((await client.sendSync({ topic: 'routed', body: `${partitionId}/${hashId}`, partitionId: partitionId >= 0 ? partitionId % 4 : partitionId, hashId }, SLOW_PEER_MS)).code, 0);
    }
    const onKafka = new Set((await consumeAll(kafka.bootstraps, 'routed')).map((r) => r.value.toString()));
    const onRmq = new Set((await peer.read('routed', cases.filter(([, , cluster]) => cluster === 'R1').length)).map((e) => e.body.toString()));
    for (const [partitionId, hashId, cluster] of cases) {
      const body = `${partitionId}/${hashId}`;
      assert.equal(onKafka.has(body) ? 'K1' : onRmq.has(body) ? 'R1' : 'none', cluster, body);
    }
  });
}

/**
 * The proxy process (and the broker it holds in local mode) killed and started again on the same
 * ports and store while four senders keep sending: error codes meanwhile, OK again once it is back,
 * and every message answered OK is stored.
 */
test('Apache RocketMQ 5: the broker killed and restarted under load: every message answered OK is stored', { timeout: 150_000 }, async (t) => {
  const client = await rmqProxy(t, real, [{ topic: 'restart' }]);
  const { acknowledged, codes } = await sendThroughRestart(client, 'restart', { kill: () => real.killBroker(), start: () => real.startBroker() });
  const stored = await real.readUntil('restart', (read) => {
    const bodies = new Set(read.map((m) => m.body.toString()));
    return [...acknowledged].every((b) => bodies.has(b));
  }, 60_000);
  const bodies = stored.map((m) => m.body.toString());
  const storedSet = new Set(bodies);
  assert.deepEqual([...acknowledged].filter((b) => !storedSet.has(b)), [], 'every message answered OK is stored');
  t.diagnostic(`RocketMQ restart: ${JSON.stringify(Object.fromEntries(codes))} codes, ${stored.length} stored, ${bodies.length - storedSet.size} duplicates`);
});
