import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deferredRetryDelay } from '../../src/ratelimit/deferred-retry';
import { TokenBucket } from '../../src/ratelimit/token-bucket';
import { ProxyMetrics, UNSERVED_TOPIC } from '../../src/metrics/proxy-metrics';
import { TpsLimiter } from '../../src/ratelimit/tps-limiter';
import { sample } from '../helpers/metrics-exposition';

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('a token bucket refills at its rate, holds one second at most, and starts with one token', () => {
  const c = clock();
  const bucket = new TokenBucket(100, c.now);
  assert.equal(bucket.tryTake(1), true, 'the first request passes');
  assert.equal(bucket.tryTake(1), false, 'not full at creation');
  c.advance(50); // 5 tokens
  assert.equal(bucket.tryTake(5), true);
  assert.equal(bucket.tryTake(1), false);
  c.advance(10_000); // idle for long: capped at 100
  assert.equal(bucket.tryTake(100), true);
  assert.equal(bucket.tryTake(1), false);
  bucket.refund(3);
  assert.equal(bucket.tryTake(3), true);
  assert.throws(() => new TokenBucket(0, c.now), /positive/);
});

test('a limited topic gets its rate over time: 1,000/s under 5x load admits 1,000 per second', () => {
  const c = clock();
  const limiter = new TpsLimiter({ nodeMaxTps: 100_000, warningRatio: 0.8, topics: new Map([['t', 1000]]) }, c.now);
  let admitted = 0;
  for (let ms = 0; ms < 10_000; ms++) {
    for (let i = 0; i < 5; i++) if (limiter.tryEnter('t', 1) !== 'refused') admitted++;
    c.advance(1);
  }
  assert.ok(Math.abs(admitted - 10_000) <= 10, `admitted ${admitted} of 50,000 in 10 s`);
});

test('the warning part is used after the normal part and counted; refusals are counted', () => {
  const c = clock();
  const limiter = new TpsLimiter({ nodeMaxTps: 1_000_000, warningRatio: 0.5, topics: new Map([['t', 20]]) }, c.now);
  c.advance(1000); // normal part 10, warning part 10
  const verdicts = Array.from({ length: 25 }, () => limiter.tryEnter('t', 1));
  assert.deepEqual(
    [verdicts.filter((v) => v === 'ok').length, verdicts.filter((v) => v === 'warn').length, verdicts.filter((v) => v === 'refused').length],
    [10, 10, 5],
  );
  assert.deepEqual(limiter.drainCounts().get('t'), { warn: 10, refused: 5 });
  assert.equal(limiter.drainCounts().size, 0, 'counts reset after draining');
});

test('the node limit applies across topics, and a topic keeps its tokens when the node refuses', () => {
  const c = clock();
  const limiter = new TpsLimiter({ nodeMaxTps: 10, warningRatio: 1, topics: new Map([['a', 100], ['b', 100]]) }, c.now);
  c.advance(1000);
  let passed = 0;
  for (let i = 0; i < 20; i++) if (limiter.tryEnter(i % 2 ? 'a' : 'b', 1) !== 'refused') passed++;
  assert.equal(passed, 10, 'the node admits 10 per second whatever the topics');
  c.advance(1000);
  // topic a still has its own tokens: the node's refusals above did not consume them
  assert.equal(limiter.tryEnter('a', 10), 'ok');
  assert.equal(limiter.tryEnter('unknown', 1), 'refused');
});

test('a batch costs one token per message, all topics or none', () => {
  const c = clock();
  const limiter = new TpsLimiter({ nodeMaxTps: 1000, warningRatio: 1, topics: new Map([['a', 50], ['b', 5]]) }, c.now);
  c.advance(1000);
  assert.equal(limiter.tryEnter('b', 3), 'ok');
  assert.equal(limiter.tryEnterAll(new Map([['a', 40], ['b', 3]])), 'refused', 'b has 2 tokens left, not 3');
  assert.equal(limiter.tryEnter('a', 50), 'ok', "a's 40 tokens were given back");
});

test('a request larger than a bucket is admitted once the bucket is full, which then owes the rest', () => {
  const c = clock();
  const limiter = new TpsLimiter({ nodeMaxTps: 1000, warningRatio: 1, topics: new Map([['b', 5]]) }, c.now);
  c.advance(1000);
  assert.equal(limiter.tryEnter('b', 8), 'ok', 'a batch of 8 on a 5/s topic is not refused forever');
  c.advance(400); // -3 + 2 = -1 tokens
  assert.equal(limiter.tryEnter('b', 1), 'refused', 'the debt is paid first');
  c.advance(400); // 1 token
  assert.equal(limiter.tryEnter('b', 1), 'ok');
});

test("the deferred retry waits as DDMQ's limiterFailureRetryInterval says", () => {
  assert.equal(deferredRetryDelay(0, 1000), undefined, '0: no retry');
  assert.equal(deferredRetryDelay(40, 5), 40, '> 0: that long');
  assert.equal(deferredRetryDelay(-1, 50), 40, '-1: timeout - 10');
  assert.equal(deferredRetryDelay(-1, 1000), 100, '-1: at most 100 ms');
  assert.equal(deferredRetryDelay(-1, 20), undefined, '-1: no retry when timeout - 10 <= 10');
});

