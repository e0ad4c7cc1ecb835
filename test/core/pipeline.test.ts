import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AutoBatcher } from '../../src/batch/auto-batcher';
import { schemas } from '../../src/config/schema';
import { emptyProducerMessage, type ProducerMessage } from '../../src/core/message';
import { ProducerPipeline, type PipelinePolicy } from '../../src/core/pipeline';
import { StorageBudgets } from '../../src/core/storage-budget';
import { buildRoutingTable } from '../../src/core/routing-table';
import { silentLogger } from '../../src/log';
import { ResultCode } from '../../src/protocol/result-codes';
import { TpsLimiter } from '../../src/ratelimit/tps-limiter';
import { FakeTimers, settle } from '../helpers/fake-timers';
import { stillAlive } from '../helpers/gc';
import { StorageDouble } from '../helpers/storage-double';

interface Setup {
  topic?: Record<string, unknown>;
  policy?: Partial<PipelinePolicy>;
  limiterTps?: number;
  lingerMs?: number;
  /** Each storage's budget (default: more than any test sends). */
  budgetBytes?: number;
}

async function setup(options: Setup = {}) {
  const timers = new FakeTimers();
  const double = new StorageDouble();
  const pproxy = schemas.strict.pproxyConfig.parse({
    proxyCluster: 'P',
    brokerClusters: ['C'],
    carreraConfiguration: { localConfigurationMap: { C: {} } },
  });
  const topic = schemas.strict.topicConfig.parse({ topic: 't', topicUnits: [{ brokerCluster: 'C' }], ...options.topic });
  const routing = await buildRoutingTable(pproxy, [topic], new Map([['C', double.storage]]), { instance: 'i', requireBinding: false });
  const limiter = options.limiterTps ? new TpsLimiter({ nodeMaxTps: 1e6, warningRatio: 1, topics: new Map([['t', options.limiterTps]]) }, timers.now) : undefined;
  const policy: PipelinePolicy = { limiter, limiterRetryQueueSize: 10, autoBatchThresholdBytes: undefined, ...options.policy };
  const budgets = new StorageBudgets(options.budgetBytes ?? Number.MAX_SAFE_INTEGER);
  const batcher = new AutoBatcher({ maxMessages: 100, maxBytes: 1e6, lingerMs: options.lingerMs ?? 0, maxInFlight: 1, urgencyMarginMs: 2 }, budgets, timers);
  const pipeline = new ProducerPipeline(routing, policy, { logger: silentLogger(), timers, random: () => 0.5, batcher, budgets });
  return { timers, double, pipeline };
}

const msg = (body = 'x'): ProducerMessage => ({ ...emptyProducerMessage(), topic: 't', body: Buffer.from(body) });

/** Tracks when a result arrives, in fake time. */
function track(result: ResultCode | Promise<ResultCode>, timers: FakeTimers) {
  const state: { code?: ResultCode; at?: number } = {};
  void Promise.resolve(result).then((code) => {
    state.code = code;
    state.at = timers.now();
  });
  return state;
}

test('a storage that does not answer gets one extra attempt 30 ms before the deadline, then 12 exactly at it', async () => {
  const { timers, double, pipeline } = await setup();
  const start = timers.now();
  const r = track(pipeline.sendSync(msg(), 100), timers);
  await timers.advance(69);
  assert.equal(double.sends.length, 1);
  await timers.advance(1);
  assert.equal(double.sends.length, 2, 'the extra attempt, at deadline - 30 ms');
  await timers.advance(29);
  assert.equal(r.code, undefined);
  await timers.advance(1);
  assert.deepEqual(r, { code: ResultCode.FAIL_TIMEOUT, at: start + 100 });
});

test('the extra attempt answers OK when it succeeds first; none for short timeouts or strongOrder topics', async () => {
  const first = await setup();
  const r = track(first.pipeline.sendSync(msg(), 100), first.timers);
  await first.timers.advance(70);
  first.double.answer('ok', 1); // the extra attempt; the first one is still waiting
  await settle();
  assert.deepEqual([r.code, r.at], [ResultCode.OK, first.timers.now()]);

  for (const s of [{ timeout: 59, topic: {} }, { timeout: 100, topic: { strongOrder: true } }]) {
    const { timers, double, pipeline } = await setup({ topic: s.topic });
    const res = track(pipeline.sendSync(msg(), s.timeout), timers);
    await timers.advance(s.timeout);
    assert.equal(double.sends.length, 1, `no extra attempt (${JSON.stringify(s)})`);
    assert.equal(res.code, ResultCode.FAIL_TIMEOUT);
  }
});

