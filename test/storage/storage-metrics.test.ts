/**
 * The storage metrics contract: a plugin's metrics are namespaced by its kind and labelled with the
 * cluster, families are shared by every storage of the kind (a rebuilt storage goes on counting),
 * a differing or malformed declaration throws, a retired cluster's series go, and with metrics off
 * nothing is exported. Rendered through prom-client, as GET /metrics renders them.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { configSchemas } from '../../src/config/schema';
import { silentLogger } from '../../src/log';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import { STORAGE_PLUGIN_API_VERSION, type StoragePlugin } from '../../src/storage/plugin-api';
import { exportedName } from '../../src/storage/storage-metrics';
import { StorageRegistry } from '../../src/storage/storage-registry';
import { outgoingMessage } from '../../src/storage/testing/outgoing-message';
import type { WarningLogger } from '../../src/throttled-warning';
import { sample } from '../helpers/metrics-exposition';

test('a storage metric is exported as pproxy_storage_<kind>_<name>, every series labelled with its cluster', async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['J1', 'J2']);
  const j1 = metrics.storages.forCluster('natsJetstream', 'J1', silentLogger());
  const j2 = metrics.storages.forCluster('natsJetstream', 'J2', silentLogger());
  j1.counter('publishes_total', 'Publishes.', ['code']).labels({ code: 'ok' }).inc(3);
  j2.counter('publishes_total', 'Publishes.', ['code']).labels({ code: 'ok' }).inc();
  const connected = j1.gauge('connected', 'Whether the connection is up.').labels();
  connected.set(1);
  const ack = j1.histogram('ack_duration_seconds', 'Publish to ack.', [0.01, 0.1]).labels();
  for (const seconds of [0.005, 0.05, 0.5]) ack.observe(seconds);
  const text = await metrics.render();
  assert.equal(exportedName('natsJetstream', 'publishes_total'), 'pproxy_storage_nats_jetstream_publishes_total');
  assert.equal(sample(text, 'pproxy_storage_nats_jetstream_publishes_total', { cluster: 'J1', code: 'ok' }), 3);
  assert.equal(sample(text, 'pproxy_storage_nats_jetstream_publishes_total', { cluster: 'J2', code: 'ok' }), 1);
  assert.equal(sample(text, 'pproxy_storage_nats_jetstream_connected', { cluster: 'J1' }), 1);
  assert.equal(sample(text, 'pproxy_storage_nats_jetstream_ack_duration_seconds_bucket', { cluster: 'J1', le: 0.01 }), 1);
  assert.equal(sample(text, 'pproxy_storage_nats_jetstream_ack_duration_seconds_bucket', { cluster: 'J1', le: 0.1 }), 2);
  assert.equal(sample(text, 'pproxy_storage_nats_jetstream_ack_duration_seconds_bucket', { cluster: 'J1', le: '+Inf' }), 3);
  assert.equal(sample(text, 'pproxy_storage_nats_jetstream_ack_duration_seconds_count', { cluster: 'J1' }), 3);
  assert.match(text, /# TYPE pproxy_storage_nats_jetstream_publishes_total counter/);
  assert.match(text, /# TYPE pproxy_storage_nats_jetstream_connected gauge/);
  assert.match(text, /# HELP pproxy_storage_nats_jetstream_ack_duration_seconds Publish to ack\./);
});

test('a child is resolved once: the same object for the same labels, counting with no lookup after', () => {
  const metrics = new ProxyMetrics(true);
  const storage = metrics.storages.forCluster('redis', 'R1', silentLogger());
  const family = storage.counter('writes_total', 'Writes.', ['code']);
  assert.equal(family.labels({ code: 'ok' }), family.labels({ code: 'ok' }));
  assert.notEqual(family.labels({ code: 'ok' }), family.labels({ code: 'TIMEOUT' }));
});

test('the simple form declares on first use (a counter gets its _total) and counts into the same namespaced series', async () => {
  const metrics = new ProxyMetrics(true);
  const storage = metrics.storages.forCluster('redis', 'R1', silentLogger());
  storage.increment('reconnects_total');
  storage.increment('reconnects', 2);
  storage.increment('failures_total', 1, { code: 'TIMEOUT' });
  storage.observe('flush_duration_seconds', 0.002);
  const text = await metrics.render();
  assert.equal(sample(text, 'pproxy_storage_redis_reconnects_total', { cluster: 'R1' }), 3);
  assert.equal(sample(text, 'pproxy_storage_redis_failures_total', { cluster: 'R1', code: 'TIMEOUT' }), 1);
  assert.equal(sample(text, 'pproxy_storage_redis_flush_duration_seconds_count', { cluster: 'R1' }), 1);
});

/** A WarningLogger keeping its warn lines. */
function warnings(): { logger: WarningLogger; lines: { fields: Record<string, unknown>; message: string }[] } {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  return { lines, logger: { warn: (fields, message) => lines.push({ fields: fields as Record<string, unknown>, message }), debug: () => undefined, isLevelEnabled: () => false } };
}

