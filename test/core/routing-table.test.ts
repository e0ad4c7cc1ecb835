import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TopicConfig } from '../../src/config/schema';
import { schemas } from '../helpers/schemas';
import { buildRoutingTable, servedTopicsByCluster } from '../../src/core/routing-table';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../../src/core/validate';
import type { ClusterStorage } from '../../src/storage/storage';

const pproxy = schemas.strict.pproxyConfig.parse({
  proxyCluster: 'P_c',
  brokerClusters: ['L_b', 'L_a', 'K_x'],
  topics: ['t1', 't2', 't3', 't4'],
  carreraConfiguration: {
    localConfigurationMap: { L_a: {}, L_b: {} },
    kafkaConfigurationMap: { K_x: { bootstrapServers: ['127.0.0.1:9092'] } },
    delay: { chronosInnerTopicPrefix: 'inner_', innerTopicNum: 1 },
  },
});

const topic = (name: string, units: Record<string, unknown>[]): TopicConfig =>
  schemas.strict.topicConfig.parse({ topic: name, topicUnits: units });

function storage(cluster: string, maxMessageSize?: number): ClusterStorage {
  return { cluster, kind: 'local', maxMessageSize } as ClusterStorage;
}

test('served topics: listed, on a broker cluster of this proxy, bound to this instance where binding is required', async () => {
  const storages = new Map([['L_a', storage('L_a', 1000)], ['L_b', storage('L_b', 4000)]]);
  const topics = [
    topic('t1', [{ brokerCluster: 'L_b' }, { brokerCluster: 'L_a' }]),
    topic('t2', [{ brokerCluster: 'L_a', proxies: { P_c: ['10.0.0.9:9613'] } }]),
    topic('t3', [{ brokerCluster: 'R_elsewhere' }]),
    topic('t4', [{ brokerCluster: 'K_x', proxies: { P_c: ['10.0.0.1:9613'] } }]),
    topic('unlisted', [{ brokerCluster: 'L_a' }]),
  ];
  const local = await buildRoutingTable(pproxy, topics, storages, { instance: '10.0.0.1:9613', requireBinding: false });
  assert.deepEqual([...local.topics.keys()], ['t1', 't4']);
  const t1 = local.topics.get('t1')!;
  assert.deepEqual(t1.clusters.map((c) => c.name), ['L_a', 'L_b'], 'sorted by name');
  assert.equal(t1.maxMessageSize, 1000, 'the smallest limit of its clusters');
  const t4 = local.topics.get('t4')!;
  assert.equal(t4.clusters[0]!.storage, undefined, 'a cluster without a producer stays routable (answers 21)');
  assert.equal(t4.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE);
  assert.equal(local.innerTopicPrefix, 'inner_');

  const bound = await buildRoutingTable(pproxy, topics, storages, { instance: '10.0.0.1:9613', requireBinding: true });
  assert.deepEqual([...bound.topics.keys()], ['t4'], 'with binding required, only units naming this instance count');

  // what a new cluster storage is warmed up for: the same rule, by cluster
  const identity = { instance: '10.0.0.1:9613', requireBinding: false };
  assert.deepEqual(Object.fromEntries(await servedTopicsByCluster(pproxy, topics, identity)), { L_b: ['t1'], L_a: ['t1'], K_x: ['t4'] });
  assert.deepEqual(Object.fromEntries(await servedTopicsByCluster(pproxy, topics, { ...identity, requireBinding: true })), { K_x: ['t4'] });
});