test('retriable failures are retried with backoff inside the deadline; non-retriable ones answer at once', async () => {
  const a = await setup();
  a.double.script.push({ code: 'UNAVAILABLE', retriable: true }, { code: 'UNAVAILABLE', retriable: true }, 'ok');
  const ok = track(a.pipeline.sendSync(msg(), 1000), a.timers);
  await a.timers.advance(20);
  assert.deepEqual([ok.code, a.double.sends.length], [ResultCode.OK, 3]);

  const b = await setup();
  b.double.script.push({ code: 'MESSAGE_TOO_LARGE', retriable: false });
  const illegal = track(b.pipeline.sendSync(msg(), 1000), b.timers);
  await settle();
  assert.deepEqual([illegal.code, b.double.sends.length], [ResultCode.FAIL_ILLEGAL_MSG, 1]);

  const c = await setup();
  for (let i = 0; i < 200; i++) c.double.script.push({ code: 'UNAVAILABLE', retriable: true });
  const gaveUp = track(c.pipeline.sendAsync(msg()), c.timers);
  await c.timers.advance(10_000);
  assert.equal(gaveUp.code, ResultCode.FAIL_UNKNOWN, 'the last failure once no time is left');
  assert.ok(c.double.sends.length > 5 && c.double.sends.length < 120, `${c.double.sends.length} attempts in 10 s`);
});

test('once a request is answered, its pending retries are not sent', async () => {
  const { timers, double, pipeline } = await setup();
  // attempts at 0, 5, 15 and 35 ms fail; the next would go at 75, the extra attempt goes at 70
  for (let i = 0; i < 4; i++) double.script.push({ code: 'UNAVAILABLE', retriable: true });
  const start = timers.now();
  const r = track(pipeline.sendSync(msg(), 100), timers);
  await timers.advance(70);
  assert.equal(double.sends.length, 5, 'four failed attempts and the extra one');
  await timers.advance(2);
  double.answer('ok', 4);
  await settle();
  assert.deepEqual([r.code, r.at! - start], [ResultCode.OK, 72]);
  await timers.advance(28);
  assert.equal(double.sends.length, 5, 'the retry due at 75 ms was dropped');
});

test('a refused request waits once, as limiterFailureRetryInterval says, then gets 15', async () => {
  const { timers, double, pipeline } = await setup({ limiterTps: 1 });
  double.script.push('ok', 'ok');
  assert.equal(await pipeline.sendSync(msg(), 100), ResultCode.OK, 'the bucket starts with one token');
  const refused = track(pipeline.sendSync(msg(), 100), timers);
  await timers.advance(89);
  assert.equal(refused.code, undefined, 'waiting min(timeout - 10, 100) = 90 ms');
  await timers.advance(1);
  assert.equal(refused.code, ResultCode.FAIL_REFUSED_BY_RATE_LIMITER);

  const later = await setup({ limiterTps: 20, topic: { limiterFailureRetryInterval: 60 } });
  later.double.script.push('ok', 'ok');
  assert.equal(await later.pipeline.sendSync(msg(), 1000), ResultCode.OK);
  const retried = track(later.pipeline.sendSync(msg(), 1000), later.timers);
  await later.timers.advance(60); // 20/s refills one token in 50 ms
  assert.equal(retried.code, ResultCode.OK, 'admitted on its deferred retry');

  // as in DDMQ, the deadline runs during the wait: when it comes first, 12 then, and no retry
  const long = await setup({ limiterTps: 1, topic: { limiterFailureRetryInterval: 200 } });
  long.double.script.push('ok');
  await long.pipeline.sendSync(msg(), 100);
  const start = long.timers.now();
  const expired = track(long.pipeline.sendSync(msg(), 100), long.timers);
  await long.timers.advance(300);
  assert.deepEqual([expired.code, expired.at! - start], [ResultCode.FAIL_TIMEOUT, 100]);
  assert.equal(long.double.sends.length, 1, 'the refused message was never sent');

  const none = await setup({ limiterTps: 1, topic: { limiterFailureRetryInterval: 0 } });
  none.double.script.push('ok');
  await none.pipeline.sendSync(msg(), 100);
  assert.equal(none.pipeline.sendSync(msg(), 100), ResultCode.FAIL_REFUSED_BY_RATE_LIMITER, 'interval 0: refused at once');
});

