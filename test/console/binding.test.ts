import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BindingError, fastjson, normalizeHost, proxyCluster } from '../../src/console/binding';
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
