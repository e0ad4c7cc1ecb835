import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BindingError, ConsoleBinding, fastjson, normalizeHost, proxyCluster } from '../../src/console/binding';
import { configSchemas } from '../../src/config/schema';
import { loadStorageRegistry } from '../../src/node-configuration';
import { withCarreraRoot } from '../../src/config/zookeeper/zk-client';

test("DDMQ's root is appended to a connect string that lacks it, after any chroot", () => {
  assert.equal(withCarreraRoot('127.0.0.1:2181'), '127.0.0.1:2181/carrera/v4/config');
  assert.equal(withCarreraRoot('a:1,b:2'), 'a:1,b:2/carrera/v4/config');
  assert.equal(withCarreraRoot('a:1/ddmq/'), 'a:1/ddmq/carrera/v4/config');
  assert.equal(withCarreraRoot('a:1/carrera/v4/config'), 'a:1/carrera/v4/config');
});

test('node JSON has its keys in alphabetical order at every level and leaves undefined out, as fastjson', () => {
  assert.equal(
    fastjson({ topic: 't', topicUnits: [{ proxies: { P_b: ['x'], P_a: [] }, brokerCluster: 'R' }], alarmGroup: undefined, autoBatch: false }),
    '{"autoBatch":false,"topic":"t","topicUnits":[{"brokerCluster":"R","proxies":{"P_a":[],"P_b":["x"]}}]}',
  );
});

test('hosts are ip:port, 9613 when the port is omitted; proxy clusters are P_<cluster>', () => {
  assert.equal(normalizeHost('10.0.0.1'), '10.0.0.1:9613');
  assert.equal(normalizeHost('10.0.0.1:9700'), '10.0.0.1:9700');
  assert.throws(() => normalizeHost('10.0.0.1:'), BindingError);
  assert.throws(() => normalizeHost('a b'), BindingError);
  assert.equal(proxyCluster('ddmq'), 'P_ddmq');
});

test('put-cluster writes a secret as its reference and refuses one given as a value, before writing anything', async () => {
  const { types } = loadStorageRegistry();
  process.env['PPROXY_BINDING_TEST_PW'] = 'value-never-written';
  const cluster = (password: string) => ({
    useKafka: true,
    kafkaProducers: 1,
    kafkaConfigurationMap: { K1: { bootstrapServers: ['h:9092'], sasl: { mechanism: 'plain', username: 'u', password } } },
  });
  const parsed = configSchemas(types).strict.carreraConfiguration.parse(cluster('${env:PPROXY_BINDING_TEST_PW}'));
  const written = fastjson(parsed);
  assert.match(written, /"password":"\$\{env:PPROXY_BINDING_TEST_PW\}"/);
  assert.ok(!written.includes('value-never-written'));
  const untouchable = new Proxy({}, { get: () => assert.fail('ZooKeeper touched') });
  const binding = new ConsoleBinding(untouchable as never, types);
  await assert.rejects(binding.putCluster('c', cluster('value-never-written')), (error: Error) => {
    assert.ok(error instanceof BindingError);
    assert.match(error.message, /kafkaConfigurationMap\.K1\.sasl\.password: a secret goes into ZooKeeper only as a \$\{env:NAME\} or \$\{file:\/path\} reference/);
    assert.ok(!error.message.includes('value-never-written'));
    return true;
  });
});