test('small messages of autoBatch topics share storage sends; others go alone', async () => {
  const { timers, double, pipeline } = await setup({ topic: { autoBatch: true }, policy: { autoBatchThresholdBytes: 10 }, lingerMs: 5 });
  const results = ['a', 'b', 'c'].map((b) => track(pipeline.sendSync(msg(b), 1000), timers));
  const big = track(pipeline.sendSync(msg('0123456789'), 1000), timers);
  await settle();
  assert.deepEqual(double.sizes, [1], 'the message at the threshold goes alone, at once');
  await timers.advance(5);
  assert.deepEqual(double.sizes, [1, 3]);
  double.answer('ok');
  double.answer('ok');
  await settle();
  assert.deepEqual([...results, big].map((r) => r.code), [0, 0, 0, 0]);
});

test('a request caught by a configuration swap completes on the new storage, not with 20', async () => {
  const { timers, double, pipeline } = await setup();
  double.script.push({ code: 'CLOSED', retriable: true });
  const replacement = new StorageDouble();
  replacement.script.push('ok');
  const pproxy = schemas.strict.pproxyConfig.parse({ proxyCluster: 'P', brokerClusters: ['C'], carreraConfiguration: { localConfigurationMap: { C: {} } } });
  const topic = schemas.strict.topicConfig.parse({ topic: 't', topicUnits: [{ brokerCluster: 'C' }] });
  const result = track(pipeline.sendSync(msg(), 1000), timers);
  await settle();
  pipeline.configure(await buildRoutingTable(pproxy, [topic], new Map([['C', replacement.storage]]), { instance: 'i', requireBinding: false }), {
    limiter: undefined,
    limiterRetryQueueSize: 10,
    autoBatchThresholdBytes: undefined,
  });
  await timers.advance(10);
  assert.equal(result.code, ResultCode.OK);
  assert.equal(replacement.sends.length, 1);
});

test('a batched message whose caller got 12 is let go at once, while the batch ahead of it is still out', async () => {
  const { timers, double, pipeline } = await setup({ topic: { autoBatch: true }, policy: { autoBatchThresholdBytes: 1000 } });
  const inFlight = track(pipeline.sendSync(msg('in flight'), 10_000), timers);
  const bodies: WeakRef<Buffer>[] = [];
  // in a function of its own, so that no variable of the test's suspended frame holds a message
  const sendLate = (i: number) => {
    const m = msg(`late-${i}`);
    bodies.push(new WeakRef(m.body!));
    // 50 ms: no extra attempt, which would go alone
    return track(pipeline.sendSync(m, 50), timers);
  };
  const late = Array.from({ length: 50 }, (_, i) => sendLate(i));
  await timers.advance(50);
  assert.deepEqual([...new Set(late.map((r) => r.code))], [ResultCode.FAIL_TIMEOUT]);
  assert.equal(await stillAlive(bodies), 0, 'no message answered 12 is held by the proxy');
  double.answer('ok');
  await settle();
  assert.equal(inFlight.code, ResultCode.OK);
  assert.deepEqual(double.sizes, [1], 'nor sent once the batch ahead returned');
});

test("past its storage's budget a message waits unsent, and one whose caller got 12 (its extra attempt too) is never sent", async () => {
  const { timers, double, pipeline } = await setup({ budgetBytes: 10 });
  const first = track(pipeline.sendSync(msg('0123456789'), 100), timers);
  const waiting = [1, 2, 3].map(() => track(pipeline.sendSync(msg('0123456789'), 100), timers));
  await timers.advance(100);
  assert.deepEqual([first, ...waiting].map((r) => r.code), [12, 12, 12, 12]);
  assert.equal(double.sends.length, 1, 'only the first message was handed to the storage');
  double.answer('ok');
  await settle();
  assert.equal(double.sends.length, 1, 'the bytes returned, and nothing withdrawn went after them');
  double.script.push('ok');
  assert.equal(await pipeline.sendSync(msg('0123456789'), 100), ResultCode.OK, 'the budget is free again');
});

test("a sendBatchSync waits for its storage's budget too, and is never sent once answered 12", async () => {
  const { timers, double, pipeline } = await setup({ budgetBytes: 10 });
  const single = track(pipeline.sendAsync(msg('0123456789')), timers);
  const batch = track(pipeline.sendBatch([msg('01234'), msg('56789')]), timers);
  await timers.advance(10_000);
  assert.deepEqual([single.code, batch.code], [ResultCode.FAIL_TIMEOUT, ResultCode.FAIL_TIMEOUT]);
  double.answer('ok');
  await settle();
  assert.deepEqual(double.sizes, [1], 'the batch was never handed to the storage');
  double.script.push('ok');
  assert.equal(await pipeline.sendBatch([msg('01234'), msg('56789')]), ResultCode.OK);
  assert.deepEqual(double.sizes, [1, 2]);
});
