import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readPProxyNode, readTopicNode } from '../../../src/config/zookeeper/node-reading';
import { silentLogger } from '../../../src/log';
import type { KafkaClusterConfig } from '../../../src/storage/kafka/kafka-config';
import { REPO_ROOT } from '../../helpers/proxy';
import { builtinStorages, schemas } from '../../helpers/schemas';

interface Row {
  name: string;
  accepted: boolean;
  /** The field path a refusal names. */
  refusedAt?: string;
  /** Fields reported as not used by this proxy. */
  unusedFields?: string[];
  node: Record<string, any>;
}

const fixture = (name: string): Row[] =>
  (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/ddmq-console', name), 'utf8')) as { rows: Row[] }).rows;
const PPROXY_PATH = '/pproxy/127.0.0.1:9613';
const data = (node: unknown) => Buffer.from(JSON.stringify(node));

function checkRow(row: Row, reading: ReturnType<typeof readPProxyNode> | ReturnType<typeof readTopicNode>): void {
  if (row.accepted) {
    assert.ok(reading.accepted, `${row.name}: accepted, got ${reading.accepted ? '' : reading.problems.join('; ')}`);
    assert.deepEqual(reading.unusedFields, row.unusedFields ?? [], `${row.name}: fields reported unused`);
  } else {
    assert.ok(!reading.accepted, `${row.name}: refused`);
    assert.ok(
      reading.problems.some((p) => p.includes(`${row.refusedAt}:`)),
      `${row.name}: a problem names ${row.refusedAt}, got ${reading.problems.join('; ')}`,
    );
  }
}

test("pproxy nodes: DDMQ's console row and its variants are accepted and refused as DDMQ's validate does", () => {
  const rows = fixture('pproxy-nodes.json');
  assert.ok(rows.length > 30);
  for (const row of rows) checkRow(row, readPProxyNode(PPROXY_PATH, data(row.node), builtinStorages.types));
});

test("topic nodes: the console's TopicConfig and its variants are accepted and refused as DDMQ's validate does", () => {
  for (const row of fixture('topic-nodes.json')) checkRow(row, readTopicNode(`/topic/${row.node['topic']}`, data(row.node)));
});

test('a node that is not JSON is refused', () => {
  const reading = readPProxyNode(PPROXY_PATH, Buffer.from('{"instance": '), builtinStorages.types);
  assert.equal(reading.accepted, false);
});

test("a switched-off type's clusters, accepted unchecked, get no producer (their topics answer 21)", () => {
  const logger = silentLogger();
  const byName = (name: string) => fixture('pproxy-nodes.json').find((r) => r.name.startsWith(name))!;
  const producers = (name: string) => {
    const reading = readPProxyNode(PPROXY_PATH, data(byName(name).node), builtinStorages.types);
    assert.ok(reading.accepted);
    return builtinStorages.clusterSpecs(reading.config.carreraConfiguration, '/nonexistent', logger).map((s) => `${s.name}:${s.kind}`);
  };
  assert.deepEqual(producers('useKafka false'), ['R_default:rocketmq']);
  assert.deepEqual(producers('useRocketmq false'), ['K_default:kafka']);
  assert.deepEqual(producers('Kafka only'), ['K_default:kafka']);
});

test('a Kafka cluster read from ZooKeeper keeps the values DDMQ gave it; what pproxy adds gets its defaults', () => {
  const row = fixture('pproxy-nodes.json').find((r) => r.name.startsWith('Kafka only'))!;
  const reading = readPProxyNode(PPROXY_PATH, data(row.node), builtinStorages.types);
  assert.ok(reading.accepted);
  const kafka = (reading.config.carreraConfiguration['kafkaConfigurationMap'] as Record<string, KafkaClusterConfig>)['K_default']!;
  assert.equal(kafka.acks, '1');
  assert.equal(kafka.clientId, 'carrera_kafka_producer');
  assert.equal(kafka.compression, 'none');
  assert.equal(reading.config.carreraConfiguration.kafkaProducers, 3);
});

test("what carrera.yaml (and pproxy zk's cluster file) leaves out is filled so that the node passes DDMQ's validate", () => {
  const minimal = schemas.strict.pproxyConfig.parse({
    instance: '127.0.0.1:9613',
    proxyCluster: 'P_demo',
    brokerClusters: ['K1', 'R1', 'L1'],
    carreraConfiguration: {
      useKafka: true,
      useRocketmq: true,
      useAutoBatch: true,
      kafkaConfigurationMap: { K1: { bootstrapServers: ['127.0.0.1:9092'] } },
      rocketmqConfigurationMap: { R1: { namesrvAddrs: ['127.0.0.1:8081'] } },
      localConfigurationMap: { L1: {} },
    },
  });
  const reading = readPProxyNode(PPROXY_PATH, data(minimal), builtinStorages.types);
  assert.ok(reading.accepted, reading.accepted ? '' : reading.problems.join('; '));
  assert.deepEqual(reading.config, minimal);
});

test("a local cluster's dir from ZooKeeper stays inside dataDir; carrera.yaml may name any path", () => {
  const node = (dir: string) => ({
    instance: '127.0.0.1:9613',
    proxyCluster: 'P_demo',
    brokerClusters: ['L1'],
    carreraConfiguration: { localConfigurationMap: { L1: { dir } } },
  });
  for (const inside of ['logs/L1', 'a/../b', './L1']) {
    const reading = readPProxyNode(PPROXY_PATH, data(schemas.strict.pproxyConfig.parse(node(inside))), builtinStorages.types);
    assert.ok(reading.accepted, `${inside}: ${reading.accepted ? '' : reading.problems.join('; ')}`);
  }
  for (const outside of ['/etc/pproxy', '../elsewhere', 'a/../../elsewhere', '..']) {
    assert.doesNotThrow(() => schemas.strict.pproxyConfig.parse(node(outside)), `carrera.yaml may say ${outside}`);
    const reading = readPProxyNode(PPROXY_PATH, data(schemas.strict.pproxyConfig.parse(node(outside))), builtinStorages.types);
    assert.equal(reading.accepted, false, `${outside} from ZooKeeper is refused`);
    assert.ok(
      !reading.accepted && reading.problems.some((p) => p.includes('carreraConfiguration.localConfigurationMap.L1.dir:') && p.includes('dataDir')),
      `${outside}: the problem names the field and why: ${reading.accepted ? '' : reading.problems.join('; ')}`,
    );
  }
});
