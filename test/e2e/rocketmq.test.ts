/**
 * RocketMQ storage end to end: the stock Thrift client -> pproxy -> the RocketMQ 5 proxy stand-in
 * (test/helpers/rocketmq-standin.ts, checked against the official client).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { REPO_ROOT } from '../helpers/proxy';
import { run } from '../helpers/run';
import { BROKERS, rmqConfig, rmqProxy, standIn } from '../helpers/rocketmq-proxy';
import { Code, RocketMqStandIn } from '../helpers/rocketmq-standin';

test('tags, keys, properties and a binary body reach RocketMQ exactly', { timeout: 30_000 }, async (t) => {
  const s = await standIn(t);
  const client = await rmqProxy(t, s, [{ topic: 'normal' }]);
  const body = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 13) & 0xff));
  const r = await client.sendSync({ topic: 'normal', body, key: 'order-9', tags: 'TagA', properties: { traceId: 't-1', region: 'eu' } });
  assert.equal(r.code, 0);
  const [entry] = s.stored;
  assert.deepEqual(entry!.body, body);
  assert.deepEqual([entry!.tag, entry!.keys, entry!.userProperties, entry!.messageGroup], ['TagA', ['order-9'], { traceId: 't-1', region: 'eu' }, undefined]);
});

test('strongOrder topic: each hashId keeps its send order on one queue; a normal topic spreads over all queues', { timeout: 60_000 }, async (t) => {
  const s = await standIn(t);
  const client = await rmqProxy(t, s, [{ topic: 'fifo', strongOrder: true }, { topic: 'normal' }]);
  const hashIds = [0n, 1n, -1n, 7n, -9n, 12_345n, -77_777n, 42n, 2n ** 63n - 1n, -(2n ** 63n)];
  // 10 sequences of 20, sent concurrently across hashIds and in order within each
  await Promise.all(
    hashIds.map(async (hashId) => {
      for (let n = 0; n < 20; n++) {
        const r = await client.sendSync({ topic: 'fifo', body: `${hashId}:${n}`, hashId, partitionId: -1 });
        assert.equal(r.code, 0, `hashId ${hashId} #${n}`);
      }
    }),
  );
  const fifo = s.stored.filter((e) => e.topic === 'fifo');
  assert.equal(fifo.length, 200);
  for (const hashId of hashIds) {
    const mine = fifo.filter((e) => e.body.toString().startsWith(`${hashId}:`));
    assert.deepEqual(mine.map((e) => Number(e.body.toString().split(':')[1])), [...Array(20).keys()], `order of hashId ${hashId}`);
    assert.equal(new Set(mine.map((e) => `${e.broker}/${e.queueId}`)).size, 1, `hashId ${hashId} on one queue`);
    assert.ok(mine.every((e) => e.messageGroup === `hash-${hashId}` && e.callSize === 1));
  }
  for (let i = 0; i < 200; i++) assert.equal((await client.sendSync({ topic: 'normal', body: `n${i}`, partitionId: -2 })).code, 0);
  const queues = new Set(s.stored.filter((e) => e.topic === 'normal').map((e) => `${e.broker}/${e.queueId}`));
  assert.equal(queues.size, 8, 'all 8 queues of both brokers');
});

test('concurrent small messages arrive as multi-message SendMessage calls', { timeout: 30_000 }, async (t) => {
  const s = await standIn(t);
  const client = await rmqProxy(t, s, [{ topic: 'normal', autoBatch: true }], {
    carreraConfiguration: { useRocketmq: true, useAutoBatch: true },
  });
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => client.sendSync({ topic: 'normal', body: `m${i}` }, 5000)));
  assert.deepEqual([...new Set(results.map((r) => r.code))], [0]);
  assert.equal(s.stored.length, 200);
  assert.ok(s.sendCalls.some((n) => n > 1), `some calls carried several messages: ${s.sendCalls.join(',')}`);
  assert.ok(s.sendCalls.length < 200);
});

test('RocketMQ errors map to result codes; an outage answers within the deadline and the proxy recovers', { timeout: 60_000 }, async (t) => {
  const s = await standIn(t, { maxBodySize: 1000 });
  const client = await rmqProxy(t, s, [{ topic: 'normal' }, { topic: 'ghost' }]);
  assert.equal((await client.sendSync({ topic: 'ghost', body: 'x' })).code, 14, 'TOPIC_NOT_FOUND');
  assert.equal((await client.sendSync({ topic: 'normal', body: Buffer.alloc(1001) })).code, 11, "over the server's published limit");
  s.failNext.push({ code: Code.TOO_MANY_REQUESTS, message: 'slow down' });
  assert.equal((await client.sendSync({ topic: 'normal', body: 'throttled-then-ok' })).code, 0, 'throttling is retried within the deadline');
  s.failNext.push({ code: Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, message: 'type mismatch' });
  assert.equal((await client.sendSync({ topic: 'normal', body: 'mismatch' })).code, 10);

  const port = Number(s.address.split(':')[1]);
  await s.stop();
  const started = Date.now();
  const during = await client.sendSync({ topic: 'normal', body: 'during-outage' }, 500);
  assert.ok(during.code === 10 || during.code === 12, `an error code, got ${during.code}`);
  assert.ok(Date.now() - started < 900, 'answered within the deadline');
  const back = new RocketMqStandIn({ brokers: BROKERS, topics: { normal: { type: 'NORMAL' } } });
  await back.start(port);
  t.after(() => back.stop());
  let recovered = false;
  for (let i = 0; i < 50 && !recovered; i++) {
    recovered = (await client.sendSync({ topic: 'normal', body: `after-${i}` }, 1000)).code === 0;
    if (!recovered) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(recovered, 'OK again once the endpoint is back');
  assert.ok(back.stored.length >= 1);
});

test('a RocketMQ endpoint stopped mid-way: sends go on through the next one listed', { timeout: 60_000 }, async (t) => {
  const first = await standIn(t);
  const second = await standIn(t);
  const client = await rmqProxy(t, first, [{ topic: 'normal' }], {
    rocketmqClusters: { R1: { namesrvAddrs: [first.address, second.address], protocol: 'grpc', sendMsgTimeout: 1000 } },
  });
  for (let i = 0; i < 5; i++) assert.equal((await client.sendSync({ topic: 'normal', body: `before-${i}` })).code, 0);
  assert.deepEqual([first.stored.length, second.stored.length], [5, 0], 'the first endpoint listed is used while it answers');
  await first.stop();
  for (let i = 0; i < 5; i++) assert.equal((await client.sendSync({ topic: 'normal', body: `after-${i}` }, 1000)).code, 0, `after-${i}`);
  assert.deepEqual(second.stored.map((e) => e.body.toString()), ['after-0', 'after-1', 'after-2', 'after-3', 'after-4']);
});

test('control.sh stop exits promptly after a RocketMQ outage', { timeout: 60_000 }, async (t) => {
  const s = await standIn(t);
  const dir = tempDir(t);
  const env = { ...process.env, PPROXY_RUN_DIR: path.join(dir, 'run'), PPROXY_LOG_DIR: path.join(dir, 'logs') };
  const control = (...args: string[]) => run(path.join(REPO_ROOT, 'control.sh'), args, { env, timeoutMs: 60_000 });
  t.after(() => control('stop'));
  assert.equal((await control('start', writeConfig(dir, localConfig(rmqConfig(s, [{ topic: 'normal' }]))))).status, 0);
  await s.stop();
  const started = Date.now();
  const stopped = await control('stop');
  assert.equal(stopped.status, 0, stopped.stdout);
  assert.match(stopped.stdout, /stopped/);
  assert.ok(Date.now() - started < 5000, `stopped in ${Date.now() - started} ms`);
});