for (const enabled of [true, false]) {
  test(`the simple form never throws (metrics ${enabled ? 'on' : 'off'}): names are made valid, and a call breaking a rule counts nothing and is logged once`, async () => {
    const metrics = new ProxyMetrics(enabled);
    metrics.configure([], ['R1']);
    const { logger, lines } = warnings();
    const storage = metrics.storages.forCluster('redis', 'R1', logger);
    storage.increment('sendFailures');
    storage.increment('send.failures', 2);
    storage.increment('HTTPErrors');
    storage.observe('latencyMs', 12);
    assert.equal(lines.length, 0, 'names written before the rules are counted, under their snake-case spelling');
    storage.increment('failures_total', 1, { code: 'TIMEOUT' });
    for (let i = 0; i < 1000; i++) storage.increment('failures_total', 1, { reason: 'x' });
    storage.increment('failures', 1, { code: 42 as unknown as string });
    storage.increment('retries', -1);
    storage.observe('wait_seconds', Number.NaN);
    storage.observe('flush_total', 0.1);
    storage.increment('pproxy_writes');
    storage.increment('stored_total', 1, { cluster: 'other' });
    const problems = lines.map((l) => `${String(l.fields.metric)}: ${String(l.fields.problem)}`);
    // one line per metric: the 1,001 calls of failures_total that count nothing are one line now and a count later
    assert.equal(problems.length, 6, problems.join('\n'));
    assert.match(problems[0]!, /^pproxy_storage_redis_failures_total: has the labels \[code\], was given \[reason\]$/);
    assert.match(problems[1]!, /^pproxy_storage_redis_retries_total: the amount -1 is not a finite number >= 0$/);
    assert.match(problems[2]!, /wait_seconds: the value NaN is not a finite number/);
    assert.match(problems[3]!, /flush_total: .*only a counter has a name ending with _total/);
    assert.match(problems[4]!, /pproxy_writes_total: .*must not contain pproxy_/);
    assert.match(problems[5]!, /stored_total: .*the host adds the cluster label itself/);
    const text = await metrics.render();
    if (!enabled) {
      assert.equal(text.trim(), '');
      return;
    }
    assert.equal(sample(text, 'pproxy_storage_redis_send_failures_total', { cluster: 'R1' }), 3);
    assert.equal(sample(text, 'pproxy_storage_redis_http_errors_total', { cluster: 'R1' }), 1);
    assert.equal(sample(text, 'pproxy_storage_redis_latency_ms_count', { cluster: 'R1' }), 1);
    assert.equal(sample(text, 'pproxy_storage_redis_failures_total', { cluster: 'R1', code: 'TIMEOUT' }), 1);
    assert.doesNotMatch(text, /reason="x"|code="42"|pproxy_storage_redis_retries_total|wait_seconds|flush_total/);
  });
}

