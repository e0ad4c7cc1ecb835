/**
 * The admin listener of an in-process proxy: readiness, status and the configuration metrics
 * through a start, a refused reload, and a stop with a drain delay.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { stopBoundMs } from '../../src/app';
import { ProducerClient } from '../../src/client/producer-client';
import { DelayType } from '../../src/delay/delay-check';
import { localConfig, tempDir } from '../helpers/config';
import { memoryPluginSource, writePlugin } from '../helpers/plugin-files';
import { freePort } from '../helpers/ports';
import { REPO_ROOT, startProxy } from '../helpers/proxy';
import { storedMessages } from '../helpers/storage';
import { eventually } from '../helpers/wait';

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('/ready, /status and the configuration metrics of a local-mode proxy; a refused reload is counted', { timeout: 30_000 }, async (t) => {
  const adminPort = await freePort();
  const proxy = await startProxy(t, { extra: { adminPort } });
  const base = `http://127.0.0.1:${adminPort}`;
  await eventually(async () => ((await fetch(`${base}/ready`)).status === 200 ? true : undefined), 10_000, '/ready 200');

  const status = (await (await fetch(`${base}/status`)).json()) as Record<string, unknown>;
  assert.equal(status['instance'], `127.0.0.1:${proxy.port}`);
  assert.equal(status['mode'], 'local');
  assert.equal(status['configOrigin'], 'file');
  assert.equal(status['phase'], 'serving');
  assert.equal(status['ready'], true);
  assert.equal(status['configVersion'], 1, 'port 0: applied once more with the port known, still one version');
  assert.deepEqual(status['topics'], ['test', 'other']);
  assert.deepEqual(status['clusters'], [{ name: 'L_local', kind: 'local', state: 'ready' }]);
  assert.ok(Array.isArray(status['storagePlugins']));

  const before = await (await fetch(`${base}/metrics`)).text();
  assert.equal(sample(before, 'pproxy_ready'), 1);
  assert.equal(sample(before, 'pproxy_lifecycle_phase{phase="serving"}'), 1);
  assert.equal(sample(before, 'pproxy_config_versions_total{origin="file",outcome="applied"}'), 1);
  assert.equal(sample(before, 'pproxy_config_apply_duration_seconds_count'), 1);
  assert.equal(sample(before, 'pproxy_zookeeper_connected'), undefined, 'no ZooKeeper series in local mode');

  fs.writeFileSync(proxy.configFile, YAML.stringify({ ...localConfig({ extra: { adminPort } }), port: 'not a port' }));
  assert.equal(await proxy.app.reload(), false);
  const after = await (await fetch(`${base}/metrics`)).text();
  assert.equal(sample(after, 'pproxy_config_versions_total{origin="file",outcome="refused"}'), 1);
  assert.equal(sample(after, 'pproxy_config_versions_total{origin="file",outcome="applied"}'), 1);

  fs.writeFileSync(proxy.configFile, YAML.stringify(localConfig({ extra: { adminPort } })));
  assert.equal(await proxy.app.reload(), true);
  const reloaded = await (await fetch(`${base}/metrics`)).text();
  assert.equal(sample(reloaded, 'pproxy_config_versions_total{origin="file",outcome="applied"}'), 2);
  assert.equal(sample(reloaded, 'pproxy_config_apply_duration_seconds_count'), 2);
  assert.equal(((await (await fetch(`${base}/status`)).json()) as Record<string, unknown>)['configVersion'], 2);
});

test('a stop turns /ready 503 at once, accepts and answers for drainDelayMs, then refuses connections', { timeout: 30_000 }, async (t) => {
  const adminPort = await freePort();
  const proxy = await startProxy(t, { extra: { adminPort, drainDelayMs: 1500 } });
  const base = `http://127.0.0.1:${adminPort}`;
  await eventually(async () => ((await fetch(`${base}/ready`)).status === 200 ? true : undefined), 10_000, '/ready 200');

  const stopped = proxy.app.stop();
  const ready = await fetch(`${base}/ready`);
  assert.equal(ready.status, 503);
  assert.deepEqual(await ready.json(), { ready: false, reason: 'stopping (draining)' });
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.equal(sample(metrics, 'pproxy_ready'), 0);
  assert.equal(sample(metrics, 'pproxy_lifecycle_phase{phase="draining"}'), 1);

  // a client arriving during the delay is still served
  const late = await ProducerClient.connect('127.0.0.1', proxy.port);
  t.after(() => late.close());
  assert.equal((await late.sendSync({ topic: 'test', body: 'during the drain delay' }, 3000)).code, 0);
  await stopped;
  await assert.rejects(ProducerClient.connect('127.0.0.1', proxy.port), 'no longer accepting');
  await assert.rejects(fetch(`${base}/health`), 'the admin listener closes last');
});

test('a second stop during drainDelayMs skips the rest of the delay', { timeout: 30_000 }, async (t) => {
  const adminPort = await freePort();
  // far past the test's timeout: only the second stop can end it in time
  const proxy = await startProxy(t, { extra: { adminPort, drainDelayMs: 120_000 } });
  const base = `http://127.0.0.1:${adminPort}`;
  await eventually(async () => ((await fetch(`${base}/ready`)).status === 200 ? true : undefined), 10_000, '/ready 200');
  const stopped = proxy.app.stop();
  assert.deepEqual(await (await fetch(`${base}/ready`)).json(), { ready: false, reason: 'stopping (draining)' });
  const client = await ProducerClient.connect('127.0.0.1', proxy.port);
  t.after(() => client.close());
  assert.equal((await client.sendSync({ topic: 'test', body: 'still accepted' }, 3000)).code, 0);
  const again = proxy.app.stop();
  await Promise.all([stopped, again]);
  await assert.rejects(ProducerClient.connect('127.0.0.1', proxy.port), 'no longer accepting');
});

test('local Chronos delivers during drainDelayMs the delay messages that fall due in it', { timeout: 30_000 }, async (t) => {
  const adminPort = await freePort();
  const proxy = await startProxy(t, { topics: [{ topic: 'orders', delayTopic: true }, { topic: 'R_test_chronos_inner_0' }], extra: { adminPort, drainDelayMs: 120_000 } });
  await eventually(async () => ((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status === 200 ? true : undefined), 10_000, '/ready 200');
  const client = await proxy.client();
  const trigger = Math.ceil(Date.now() / 1000) + 1;
  const sent = await client.sendDelaySync({ topic: 'orders', action: 1, body: 'due in the delay', timestamp: BigInt(trigger), dmsgtype: DelayType.DELAY, uuid: randomUUID() });
  assert.equal(sent.code, 0);
  const stopped = proxy.app.stop();
  const bodies = await eventually(async () => {
    const stored = await storedMessages(proxy.dataDir, 'orders');
    return stored.length > 0 ? stored.map((m) => m.body.toString()) : undefined;
  }, 10_000, 'the delivery during the drain delay');
  assert.deepEqual(bodies, ['due in the delay']);
  await proxy.app.stop();
  await stopped;
});

test("control.sh's default stop timeout outlasts the longest stop of the shipped configuration", () => {
  const shipped = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, 'carrera.yaml'), 'utf8')) as { drainDelayMs: number; drainTimeoutMs: number };
  const script = fs.readFileSync(path.join(REPO_ROOT, 'control.sh'), 'utf8');
  const stopTimeoutS = Number(/^STOP_TIMEOUT=\$\{PPROXY_STOP_TIMEOUT:-(\d+)\}$/m.exec(script)?.[1]);
  const boundMs = stopBoundMs(shipped);
  assert.ok(stopTimeoutS * 1000 > boundMs, `control.sh kills after ${stopTimeoutS} s, a stop may take ${boundMs} ms`);
});

test('a cluster still warming past the 5 s bound: /ready 200 all the same, and /ready and /status name it', { timeout: 30_000 }, async (t) => {
  // a storage whose warm-up never ends (the guard would give up on it after 60 s)
  const plugin = writePlugin(tempDir(t), 'cold.js', memoryPluginSource({
    create: `(config, context) => ({
      cluster: context.cluster, kind: 'memory', maxMessageSize: undefined,
      async start() {},
      async send(messages) { return messages.map(() => ({ ok: true, partition: 0, offset: 0n })); },
      warmUp() { return new Promise(() => {}); },
      async close() {},
    })`,
  }));
  const adminPort = await freePort();
  await startProxy(t, {
    pluginClusters: { memoryConfigurationMap: { M_cold: {} } },
    topics: [{ topic: 'cold', clusters: ['M_cold'] }, { topic: 'test', clusters: ['L_local'] }],
    extra: { adminPort, storagePlugins: [plugin] },
  });
  const base = `http://127.0.0.1:${adminPort}`;
  const starting = await fetch(`${base}/ready`);
  assert.equal(starting.status, 503);
  assert.deepEqual(await starting.json(), { ready: false, reason: 'starting: applying the configuration and warming up its clusters', warming: ['M_cold'] });

  const ready = await eventually(async () => {
    const answer = await fetch(`${base}/ready`);
    return answer.status === 200 ? answer.json() : undefined;
  }, 15_000, '/ready 200 past the warm-up bound');
  assert.deepEqual(ready, { ready: true, warming: ['M_cold'] });
  const status = (await (await fetch(`${base}/status`)).json()) as Record<string, unknown>;
  assert.deepEqual([status['ready'], status['warming']], [true, ['M_cold']]);
  assert.deepEqual(status['clusters'], [{ name: 'L_local', kind: 'local', state: 'ready' }, { name: 'M_cold', kind: 'memory', state: 'warming' }]);
});
