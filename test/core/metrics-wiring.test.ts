/**
 * The proxy counts its core metrics under the topics and clusters it is configured with: the
 * limiter a configuration builds resolves the children of that configuration's topics, also of a
 * topic a reload adds.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { UNSERVED_TOPIC } from '../../src/metrics/proxy-metrics';
import { localConfig, writeConfig, type LocalConfigOptions } from '../helpers/config';
import { sample } from '../helpers/metrics-exposition';
import { freePort } from '../helpers/ports';
import { startProxy } from '../helpers/proxy';

test('a running proxy counts the limiter and its storage sends under its configured topic and cluster, also a topic a reload adds', async (t) => {
  const options: LocalConfigOptions = {
    topics: [{ topic: 'test', autoBatch: true }],
    carreraConfiguration: { useRequestLimiter: true, useAutoBatch: true },
    extra: { adminPort: await freePort() },
  };
  const proxy = await startProxy(t, options);
  const client = await proxy.client();
  for (const body of ['a', 'b', 'c']) assert.equal((await client.sendSync({ topic: 'test', body }, 5000)).code, 0);

  writeConfig(path.dirname(proxy.configFile), localConfig({ ...options, topics: [{ topic: 'test' }, { topic: 'added' }] }));
  assert.equal(await proxy.app.reload(), true);
  assert.equal((await client.sendSync({ topic: 'added', body: 'd' }, 5000)).code, 0);

  const text = await proxy.app.metrics.render();
  assert.equal(sample(text, 'pproxy_rate_limit_admitted_total', { topic: 'test' }), 3);
  assert.equal(sample(text, 'pproxy_rate_limit_admitted_total', { topic: 'added' }), 1, 'the new limiter knows the new topic');
  assert.equal(sample(text, 'pproxy_rate_limit_admitted_total', { topic: UNSERVED_TOPIC }), 0);
  assert.equal(sample(text, 'pproxy_storage_messages_stored_total', { cluster: 'L_local' }), 4);
  assert.equal(sample(text, 'pproxy_batch_messages_sum', { cluster: 'L_local' }), 4);
  assert.equal(sample(text, 'pproxy_storage_write_duration_seconds_count', { cluster: 'L_local' }), sample(text, 'pproxy_batch_messages_count', { cluster: 'L_local' }));
  assert.equal(sample(text, 'pproxy_storage_in_flight_bytes', { cluster: 'L_local' }), 0);
  assert.equal(sample(text, 'pproxy_storage_in_flight_bytes_limit'), 16 * 1024 * 1024);
  assert.equal(sample(text, 'pproxy_rate_limit_deferred_queue_size'), 1024, 'limiterFailureRetryQueueSize');
});