test('a storage whose send counts through the simple form with a label mismatch still stores its messages', async () => {
  const plugin: StoragePlugin = {
    apiVersion: STORAGE_PLUGIN_API_VERSION,
    kind: 'memory',
    version: '1',
    configSchema: ({ z }) => z.object({}),
    create: (_config, context) => ({
      kind: 'memory',
      cluster: context.cluster,
      maxMessageSize: undefined,
      start: async () => undefined,
      send: async (messages) => {
        context.metrics.increment('sendsDone', 1, { topic: messages[0]!.topic });
        context.metrics.increment('sendsDone');
        return messages.map(() => ({ ok: true, partition: 0, offset: 0n }));
      },
      close: async () => undefined,
    }),
  };
  const registry = StorageRegistry.of([{ plugin, source: 'test' }]);
  const conf = configSchemas(registry.types).strict.carreraConfiguration.parse({ memoryConfigurationMap: { M1: {} } });
  for (const enabled of [true, false]) {
    const [spec] = registry.clusterSpecs(conf, '/nonexistent', silentLogger(), new ProxyMetrics(enabled).storages);
    const storage = spec!.create();
    const outcomes = await storage.send([outgoingMessage({ topic: 'orders', body: Buffer.from('a') }), outgoingMessage({ topic: 'orders', body: Buffer.from('b') })]);
    assert.deepEqual(outcomes.map((o) => o.ok), [true, true]);
  }
});

test('names, labels and buckets that break the rules are refused with the rule', () => {
  const storage = new ProxyMetrics(true).storages.forCluster('redis', 'R1', silentLogger());
  const faults: [() => unknown, RegExp][] = [
    [() => storage.counter('writes', 'Writes.'), /a counter's name ends with _total/],
    [() => storage.gauge('open_total', 'Open.'), /only a counter has a name ending with _total/],
    [() => storage.counter('Writes_total', 'Writes.'), /lower snake case/],
    [() => storage.counter('writes-done_total', 'Writes.'), /lower snake case/],
    [() => storage.counter('pproxy_writes_total', 'Writes.'), /must not contain pproxy_/],
    [() => storage.counter('my_pproxy_writes_total', 'Writes.'), /must not contain pproxy_/],
    [() => storage.counter('writes_total', ''), /help must be a non-empty string/],
    [() => storage.counter('writes_total', 'Writes.', ['cluster']), /the host adds the cluster label itself/],
    [() => storage.counter('writes_total', 'Writes.', ['__name']), /is not a label name/],
    [() => storage.counter('writes_total', 'Writes.', ['Code']), /is not a label name/],
    [() => storage.counter('writes_total', 'Writes.', ['code', 'code']), /label code is listed twice/],
    [() => storage.histogram('write_seconds', 'Writes.', [1], ['le']), /le is the bucket label/],
    [() => storage.histogram('write_seconds', 'Writes.', []), /needs its bucket bounds/],
    [() => storage.histogram('write_seconds', 'Writes.', [1, 1]), /finite numbers, increasing/],
    [() => storage.histogram('write_seconds', 'Writes.', [1, Infinity]), /finite numbers, increasing/],
    [() => storage.histogram('write_seconds_count', 'Writes.', [1]), /does not end with _bucket, _sum, _count/],
  ];
  for (const [declare, fault] of faults) assert.throws(declare, fault);
  const family = storage.counter('writes_total', 'Writes.', ['code']);
  assert.throws(() => (family.labels as (v: object) => unknown)({}), /has the labels \[code\], was given \[\]/);
  assert.throws(() => (family.labels as (v: object) => unknown)({ code: 'ok', topic: 't' }), /was given \[code, topic\]/);
});

test('a storage rebuilt by a configuration change declares its families again and goes on counting', async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['R1']);
  const before = metrics.storages.forCluster('redis', 'R1', silentLogger());
  before.counter('writes_total', 'Writes.', ['code']).labels({ code: 'ok' }).inc(5);
  const after = metrics.storages.forCluster('redis', 'R1', silentLogger());
  after.counter('writes_total', 'Writes.', ['code']).labels({ code: 'ok' }).inc(2);
  metrics.configure([], ['R1']);
  assert.equal(sample(await metrics.render(), 'pproxy_storage_redis_writes_total', { cluster: 'R1', code: 'ok' }), 7);
});

