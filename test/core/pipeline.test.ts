import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AutoBatcher } from '../../src/batch/auto-batcher';
import { schemas } from '../helpers/schemas';
import { emptyProducerMessage, type ProducerMessage } from '../../src/core/message';
import { ProducerPipeline, type PipelinePolicy } from '../../src/core/pipeline';
import { StorageBudgets } from '../../src/core/storage-budget';
import { buildRoutingTable } from '../../src/core/routing-table';
import { silentLogger } from '../../src/log';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import { ResultCode } from '../../src/protocol/result-codes';
import { TpsLimiter } from '../../src/ratelimit/tps-limiter';
import { FakeTimers, settle } from '../helpers/fake-timers';
import { stillAlive } from '../helpers/gc';
import { sample } from '../helpers/metrics-exposition';
import { StorageDouble, storageSending } from '../helpers/storage-double';
import type { ClusterStorage, OutgoingMessage } from '../../src/storage/storage';
import { callerOf } from '../../src/security/caller';

/** A plain-TCP client from loopback, as the server hands its connections to the pipeline. */
const ANY_CLIENT = callerOf('127.0.0.1', []);

interface Setup {
  topic?: Record<string, unknown>;
  policy?: Partial<PipelinePolicy>;
  limiterTps?: number;
  /** The limiter's tpsWarningRatio (default 1: no warning part). */
  warningRatio?: number;
  lingerMs?: number;
  /** Each storage's budget (default: more than any test sends). */
  budgetBytes?: number;
  /** Cluster C's storage (default: the double's). */
  storage?: ClusterStorage;
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
  const routing = await buildRoutingTable(pproxy, [topic], new Map([['C', options.storage ?? double.storage]]), { instance: 'i', requireBinding: false });
  const metrics = new ProxyMetrics(true);
  metrics.configure(['t'], ['C']);
  const limits = { nodeMaxTps: 1e6, warningRatio: options.warningRatio ?? 1, topics: new Map([['t', options.limiterTps ?? 0]]) };
  const limiter = options.limiterTps ? new TpsLimiter(limits, timers.now, metrics) : undefined;
  const policy: PipelinePolicy = { limiter, limiterRetryQueueSize: 10, autoBatchThresholdBytes: undefined, ...options.policy };
  const budgets = new StorageBudgets(options.budgetBytes ?? Number.MAX_SAFE_INTEGER, { metrics, clock: timers.now });
  const batcher = new AutoBatcher({ maxMessages: 100, maxBytes: 1e6, lingerMs: options.lingerMs ?? 0, maxInFlight: 1, urgencyMarginMs: 2 }, budgets, timers);
  const pipeline = new ProducerPipeline(routing, policy, { logger: silentLogger(), timers, random: () => 0.5, batcher, budgets, metrics });
  /** The sample `name{labels}` of the exposition now. */
  const metric = async (name: string, labels: Record<string, string | number> = {}) => sample(await metrics.render(), name, labels);
  return { timers, double, pipeline, limiter, metric };
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
  const r = track(pipeline.sendSync(msg(), 100, ANY_CLIENT), timers);
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
  const r = track(first.pipeline.sendSync(msg(), 100, ANY_CLIENT), first.timers);
  await first.timers.advance(70);
  first.double.answer('ok', 1); // the extra attempt; the first one is still waiting
  await settle();
  assert.deepEqual([r.code, r.at], [ResultCode.OK, first.timers.now()]);

  for (const s of [{ timeout: 59, topic: {} }, { timeout: 100, topic: { strongOrder: true } }]) {
    const { timers, double, pipeline } = await setup({ topic: s.topic });
    const res = track(pipeline.sendSync(msg(), s.timeout, ANY_CLIENT), timers);
    await timers.advance(s.timeout);
    assert.equal(double.sends.length, 1, `no extra attempt (${JSON.stringify(s)})`);
    assert.equal(res.code, ResultCode.FAIL_TIMEOUT);
  }
});

