/**
 * What the producer service counts per request: everything with metrics on, and with metrics off
 * nothing at all, not even a lookup of a message's topic.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { int64 } from '../../src/client/producer-client';
import type { ProducerPipeline } from '../../src/core/pipeline';
import type { DelaySender } from '../../src/delay/delay-sender';
import { Message } from '../../src/gen/producer_types';
import { silentLogger } from '../../src/log';
import { ProxyMetrics, UNSERVED_TOPIC } from '../../src/metrics/proxy-metrics';
import { DEFAULT_PROPERTY_LIMITS } from '../../src/core/property-limits';
import { ResultCode } from '../../src/protocol/result-codes';
import { PROXY_ITSELF } from '../../src/security/caller';
import { createProducerFrameHandler } from '../../src/server/producer-service';
import { sample } from '../helpers/metrics-exposition';
import { encodeWithStockClient } from '../helpers/stock-thrift';

const message = (topic: string) => Object.assign(new Message(), { topic, body: Buffer.from('12345') });

/** A sendSync to `t` and a sendBatchSync of 50 messages, 10 of them to `other`, through a service on `metrics`, answered OK. */
async function serve(metrics: ProxyMetrics) {
  const ok = () => ResultCode.OK;
  const pipeline = { sendSync: ok, sendAsync: ok, sendBatch: () => Promise.resolve(ResultCode.OK) } as unknown as ProducerPipeline;
  const handler = createProducerFrameHandler(pipeline, {} as DelaySender, silentLogger(), { propertyLimits: DEFAULT_PROPERTY_LIMITS }, metrics);
  let lookups = 0;
  const topic = metrics.topic.bind(metrics);
  metrics.topic = (name) => (lookups++, topic(name));
  const batch = Array.from({ length: 50 }, (_, i) => message(i < 40 ? 't' : 'other'));
  await handler(encodeWithStockClient((c) => c.sendSync(message('t'), int64(1000n))), 0, PROXY_ITSELF);
  await handler(encodeWithStockClient((c) => c.sendBatchSync(batch)), 0, PROXY_ITSELF);
  return lookups;
}

test('with metrics off the service counts nothing per message: no topic is looked up', async () => {
  assert.equal(await serve(new ProxyMetrics(false)), 0);
});

test("with metrics on a batch's messages count under their own topics, its answer for each of them", async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure(['t'], []);
  assert.ok((await serve(metrics)) > 0);
  const text = await metrics.render();
  const batch = (name: string, topic: string, code?: string) => sample(text, name, { method: 'sendBatchSync', topic, ...(code && { code }) });
  assert.deepEqual(
    [batch('pproxy_messages_received_total', 't'), batch('pproxy_messages_received_total', UNSERVED_TOPIC)],
    [40, 10],
  );
  assert.deepEqual(
    [batch('pproxy_messages_answered_total', 't', '0'), batch('pproxy_messages_answered_total', UNSERVED_TOPIC, '0')],
    [40, 10],
  );
  assert.equal(sample(text, 'pproxy_messages_answered_total', { method: 'sendSync', topic: 't', code: '0' }), 1);
  assert.equal(sample(text, 'pproxy_request_duration_seconds_count', { method: 'sendBatchSync', topic: 't' }), 1);
});