test('a second declaration that differs is an error naming what differs', () => {
  const metrics = new ProxyMetrics(true);
  const storage = metrics.storages.forCluster('redis', 'R1', silentLogger());
  storage.counter('writes_total', 'Writes.', ['code']);
  storage.histogram('write_seconds', 'Write time.', [0.1, 1]);
  const other = metrics.storages.forCluster('redis', 'R2', silentLogger());
  assert.throws(() => other.counter('writes_total', 'Writes, differently.', ['code']), /pproxy_storage_redis_writes_total is declared again with a different help/);
  assert.throws(() => other.counter('writes_total', 'Writes.', ['reason']), /different labels \(\[reason\]; first declared \[code\]\)/);
  assert.throws(() => other.gauge('write_seconds', 'Write time.'), /different type \(gauge; first declared a histogram\)/);
  assert.throws(() => other.histogram('write_seconds', 'Write time.', [0.1, 2]), /different buckets/);
  // kinds `a` and `aB` spell one exported name for `b_x_total` and `x_total`
  metrics.storages.forCluster('a', 'A1', silentLogger()).counter('b_x_total', 'X.');
  assert.throws(() => metrics.storages.forCluster('aB', 'B1', silentLogger()).counter('x_total', 'X.'), /pproxy_storage_a_b_x_total .*different kind \(aB; first declared by the a storage\)/);
  // a kind named like a word of the proxy's own storage metrics
  assert.throws(() => metrics.storages.forCluster('messages', 'M1', silentLogger()).counter('stored_total', 'X.'), /pproxy_storage_messages_stored_total is a name the proxy already exports/);
});

test("a cluster that leaves the configuration takes its series along, and its closing storage counts nothing back", async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['R1', 'R2']);
  const r1 = metrics.storages.forCluster('redis', 'R1', silentLogger());
  const r2 = metrics.storages.forCluster('redis', 'R2', silentLogger());
  const r1Writes = r1.counter('writes_total', 'Writes.').labels();
  r1Writes.inc();
  r2.counter('writes_total', 'Writes.').labels().inc(4);
  metrics.configure([], ['R2']);
  r1Writes.inc();
  r1.increment('closes_total');
  r1.counter('writes_total', 'Writes.').labels().inc();
  let text = await metrics.render();
  assert.equal(sample(text, 'pproxy_storage_redis_writes_total', { cluster: 'R1' }), undefined);
  assert.equal(sample(text, 'pproxy_storage_redis_closes_total', { cluster: 'R1' }), undefined);
  assert.equal(sample(text, 'pproxy_storage_redis_writes_total', { cluster: 'R2' }), 4);
  // the same name configured again is a new cluster: it starts from nothing
  const again = metrics.storages.forCluster('redis', 'R1', silentLogger());
  again.counter('writes_total', 'Writes.').labels().inc();
  metrics.configure([], ['R1', 'R2']);
  text = await metrics.render();
  assert.equal(sample(text, 'pproxy_storage_redis_writes_total', { cluster: 'R1' }), 1);
});

test("a cluster whose kind changes drops the old kind's series", async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['C1']);
  metrics.storages.forCluster('redis', 'C1', silentLogger()).counter('writes_total', 'Writes.').labels().inc();
  metrics.storages.forCluster('local', 'C1', silentLogger()).counter('writes_total', 'Writes.').labels().inc(2);
  metrics.configure([], ['C1']);
  const text = await metrics.render();
  assert.equal(sample(text, 'pproxy_storage_redis_writes_total', { cluster: 'C1' }), undefined);
  assert.equal(sample(text, 'pproxy_storage_local_writes_total', { cluster: 'C1' }), 2);
});

