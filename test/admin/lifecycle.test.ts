/** The phases and readiness /ready reports, and the gauges that show them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lifecycle } from '../../src/admin/lifecycle';
import { silentLogger } from '../../src/log';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';

async function gauges(metrics: ProxyMetrics): Promise<string[]> {
  return (await metrics.render()).split('\n').filter((l) => /^pproxy_(ready|lifecycle_phase)\b/.test(l));
}

test('starting, serving, draining, stopping: readiness and gauges follow, and a stop never goes back', async () => {
  const metrics = new ProxyMetrics(true);
  const lifecycle = new Lifecycle(metrics.lifecycle, silentLogger());
  assert.deepEqual(lifecycle.readiness(), { ready: false, reason: 'starting: applying the configuration and warming up its clusters' });
  assert.deepEqual(await gauges(metrics), [
    'pproxy_ready 0',
    'pproxy_lifecycle_phase{phase="starting"} 1',
    'pproxy_lifecycle_phase{phase="serving"} 0',
    'pproxy_lifecycle_phase{phase="draining"} 0',
    'pproxy_lifecycle_phase{phase="stopping"} 0',
  ]);

  lifecycle.enter('serving');
  assert.deepEqual(lifecycle.readiness(), { ready: true });
  assert.ok((await gauges(metrics)).includes('pproxy_ready 1'));

  lifecycle.enter('draining');
  assert.deepEqual(lifecycle.readiness(), { ready: false, reason: 'stopping (draining)' });
  lifecycle.enter('serving'); // a late warm-up's end must not make a stopping proxy ready again
  assert.equal(lifecycle.phase, 'draining');
  lifecycle.enter('stopping');
  assert.deepEqual(await gauges(metrics), [
    'pproxy_ready 0',
    'pproxy_lifecycle_phase{phase="starting"} 0',
    'pproxy_lifecycle_phase{phase="serving"} 0',
    'pproxy_lifecycle_phase{phase="draining"} 0',
    'pproxy_lifecycle_phase{phase="stopping"} 1',
  ]);
});

test('serving but unbound in ZooKeeper: not ready, naming the node; ready once bound', () => {
  const metrics = new ProxyMetrics(true);
  const lifecycle = new Lifecycle(metrics.lifecycle, silentLogger());
  lifecycle.setWaitingFor('/carrera/v4/config/pproxy/10.0.0.1:9613');
  lifecycle.enter('serving');
  assert.deepEqual(lifecycle.readiness(), { ready: false, reason: 'not bound: waiting for ZooKeeper node /carrera/v4/config/pproxy/10.0.0.1:9613' });
  lifecycle.setWaitingFor(undefined);
  assert.deepEqual(lifecycle.readiness(), { ready: true });
});

test('a local-mode catalog exports no ZooKeeper series until a ZooKeeper source uses them', async () => {
  const metrics = new ProxyMetrics(true);
  assert.doesNotMatch(await metrics.render(), /^pproxy_zookeeper_\w+(\{[^}]*\})? /m);
  metrics.lifecycle.zookeeperConnected.set(1);
  metrics.lifecycle.zookeeperEvents.connected.inc();
  const text = await metrics.render();
  assert.match(text, /^pproxy_zookeeper_connected 1$/m);
  assert.match(text, /^pproxy_zookeeper_events_total\{event="connected"\} 1$/m);
  assert.match(text, /^pproxy_zookeeper_events_total\{event="expired"\} 0$/m);
});
