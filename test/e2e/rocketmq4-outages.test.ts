/**
 * Outages of the real Apache RocketMQ 4.9.7 under pproxy in ZooKeeper mode (the console's stock
 * R_default config, remoting): the name server killed once the routes are held, and one of two
 * brokers killed under load, where a topic that is not ordered goes on (another attempt reaches the
 * other broker) and a strongOrder one answers errors for the dead broker's queues rather than move
 * a message. Every message answered OK is read back from the brokers. One cluster for the file.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { RocketMq4Cluster } from '../../bench/peers/rocketmq4-server';
import { fileScope } from '../helpers/processes';
import { at, hashQueueIndex, producerQueueOrder, readAllPatiently, startZkBoundProxy, STOCK_CLUSTER, type ZkBoundProxy } from '../helpers/rocketmq4-zk-proxy';
import { eventually } from '../helpers/wait';

const HELD = 'rmq4-out-held';
const PLAIN = 'rmq4-out-plain';
const ORDERED = 'rmq4-out-ordered';
const TIMEOUT_MS = 10_000;
/**
 * The ordered senders' deadline, the stock sendMsgTimeout: a message of the dead broker's queues is
 * tried again by the pipeline (on the same queue) until the caller's deadline, and only then answered.
 */
const ORDERED_TIMEOUT_MS = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const scope = fileScope();
let cluster: RocketMq4Cluster;
let proxy: ZkBoundProxy;
before(async () => {
  cluster = await RocketMq4Cluster.start(scope, { brokers: 2, topics: { [HELD]: { queues: 2 }, [PLAIN]: { queues: 2 }, [ORDERED]: { queues: 2, order: true } } });
  proxy = await startZkBoundProxy(scope, { [STOCK_CLUSTER]: [cluster.namesrvAddress] }, [
    { topic: HELD, cluster: STOCK_CLUSTER },
    { topic: PLAIN, cluster: STOCK_CLUSTER },
    { topic: ORDERED, cluster: STOCK_CLUSTER, strongOrder: true },
  ]);
}, { timeout: 240_000 });

test('the name server killed after the routes are held: sends go on with the routes held', { timeout: 180_000 }, async () => {
  const sent: string[] = [];
  const send = async (body: string, partitionId: number) => {
    const r = await proxy.client.sendSync({ topic: HELD, body, partitionId }, TIMEOUT_MS);
    assert.equal(r.code, 0, `${body}: ${r.msg}`);
    sent.push(body);
  };
  for (let i = 0; i < 4; i++) await send(`before:${i}`, i);
  await cluster.killNameServer();
  // three times the stock pollNameServerInterval (2000 ms): several lookups fail meanwhile
  const until = Date.now() + 6000;
  for (let i = 0; Date.now() < until; i++) {
    await send(`during:${i}`, i);
    await sleep(200);
  }
  await cluster.restartNameServer();
  const queues = producerQueueOrder(await cluster.route(HELD));
  const stored = await readAllPatiently(cluster, HELD);
  assert.deepEqual(stored.map((m) => m.body.toString()).sort(), [...sent].sort(), 'each sent message stored once');
  for (const m of stored) assert.equal(at(m), at(queues[Number(m.body.toString().split(':')[1]) % queues.length]!), m.body.toString());
});

interface Answer {
  body: string;
  code: number;
  /** Sent after the broker was killed. */
  afterKill: boolean;
  ms: number;
}