test('metrics off: storages count nothing and nothing is exported, and declarations are still checked', async () => {
  const metrics = new ProxyMetrics(false);
  metrics.configure([], ['R1']);
  const storage = metrics.storages.forCluster('redis', 'R1', silentLogger());
  storage.counter('writes_total', 'Writes.').labels().inc();
  storage.gauge('open', 'Open.').labels().set(3);
  storage.increment('other_total');
  assert.equal((await metrics.render()).trim(), '');
  assert.throws(() => storage.counter('writes', 'Writes.'), /ends with _total/);
});

for (const enabled of [true, false]) {
  test(`a storage metric may not export a series name the proxy or another storage metric exports (metrics ${enabled ? 'on' : 'off'})`, () => {
    const storages = new ProxyMetrics(enabled).storages;
    const taken: [() => unknown, RegExp][] = [
      [() => storages.forCluster('messages', 'M1', silentLogger()).counter('stored_total', 'X.'), /pproxy_storage_messages_stored_total is a name the proxy already exports/],
      // a series of the proxy's histogram pproxy_storage_write_duration_seconds
      [() => storages.forCluster('write', 'W1', silentLogger()).gauge('duration_seconds_count', 'X.'), /pproxy_storage_write_duration_seconds_count is a name the proxy already exports/],
      [() => storages.forCluster('write', 'W1', silentLogger()).histogram('duration_seconds', 'X.', [1]), /pproxy_storage_write_duration_seconds is a name the proxy already exports/],
      // a gauge the proxy samples at each scrape
      [() => storages.forCluster('in', 'I1', silentLogger()).gauge('flight_bytes_limit', 'X.'), /pproxy_storage_in_flight_bytes_limit is a name the proxy already exports/],
    ];
    for (const [declare, fault] of taken) assert.throws(declare, fault);
    const redis = storages.forCluster('redis', 'R1', silentLogger());
    redis.histogram('flush_seconds', 'Flushes.', [1]);
    assert.throws(() => redis.gauge('flush_seconds_count', 'X.'), /pproxy_storage_redis_flush_seconds_count is a series of pproxy_storage_redis_flush_seconds/);
    redis.gauge('open_sum', 'Open.');
    assert.throws(() => redis.histogram('open', 'X.', [1]), /pproxy_storage_redis_open would export pproxy_storage_redis_open_sum, a series of pproxy_storage_redis_open_sum/);
  });
}

test("the registry gives each cluster's storage a context counting into the proxy's metrics", async () => {
  const plugin: StoragePlugin = {
    apiVersion: STORAGE_PLUGIN_API_VERSION,
    kind: 'memory',
    version: '1',
    configSchema: ({ z }) => z.object({}),
    create: (_config, context) => {
      const created = context.metrics.counter('storages_created_total', 'Storages created.').labels();
      created.inc();
      return { kind: 'memory', cluster: context.cluster, maxMessageSize: undefined, start: async () => undefined, send: async () => [], close: async () => undefined };
    },
  };
  const registry = StorageRegistry.of([{ plugin, source: 'test' }]);
  const conf = configSchemas(registry.types).strict.carreraConfiguration.parse({ memoryConfigurationMap: { M1: {}, M2: {} } });
  const metrics = new ProxyMetrics(true);
  for (const spec of registry.clusterSpecs(conf, '/nonexistent', silentLogger(), metrics.storages)) spec.create();
  metrics.configure([], ['M1', 'M2']);
  const text = await metrics.render();
  assert.equal(sample(text, 'pproxy_storage_memory_storages_created_total', { cluster: 'M1' }), 1);
  assert.equal(sample(text, 'pproxy_storage_memory_storages_created_total', { cluster: 'M2' }), 1);
});