test('retriable failures are retried with backoff inside the deadline; non-retriable ones answer at once', async () => {
  const a = await setup();
  a.double.script.push({ code: 'UNAVAILABLE', retriable: true }, { code: 'UNAVAILABLE', retriable: true }, 'ok');
  const ok = track(a.pipeline.sendSync(msg(), 1000, ANY_CLIENT), a.timers);
  await a.timers.advance(20);
  assert.deepEqual([ok.code, a.double.sends.length], [ResultCode.OK, 3]);

  const b = await setup();
  b.double.script.push({ code: 'MESSAGE_TOO_LARGE', retriable: false });
  const illegal = track(b.pipeline.sendSync(msg(), 1000, ANY_CLIENT), b.timers);
  await settle();
  assert.deepEqual([illegal.code, b.double.sends.length], [ResultCode.FAIL_ILLEGAL_MSG, 1]);

  const c = await setup();
  for (let i = 0; i < 200; i++) c.double.script.push({ code: 'UNAVAILABLE', retriable: true });
  const gaveUp = track(c.pipeline.sendAsync(msg(), ANY_CLIENT), c.timers);
  await c.timers.advance(10_000);
  assert.equal(gaveUp.code, ResultCode.FAIL_UNKNOWN, 'the last failure once no time is left');
  assert.ok(c.double.sends.length > 5 && c.double.sends.length < 120, `${c.double.sends.length} attempts in 10 s`);
});

test('once a request is answered, its pending retries are not sent', async () => {
  const { timers, double, pipeline } = await setup();
  // attempts at 0, 5, 15 and 35 ms fail; the next would go at 75, the extra attempt goes at 70
  for (let i = 0; i < 4; i++) double.script.push({ code: 'UNAVAILABLE', retriable: true });
  const start = timers.now();
  const r = track(pipeline.sendSync(msg(), 100, ANY_CLIENT), timers);
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
  assert.equal(await pipeline.sendSync(msg(), 100, ANY_CLIENT), ResultCode.OK, 'the bucket starts with one token');
  const refused = track(pipeline.sendSync(msg(), 100, ANY_CLIENT), timers);
  await timers.advance(89);
  assert.equal(refused.code, undefined, 'waiting min(timeout - 10, 100) = 90 ms');
  await timers.advance(1);
  assert.equal(refused.code, ResultCode.FAIL_REFUSED_BY_RATE_LIMITER);

  const later = await setup({ limiterTps: 20, topic: { limiterFailureRetryInterval: 60 } });
  later.double.script.push('ok', 'ok');
  assert.equal(await later.pipeline.sendSync(msg(), 1000, ANY_CLIENT), ResultCode.OK);
  const retried = track(later.pipeline.sendSync(msg(), 1000, ANY_CLIENT), later.timers);
  await later.timers.advance(60); // 20/s refills one token in 50 ms
  assert.equal(retried.code, ResultCode.OK, 'admitted on its deferred retry');

  // as in DDMQ, the deadline runs during the wait: when it comes first, 12 then, and no retry
  const long = await setup({ limiterTps: 1, topic: { limiterFailureRetryInterval: 200 } });
  long.double.script.push('ok');
  await long.pipeline.sendSync(msg(), 100, ANY_CLIENT);
  const start = long.timers.now();
  const expired = track(long.pipeline.sendSync(msg(), 100, ANY_CLIENT), long.timers);
  await long.timers.advance(300);
  assert.deepEqual([expired.code, expired.at! - start], [ResultCode.FAIL_TIMEOUT, 100]);
  assert.equal(long.double.sends.length, 1, 'the refused message was never sent');

  const none = await setup({ limiterTps: 1, topic: { limiterFailureRetryInterval: 0 } });
  none.double.script.push('ok');
  await none.pipeline.sendSync(msg(), 100, ANY_CLIENT);
  assert.equal(none.pipeline.sendSync(msg(), 100, ANY_CLIENT), ResultCode.FAIL_REFUSED_BY_RATE_LIMITER, 'interval 0: refused at once');
});