test('a broker killed under load: a plain topic answers OK throughout, an ordered one errors for the dead queues, never moves a message; every OK is stored', { timeout: 300_000 }, async (t) => {
  const ordered = producerQueueOrder(await cluster.route(ORDERED));
  assert.equal(ordered.length, 4);
  const plainClients = await Promise.all(Array.from({ length: 3 }, () => proxy.connect()));
  const orderedClients = await Promise.all(Array.from({ length: 4 }, () => proxy.connect()));
  const hashIds = [0n, 1n, 2n, 3n, -4n, -5n, 2n ** 63n - 1n, -(2n ** 63n)];
  const answers: Answer[] = [];
  let killed = false;
  let sending = true;
  const plainLoad = plainClients.map(async (client, c) => {
    for (let n = 0; sending; n++) {
      const body = `p:${c}:${n}`;
      const [afterKill, started] = [killed, Date.now()];
      const r = await client.sendSync({ topic: PLAIN, body, partitionId: -2 }, TIMEOUT_MS);
      answers.push({ body, code: r.code, afterKill, ms: Date.now() - started });
    }
  });
  const orderedLoad = hashIds.map(async (hashId, h) => {
    const client = orderedClients[h % orderedClients.length]!;
    for (let n = 0; sending; n++) {
      const body = `o:${hashId}:${n}`;
      const [afterKill, started] = [killed, Date.now()];
      const r = await client.sendSync({ topic: ORDERED, body, partitionId: -1, hashId }, ORDERED_TIMEOUT_MS);
      answers.push({ body, code: r.code, afterKill, ms: Date.now() - started });
      if (r.code !== 0) await sleep(50);
    }
  });
  await sleep(1500);
  await cluster.kill('broker-b');
  killed = true;
  await sleep(5000);
  sending = false;
  await Promise.all([...plainLoad, ...orderedLoad]);

  const plain = answers.filter((a) => a.body.startsWith('p:'));
  const orderedAnswers = answers.filter((a) => a.body.startsWith('o:'));
  const queueOf = (body: string) => ordered[hashQueueIndex(BigInt(body.split(':')[1]!), 4)]!;
  assert.ok(plain.filter((a) => a.afterKill).length > 50, `load on the plain topic after the kill (${plain.length} sends)`);
  assert.deepEqual(plain.filter((a) => a.code !== 0), [], 'the plain topic answers OK throughout');
  const onA = orderedAnswers.filter((a) => queueOf(a.body).brokerName === 'broker-a');
  const onB = orderedAnswers.filter((a) => queueOf(a.body).brokerName === 'broker-b');
  assert.deepEqual(onA.filter((a) => a.code !== 0), [], "the ordered topic's queues on the live broker answer OK");
  assert.ok(onB.some((a) => !a.afterKill && a.code === 0), 'the dead broker took ordered messages before the kill');
  const lateOnB = onB.filter((a) => a.afterKill);
  assert.ok(lateOnB.length > 0 && lateOnB.every((a) => a.code !== 0), `ordered messages of the dead broker's queues answer an error (${JSON.stringify(onB.slice(-12))})`);

  await cluster.restart('broker-b');
  for (const topic of [PLAIN, ORDERED]) {
    await eventually(async () => ((await cluster.route(topic)).queues.some((q) => q.brokerName === 'broker-b') ? true : undefined), 60_000, `${topic} routed to broker-b again`);
  }
  const storedPlain = new Map<string, number>();
  for (const m of await readAllPatiently(cluster, PLAIN)) storedPlain.set(m.body.toString(), (storedPlain.get(m.body.toString()) ?? 0) + 1);
  assert.deepEqual(plain.filter((a) => a.code === 0 && !storedPlain.has(a.body)).map((a) => a.body), [], 'every plain message answered OK is stored');
  const storedOrdered = await readAllPatiently(cluster, ORDERED);
  for (const m of storedOrdered) {
    const body = m.body.toString();
    assert.equal(at(m), at(queueOf(body)), `${body} on its hashId's queue, never another`);
  }
  const orderedBodies = storedOrdered.map((m) => m.body.toString());
  assert.equal(new Set(orderedBodies).size, orderedBodies.length, 'no ordered message stored twice');
  assert.deepEqual(orderedAnswers.filter((a) => a.code === 0 && !orderedBodies.includes(a.body)).map((a) => a.body), [], 'every ordered message answered OK is stored');
  for (const hashId of hashIds) {
    const seq = orderedBodies.filter((b) => b.startsWith(`o:${hashId}:`)).map((b) => Number(b.split(':')[2]));
    assert.deepEqual(seq, [...seq].sort((a, b) => a - b), `hashId ${hashId} stored in its send order`);
  }
  const duplicates = [...storedPlain.values()].filter((count) => count > 1).length;
  const codes = Object.fromEntries([...new Set(answers.map((a) => a.code))].map((code) => [code, answers.filter((a) => a.code === code).length]));
  t.diagnostic(`broker-b killed: ${plain.length} plain sends, ${orderedAnswers.length} ordered, codes ${JSON.stringify(codes)}, ${duplicates} plain stored twice`);
});
