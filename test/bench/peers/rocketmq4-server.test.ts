/**
 * The real Apache RocketMQ 4 launcher: a two-broker cluster whose name server routes each topic to
 * both brokers, messages put on a given queue with RocketMQ's own tool read back exactly, and a
 * broker killed and restarted on the same store.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { parseSendMessage } from '../../../bench/peers/rocketmq4-admin-output';
import { RocketMq4Cluster, type BrokerName, type StoredMessage } from '../../../bench/peers/rocketmq4-server';
import { fileScope } from '../../helpers/processes';

const TOPIC = 'rmq4-peer-plain';
const ORDERED = 'rmq4-peer-ordered';

// one cluster for the file: three JVMs, each some seconds to start
const scope = fileScope();
let cluster: RocketMq4Cluster;
before(async () => {
  cluster = await RocketMq4Cluster.start(scope, { brokers: 2, topics: { [TOPIC]: { queues: 2 }, [ORDERED]: { queues: 3, order: true } } });
}, { timeout: 180_000 });

/** mqadmin sendMessage onto one queue of one broker. */
async function send(brokerName: BrokerName, queueId: number, body: string, keys: string, tags: string): Promise<void> {
  const out = await cluster.mqadmin('sendMessage', '-n', cluster.namesrvAddress, '-t', TOPIC, '-p', body, '-k', keys, '-c', tags, '-b', brokerName, '-i', String(queueId));
  const sent = parseSendMessage(out);
  assert.deepEqual([sent.brokerName, sent.queueId], [brokerName, queueId]);
}

function essentials(m: StoredMessage) {
  return { at: `${m.brokerName}/${m.queueId}@${m.queueOffset}`, body: m.body.toString('latin1'), tags: m.tags, keys: m.keys, userProperties: m.userProperties };
}

test('routes every topic to both brokers, with its queues and order config', { timeout: 120_000 }, async () => {
  const addresses = Object.fromEntries(cluster.brokers.map((b) => [b.name, { 0: b.address }]));
  assert.deepEqual(Object.keys(addresses), ['broker-a', 'broker-b']);
  for (const [topic, queues] of [[TOPIC, 2], [ORDERED, 3]] as const) {
    const route = await cluster.route(topic);
    assert.deepEqual(
      route.brokers.map((b) => [b.name, b.cluster, b.addresses]).sort(),
      Object.entries(addresses).map(([name, addrs]) => [name, 'DefaultCluster', addrs]),
    );
    assert.deepEqual(
      route.queues.map((q) => [q.brokerName, q.readQueueNums, q.writeQueueNums, q.perm]).sort(),
      [['broker-a', queues, queues, 6], ['broker-b', queues, queues, 6]],
    );
    if (topic === ORDERED) assert.deepEqual(route.orderTopicConf?.split(';').sort(), ['broker-a:3', 'broker-b:3']);
    else assert.equal(route.orderTopicConf, undefined);
  }
});

test('reads back what was put on a given queue, exactly', { timeout: 120_000 }, async () => {
  await send('broker-b', 1, 'first, {with} = signs', 'k1 k2', 'tagA');
  await send('broker-b', 1, 'second', 'k3', 'tagB');
  await send('broker-a', 0, 'on a', 'ka', 'tagC');
  assert.deepEqual((await cluster.readQueue(TOPIC, 'broker-b', 1)).map(essentials), [
    { at: 'broker-b/1@0', body: 'first, {with} = signs', tags: 'tagA', keys: ['k1', 'k2'], userProperties: {} },
    { at: 'broker-b/1@1', body: 'second', tags: 'tagB', keys: ['k3'], userProperties: {} },
  ]);
  assert.deepEqual(await cluster.readQueue(TOPIC, 'broker-b', 0), []);
  const all = await cluster.readAll(TOPIC);
  assert.deepEqual(all.map((m) => m.body.toString()).sort(), ['first, {with} = signs', 'on a', 'second']);
  // RocketMQ's own properties are there and the broker's, as stored; none of the pulling client's
  assert.equal(all[0]!.properties.CLUSTER, 'DefaultCluster');
  // the producer's message id: its IP (16 bytes for an IPv6 one), pid, class loader, time and counter
  assert.match(all[0]!.properties.UNIQ_KEY ?? '', /^[0-9A-F]{32}(?:[0-9A-F]{24})?$/);
  assert.equal(all[0]!.properties.MIN_OFFSET, undefined);
  assert.equal(all.some((m) => m.compressed), false);
});

test('a killed broker is unreadable until it restarts on its store, and takes messages again', { timeout: 120_000 }, async () => {
  await cluster.kill('broker-a');
  await assert.rejects(cluster.readQueue(TOPIC, 'broker-a', 0), /mqadmin printMsgByQueue .* failed/);
  await cluster.restart('broker-a');
  await send('broker-a', 0, 'after restart', 'kb', 'tagD');
  assert.deepEqual((await cluster.readQueue(TOPIC, 'broker-a', 0)).map(essentials), [
    { at: 'broker-a/0@0', body: 'on a', tags: 'tagC', keys: ['ka'], userProperties: {} },
    { at: 'broker-a/0@1', body: 'after restart', tags: 'tagD', keys: ['kb'], userProperties: {} },
  ]);
});