test('small messages of autoBatch topics share storage sends; others go alone', async () => {
  const { timers, double, pipeline } = await setup({ topic: { autoBatch: true }, policy: { autoBatchThresholdBytes: 10 }, lingerMs: 5 });
  const results = ['a', 'b', 'c'].map((b) => track(pipeline.sendSync(msg(b), 1000, ANY_CLIENT), timers));
  const big = track(pipeline.sendSync(msg('0123456789'), 1000, ANY_CLIENT), timers);
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
  const result = track(pipeline.sendSync(msg(), 1000, ANY_CLIENT), timers);
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
  const inFlight = track(pipeline.sendSync(msg('in flight'), 10_000, ANY_CLIENT), timers);
  const bodies: WeakRef<Buffer>[] = [];
  // in a function of its own, so that no variable of the test's suspended frame holds a message
  const sendLate = (i: number) => {
    const m = msg(`late-${i}`);
    bodies.push(new WeakRef(m.body!));
    // 50 ms: no extra attempt, which would go alone
    return track(pipeline.sendSync(m, 50, ANY_CLIENT), timers);
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
  const first = track(pipeline.sendSync(msg('0123456789'), 100, ANY_CLIENT), timers);
  const waiting = [1, 2, 3].map(() => track(pipeline.sendSync(msg('0123456789'), 100, ANY_CLIENT), timers));
  await timers.advance(100);
  assert.deepEqual([first, ...waiting].map((r) => r.code), [12, 12, 12, 12]);
  assert.equal(double.sends.length, 1, 'only the first message was handed to the storage');
  double.answer('ok');
  await settle();
  assert.equal(double.sends.length, 1, 'the bytes returned, and nothing withdrawn went after them');
  double.script.push('ok');
  assert.equal(await pipeline.sendSync(msg('0123456789'), 100, ANY_CLIENT), ResultCode.OK, 'the budget is free again');
});

test("a sendBatchSync waits for its storage's budget too, and is never sent once answered 12", async () => {
  const { timers, double, pipeline } = await setup({ budgetBytes: 10 });
  const single = track(pipeline.sendAsync(msg('0123456789'), ANY_CLIENT), timers);
  const batch = track(pipeline.sendBatch([msg('01234'), msg('56789')], ANY_CLIENT), timers);
  await timers.advance(10_000);
  assert.deepEqual([single.code, batch.code], [ResultCode.FAIL_TIMEOUT, ResultCode.FAIL_TIMEOUT]);
  double.answer('ok');
  await settle();
  assert.deepEqual(double.sizes, [1], 'the batch was never handed to the storage');
  double.script.push('ok');
  assert.equal(await pipeline.sendBatch([msg('01234'), msg('56789')], ANY_CLIENT), ResultCode.OK);
  assert.deepEqual(double.sizes, [1, 2]);
});

test("a cluster's own message rule answers 11 before anything is sent, so a sendBatchSync holding such a message stores none", async () => {
  const { double, pipeline } = await setup();
  (double.storage as { illegalMessageReason?: (m: OutgoingMessage) => string | undefined }).illegalMessageReason = (m) =>
    m.properties?.has('bad name') ? 'property name "bad name" cannot be a header' : undefined;
  const bad: ProducerMessage = { ...msg('b'), properties: new Map([['bad name', 'v']]) };
  assert.equal(await pipeline.sendSync(bad, 1000, ANY_CLIENT), ResultCode.FAIL_ILLEGAL_MSG);
  assert.equal(await pipeline.sendBatch([msg('a'), bad, msg('c')], ANY_CLIENT), ResultCode.FAIL_ILLEGAL_MSG);
  assert.equal(double.sends.length, 0);
  double.script.push('ok');
  assert.equal(await pipeline.sendSync(msg('good'), 1000, ANY_CLIENT), ResultCode.OK);
  assert.deepEqual(double.sizes, [1]);
});

/**
 * Runs `body` and returns what escaped it as an uncaught exception or unhandled rejection: in the
 * proxy, either exits the process (main.ts).
 */
async function escapes(body: () => Promise<void>): Promise<unknown[]> {
  const escaped: unknown[] = [];
  const record = (err: unknown) => escaped.push(err);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  try {
    await body();
    await settle();
  } finally {
    process.off('uncaughtException', record);
    process.off('unhandledRejection', record);
  }
  return escaped;
}

/** The answers of `requests`, as they stand once pending promise callbacks have run: a code, a rejection, or none yet. */
async function answersOf(requests: (ResultCode | Promise<ResultCode>)[]): Promise<(ResultCode | string)[]> {
  const answers: (ResultCode | string)[] = requests.map(() => 'no answer');
  requests.forEach((request, i) =>
    Promise.resolve(request).then(
      (code) => (answers[i] = code),
      (err: unknown) => (answers[i] = `rejected: ${String(err)}`),
    ),
  );
  await settle();
  return answers;
}

test('a storage that resolves with no outcome array, or with unusable outcomes, gets its callers answered 10 at once, and nothing escapes', async () => {
  const answers: Record<string, unknown> = {
    'no array': undefined,
    'a null outcome': [null],
    'an empty object': [{}],
    'a failure without error': [{ ok: false }],
    'a failure of an unknown code': [{ ok: false, error: { code: 'NO_SUCH_CODE', message: 'm', retriable: false } }],
    'a frozen empty array': Object.freeze([]),
  };
  for (const [name, answer] of Object.entries(answers)) {
    const storage = storageSending(async () => answer);
    const { pipeline } = await setup({ storage });
    let codes: (ResultCode | string)[] = [];
    const escaped = await escapes(async () => {
      codes = await answersOf([pipeline.sendSync(msg(), 1000, ANY_CLIENT), pipeline.sendAsync(msg(), ANY_CLIENT), pipeline.sendBatch([msg()], ANY_CLIENT)]);
    });
    assert.deepEqual(codes, [ResultCode.FAIL_UNKNOWN, ResultCode.FAIL_UNKNOWN, ResultCode.FAIL_UNKNOWN], name);
    assert.deepEqual(escaped.map(String), [], name);
  }
});

test('a storage whose send throws gets its callers answered 10, gives its budget back, and nothing escapes, on every path', async () => {
  let throwing = true;
  const sends: number[] = [];
  const storage = storageSending((messages) => {
    sends.push(messages.length);
    if (throwing) throw new Error('send threw');
    return Promise.resolve(messages.map(() => ({ ok: true, partition: 0, offset: 0n })));
  });
  // a budget of one message: bytes a throwing send kept would hold back every later send
  const { pipeline } = await setup({ storage, budgetBytes: 1 });
  const codes: (ResultCode | string)[] = [];
  const escaped = await escapes(async () => {
    for (const send of [() => pipeline.sendSync(msg(), 1000, ANY_CLIENT), () => pipeline.sendAsync(msg(), ANY_CLIENT), () => pipeline.sendBatch([msg()], ANY_CLIENT)]) {
      // one at a time: each must have given its byte back for the next to be sent
      codes.push(...(await answersOf([send()])));
    }
    throwing = false;
    codes.push(...(await answersOf([pipeline.sendSync(msg(), 1000, ANY_CLIENT)])));
  });
  assert.deepEqual(codes, [ResultCode.FAIL_UNKNOWN, ResultCode.FAIL_UNKNOWN, ResultCode.FAIL_UNKNOWN, ResultCode.OK]);
  assert.deepEqual(sends, [1, 1, 1, 1], 'each answered at once, without a retry');
  assert.deepEqual(escaped.map(String), []);
});

test("an auto-batch queue whose storage's send threw sends the next batch; its members are answered 10", async () => {
  let throwing = true;
  const sends: number[] = [];
  const storage = storageSending((messages) => {
    sends.push(messages.length);
    if (throwing) throw new Error('send threw');
    return Promise.resolve(messages.map(() => ({ ok: true, partition: 0, offset: 0n })));
  });
  // one batch in flight at a time (setup's maxInFlight): a slot the throw kept would stop the queue for good
  const { timers, pipeline } = await setup({ storage, topic: { autoBatch: true }, policy: { autoBatchThresholdBytes: 1000 } });
  const codes: (ResultCode | string)[] = [];
  const escaped = await escapes(async () => {
    // 50 ms: no extra attempt, which would go alone, past the queue
    codes.push(...(await answersOf([pipeline.sendSync(msg(), 50, ANY_CLIENT)])));
    await timers.advance(50);
    throwing = false;
    codes.push(...(await answersOf([pipeline.sendSync(msg(), 50, ANY_CLIENT)])));
  });
  assert.deepEqual(codes, [ResultCode.FAIL_UNKNOWN, ResultCode.OK]);
  assert.deepEqual(sends, [1, 1]);
  assert.deepEqual(escaped.map(String), []);
});

test('the limiter counts per topic what it admitted, from its warning part, refused with 15, and deferred; its waiting retries are a gauge against the queue size', async () => {
  // the topic's 2/s: 1/s normal, 1/s warning part; one deferred retry may wait, for 1 s
  const { timers, double, pipeline, limiter, metric } = await setup({
    limiterTps: 2,
    warningRatio: 0.5,
    topic: { limiterFailureRetryInterval: 1000 },
    policy: { limiterRetryQueueSize: 1 },
  });
  double.script.push('ok', 'ok', 'ok');
  await timers.advance(1000); // every part full
  const t = { topic: 't' };
  assert.equal(await pipeline.sendSync(msg(), 3000, ANY_CLIENT), ResultCode.OK);
  assert.equal(await pipeline.sendSync(msg(), 3000, ANY_CLIENT), ResultCode.OK, 'from the warning part');
  const deferred = track(pipeline.sendSync(msg(), 3000, ANY_CLIENT), timers);
  assert.equal(pipeline.sendSync(msg(), 3000, ANY_CLIENT), ResultCode.FAIL_REFUSED_BY_RATE_LIMITER, 'the retry queue is full');
  await settle();
  assert.deepEqual(
    [
      await metric('pproxy_rate_limit_admitted_total', t),
      await metric('pproxy_rate_limit_warning_total', t),
      await metric('pproxy_rate_limit_refused_total', t),
      await metric('pproxy_rate_limit_deferred_total', t),
      await metric('pproxy_rate_limit_deferred_waiting'),
      await metric('pproxy_rate_limit_deferred_queue_size'),
    ],
    [2, 1, 1, 1, 1, 1],
  );
  await timers.advance(1000);
  assert.equal(deferred.code, ResultCode.OK, 'admitted on its deferred retry');
  assert.deepEqual(
    [await metric('pproxy_rate_limit_admitted_total', t), await metric('pproxy_rate_limit_refused_total', t), await metric('pproxy_rate_limit_deferred_waiting')],
    [3, 1, 0],
  );
  // the 10 s log line still counts every refusal of the limiter, as DDMQ's does
  assert.deepEqual(limiter!.drainCounts().get('t'), { warn: 1, refused: 2 });
});

test('a deferred request refused again on its retry counts as refused once; a refused sendBatchSync counts each of its messages', async () => {
  const { timers, double, pipeline, metric } = await setup({ limiterTps: 1, topic: { limiterFailureRetryInterval: 50 } });
  double.script.push('ok');
  assert.equal(await pipeline.sendSync(msg(), 1000, ANY_CLIENT), ResultCode.OK, 'the bucket starts with one token');
  const refused = track(pipeline.sendSync(msg(), 1000, ANY_CLIENT), timers);
  await timers.advance(50);
  assert.equal(refused.code, ResultCode.FAIL_REFUSED_BY_RATE_LIMITER);
  const t = { topic: 't' };
  assert.deepEqual([await metric('pproxy_rate_limit_deferred_total', t), await metric('pproxy_rate_limit_refused_total', t)], [1, 1]);
  const batch = track(pipeline.sendBatch([msg('a'), msg('b'), msg('c')], ANY_CLIENT), timers);
  await timers.advance(50);
  assert.equal(batch.code, ResultCode.FAIL_REFUSED_BY_RATE_LIMITER);
  assert.deepEqual([await metric('pproxy_rate_limit_deferred_total', t), await metric('pproxy_rate_limit_refused_total', t)], [2, 4]);
  assert.equal(await metric('pproxy_rate_limit_admitted_total', t), 1);
});

test('retries count under their cluster by reason: a retriable failure resent (sendBatchSync too), an extra attempt before the deadline', async () => {
  const { timers, double, pipeline, metric } = await setup();
  const unavailable = { code: 'UNAVAILABLE', retriable: true } as const;
  double.script.push(unavailable, 'ok');
  const retried = track(pipeline.sendSync(msg(), 1000, ANY_CLIENT), timers);
  await timers.advance(20);
  assert.equal(retried.code, ResultCode.OK);
  const reason = (r: string) => metric('pproxy_retries_total', { cluster: 'C', reason: r });
  assert.deepEqual([await reason('retriable_failure'), await reason('deadline_attempt')], [1, 0]);

  const late = track(pipeline.sendSync(msg(), 100, ANY_CLIENT), timers);
  await timers.advance(70);
  assert.equal(double.sends.length, 4, 'the extra attempt is out beside the first');
  assert.deepEqual([await reason('retriable_failure'), await reason('deadline_attempt')], [1, 1]);
  double.answer('ok');
  double.answer('ok');
  await settle();
  assert.equal(late.code, ResultCode.OK);

  const batch = track(pipeline.sendBatch([msg('a'), msg('b'), msg('c')], ANY_CLIENT), timers);
  await settle();
  double.answer((m) => (m.body.toString() === 'b' ? 'ok' : unavailable));
  await timers.advance(5);
  assert.deepEqual(double.sizes.at(-1), 2, 'the two failed messages are resent');
  double.answer('ok');
  await settle();
  assert.equal(batch.code, ResultCode.OK);
  assert.equal(await reason('retriable_failure'), 3);
  assert.equal(await metric('pproxy_storage_errors_total', { cluster: 'C', code: 'UNAVAILABLE' }), 3);
});

test("a resend or extra attempt waiting for its storage's budget is not counted as a retry, and one withdrawn at the deadline never is", async () => {
  const { timers, double, pipeline, metric } = await setup({ budgetBytes: 10 });
  const unavailable = { code: 'UNAVAILABLE', retriable: true } as const;
  const reason = (r: string) => metric('pproxy_retries_total', { cluster: 'C', reason: r });
  const failing = track(pipeline.sendSync(msg('0123456789'), 100, ANY_CLIENT), timers);
  const holder = track(pipeline.sendAsync(msg('abcdefghij'), ANY_CLIENT), timers);
  await settle();
  assert.equal(double.sends.length, 1, 'the second message waits for the budget');
  double.answer(unavailable);
  await timers.advance(80);
  assert.equal(double.sends.length, 2, "the second message holds the budget: the first's resend and its extra attempt wait");
  assert.deepEqual([await reason('retriable_failure'), await reason('deadline_attempt')], [0, 0], 'nothing is handed over again yet');
  await timers.advance(20);
  assert.equal(failing.code, ResultCode.FAIL_TIMEOUT);

  // a sendBatchSync's resend waits for the budget too, and is withdrawn at its deadline
  const batch = track(pipeline.sendBatch([msg('x'), msg('y')], ANY_CLIENT), timers);
  double.answer('ok'); // the holder's bytes return: the batch goes
  await settle();
  assert.equal(holder.code, ResultCode.OK);
  void pipeline.sendAsync(msg('abcdefghij'), ANY_CLIENT); // waits behind the batch's bytes
  double.answer(unavailable); // the batch's bytes return: that message goes, the batch's resend waits
  await timers.advance(10_000);
  assert.equal(batch.code, ResultCode.FAIL_TIMEOUT);
  assert.deepEqual(double.sizes, [1, 1, 2, 1], 'no withdrawn attempt was ever sent');
  assert.deepEqual([await reason('retriable_failure'), await reason('deadline_attempt')], [0, 0]);
});

test('a pipeline and its budgets built without a metrics catalog are not kept alive by the one that counts nothing', async () => {
  const { double } = await setup();
  const timers = new FakeTimers();
  const routing = await buildRoutingTable(
    schemas.strict.pproxyConfig.parse({ proxyCluster: 'P', brokerClusters: ['C'], carreraConfiguration: { localConfigurationMap: { C: {} } } }),
    [schemas.strict.topicConfig.parse({ topic: 't', topicUnits: [{ brokerCluster: 'C' }] })],
    new Map([['C', double.storage]]),
    { instance: 'i', requireBinding: false },
  );
  const build = () => {
    const budgets = new StorageBudgets(1000);
    const batcher = new AutoBatcher({ maxMessages: 100, maxBytes: 1e6, lingerMs: 0, maxInFlight: 1, urgencyMarginMs: 2 }, budgets, timers);
    const policy: PipelinePolicy = { limiter: undefined, limiterRetryQueueSize: 10, autoBatchThresholdBytes: undefined };
    const pipeline = new ProducerPipeline(routing, policy, { logger: silentLogger(), timers, random: () => 0.5, batcher, budgets });
    budgets.of(double.storage);
    return [new WeakRef(pipeline), new WeakRef(budgets)];
  };
  const refs = [...build(), ...build()];
  assert.equal(await stillAlive(refs), 0);
});

test('an auto-batch of N messages is one storage send of N messages and their bytes, and its linger is observed', async () => {
  const { timers, double, pipeline, metric } = await setup({ topic: { autoBatch: true }, policy: { autoBatchThresholdBytes: 10 }, lingerMs: 5 });
  const results = ['a', 'bb', 'ccc'].map((b) => track(pipeline.sendSync(msg(b), 1000, ANY_CLIENT), timers));
  await timers.advance(5);
  assert.deepEqual(double.sizes, [3]);
  double.answer('ok');
  await settle();
  assert.deepEqual(results.map((r) => r.code), [0, 0, 0]);
  const c = { cluster: 'C' };
  assert.deepEqual(
    [
      await metric('pproxy_batch_messages_count', c),
      await metric('pproxy_batch_messages_sum', c),
      await metric('pproxy_batch_messages_bucket', { ...c, le: 2 }),
      await metric('pproxy_batch_messages_bucket', { ...c, le: 4 }),
      await metric('pproxy_batch_bytes_sum', c),
      await metric('pproxy_batch_linger_seconds_count', c),
      await metric('pproxy_batch_linger_seconds_sum', c),
      await metric('pproxy_storage_messages_stored_total', c),
    ],
    [1, 3, 0, 1, 6, 1, 0.005, 3],
  );
});
