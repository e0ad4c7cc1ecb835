/**
 * A cluster is rebuilt when its settings change, and kept when they do not. Secrets serialise as
 * `[secret]` or as their `${env:..}` / `${file:..}` reference, so the rebuild key carries a keyed
 * hash of each: a new password alone, in a ZooKeeper node or behind an unchanged reference,
 * rebuilds the cluster, and the key never holds the password itself.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readPProxyNode } from '../../src/config/zookeeper/node-reading';
import { silentLogger } from '../../src/log';
import { tempDir } from '../helpers/config';
import { builtinStorages, schemas } from '../helpers/schemas';

const PPROXY_PATH = '/pproxy/127.0.0.1:9613';

/** The rebuild key of each cluster of a pproxy node as ZooKeeper would hold it. */
function keys(clusters: { kafka?: Record<string, unknown>; rocketmq?: Record<string, unknown> }): Map<string, string> {
  // the node as pproxy zk writes it, DDMQ's required keys filled in, then the secrets as given
  const node = JSON.parse(
    JSON.stringify(
      schemas.strict.pproxyConfig.parse({
        instance: '127.0.0.1:9613',
        proxyCluster: 'P_demo',
        brokerClusters: ['K1', 'R1'],
        carreraConfiguration: {
          useKafka: true,
          useRocketmq: true,
          kafkaConfigurationMap: { K1: { bootstrapServers: ['127.0.0.1:9092'] } },
          rocketmqConfigurationMap: { R1: { namesrvAddrs: ['127.0.0.1:8081'] } },
        },
      }),
    ),
  );
  Object.assign(node.carreraConfiguration.kafkaConfigurationMap.K1, clusters.kafka);
  Object.assign(node.carreraConfiguration.rocketmqConfigurationMap.R1, clusters.rocketmq);
  const reading = readPProxyNode(PPROXY_PATH, Buffer.from(JSON.stringify(node)), builtinStorages.types);
  assert.ok(reading.accepted, reading.accepted ? '' : reading.problems.join('; '));
  const specs = builtinStorages.clusterSpecs(reading.config.carreraConfiguration, '/nonexistent', silentLogger());
  return new Map(specs.map((spec) => [spec.name, spec.key]));
}

const sasl = (password: string) => ({ sasl: { mechanism: 'plain', username: 'u', password } });
const credentials = (secretKey: string) => ({ credentials: { accessKey: 'ak', secretKey } });

test('a new secret value alone rebuilds the cluster; the same value keeps it; the key holds no secret', () => {
  const before = keys({ kafka: sasl('first-password'), rocketmq: credentials('first-secret-key') });
  const same = keys({ kafka: sasl('first-password'), rocketmq: credentials('first-secret-key') });
  const newPassword = keys({ kafka: sasl('second-password'), rocketmq: credentials('first-secret-key') });
  const newSecretKey = keys({ kafka: sasl('first-password'), rocketmq: credentials('second-secret-key') });
  assert.deepEqual(same, before, 'nothing changed: both kept');
  assert.notEqual(newPassword.get('K1'), before.get('K1'), 'the Kafka cluster with a new password is rebuilt');
  assert.equal(newPassword.get('R1'), before.get('R1'), 'the other cluster is kept');
  assert.notEqual(newSecretKey.get('R1'), before.get('R1'), 'the RocketMQ cluster with a new secret key is rebuilt');
  assert.equal(newSecretKey.get('K1'), before.get('K1'));
  for (const key of [...before.values(), ...newPassword.values(), ...newSecretKey.values()]) {
    assert.ok(!/first-|second-/.test(key), `no secret in a rebuild key: ${key}`);
  }
});

test('the same ${file:..} reference to a file that now holds another password rebuilds the cluster', (t) => {
  const dir = tempDir(t, 'pproxy-rebuild-key-');
  const file = path.join(dir, 'password');
  fs.writeFileSync(file, 'first-password\n');
  const before = keys({ kafka: sasl(`\${file:${file}}`) });
  assert.equal(keys({ kafka: sasl(`\${file:${file}}`) }).get('K1'), before.get('K1'), 'the file unchanged: kept');
  fs.writeFileSync(file, 'second-password\n');
  assert.notEqual(keys({ kafka: sasl(`\${file:${file}}`) }).get('K1'), before.get('K1'), 'the file changed: rebuilt');
});