test('a tpsWarningRatio above 1 reads as 1: the whole limit is normal, nothing is a warning', () => {
  const c = clock();
  const limiter = new TpsLimiter({ nodeMaxTps: 100_000, warningRatio: 1.5, topics: new Map([['t', 1000]]) }, c.now);
  c.advance(1000); // a full bucket: one second of the topic's limit
  const verdicts = Array.from({ length: 1001 }, () => limiter.tryEnter('t', 1));
  assert.equal(verdicts.filter((v) => v === 'ok').length, 1000);
  assert.equal(verdicts[1000], 'refused');
  assert.deepEqual(limiter.drainCounts().get('t'), { warn: 0, refused: 1 });
});

test('a topic whose maxTps shares add up to 0 or less is refused, and the other topics are served', () => {
  const c = clock();
  const limiter = new TpsLimiter({ nodeMaxTps: 100_000, warningRatio: 0.8, topics: new Map([['none', 0], ['negative', -5], ['t', 1000]]) }, c.now);
  c.advance(1000);
  assert.equal(limiter.tryEnter('none', 1), 'refused');
  assert.equal(limiter.tryEnter('negative', 1), 'refused');
  assert.equal(limiter.tryEnter('t', 1), 'ok');
});

test('a negative limiterFailureRetryInterval other than -1 retries at once, as DDMQ\'s scheduler does', () => {
  assert.equal(deferredRetryDelay(-5, 3000), 0);
  assert.equal(deferredRetryDelay(-1, 3000), 100);
});

test("each topic's messages count into its metrics: admitted, from the warning part, and a refusal as its caller answers it", async () => {
  const c = clock();
  const metrics = new ProxyMetrics(true);
  metrics.configure(['a', 'b'], []);
  // a: 4/s, 2 of them its warning part; b: 10/s
  const limiter = new TpsLimiter({ nodeMaxTps: 1000, warningRatio: 0.5, topics: new Map([['a', 4], ['b', 10]]) }, c.now, metrics);
  c.advance(1000);
  assert.equal(limiter.tryEnter('a', 2), 'ok');
  assert.equal(limiter.tryEnter('a', 1), 'warn');
  assert.equal(limiter.tryEnter('a', 2, 'deferred'), 'refused');
  assert.equal(limiter.tryEnter('a', 2, 'refused'), 'refused');
  assert.equal(limiter.tryEnterAll(new Map([['b', 3], ['a', 1]])), 'warn', "a's last warning token");
  assert.equal(limiter.tryEnterAll(new Map([['b', 2], ['a', 1]])), 'refused', 'a is empty: b gives its tokens back');
  assert.equal(limiter.tryEnter('gone', 1), 'refused');
  const text = await metrics.render();
  const counts = (topic: string) =>
    ['admitted', 'warning', 'refused', 'deferred'].map((kind) => sample(text, `pproxy_rate_limit_${kind}_total`, { topic }));
  assert.deepEqual(counts('a'), [4, 2, 2 + 1, 1], 'a refused batch counts each of its messages');
  assert.deepEqual(counts('b'), [3, 0, 2, 0], "b's messages of the refused batch are refused too");
  assert.deepEqual(counts(UNSERVED_TOPIC), [0, 0, 1, 0], 'a topic the limiter does not know');
});

test('a deferred request spanning topics counts one deferred request, under its first topic', async () => {
  const c = clock();
  const metrics = new ProxyMetrics(true);
  metrics.configure(['a', 'b'], []);
  const limiter = new TpsLimiter({ nodeMaxTps: 1000, warningRatio: 1, topics: new Map([['a', 3], ['b', 2]]) }, c.now, metrics);
  c.advance(1000);
  assert.equal(limiter.tryEnter('b', 2), 'ok', "b's tokens are gone");
  assert.equal(limiter.tryEnterAll(new Map([['a', 3], ['b', 2]]), 'deferred'), 'refused');
  assert.equal(limiter.tryEnterAll(new Map([['b', 2], ['a', 3]]), 'deferred'), 'refused');
  const text = await metrics.render();
  const deferred = (topic: string) => sample(text, 'pproxy_rate_limit_deferred_total', { topic });
  assert.deepEqual([deferred('a'), deferred('b')], [1, 1], 'each request once, under the topic of its first message');
  assert.deepEqual([sample(text, 'pproxy_rate_limit_refused_total', { topic: 'a' }), sample(text, 'pproxy_rate_limit_admitted_total', { topic: 'a' })], [0, 0]);
  assert.equal(limiter.tryEnter('a', 3), 'ok', "a's tokens were given back each time");
});

test('with metrics off the limiter counts into no topic children, and still limits', () => {
  const c = clock();
  const metrics = new ProxyMetrics(false);
  let counted = 0;
  const counting = { inc: () => void counted++ };
  const children = { limiterAdmitted: counting, limiterWarning: counting, limiterRefused: counting, limiterDeferred: counting };
  const unserved = metrics.topic(undefined);
  Object.assign(metrics, { topic: () => ({ ...unserved, ...children }) });
  const limiter = new TpsLimiter({ nodeMaxTps: 1000, warningRatio: 0.5, topics: new Map([['a', 4], ['b', 10]]) }, c.now, metrics);
  c.advance(1000);
  const verdicts = [
    limiter.tryEnter('a', 2),
    limiter.tryEnter('a', 1),
    limiter.tryEnter('a', 2, 'deferred'),
    limiter.tryEnterAll(new Map([['b', 3], ['a', 1]])),
    limiter.tryEnterAll(new Map([['b', 2], ['a', 1]]), 'deferred'),
    limiter.tryEnter('gone', 1),
  ];
  assert.deepEqual(verdicts, ['ok', 'warn', 'refused', 'warn', 'refused', 'refused']);
  assert.equal(counted, 0);
});
