import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Timers } from '../../src/time/timers';
import { MessageDelivery, type DeliveryContext, type RoutedMessage } from '../../src/core/message-delivery';
import { resultForStorageError } from '../../src/core/result-mapping';
import { ResultCode } from '../../src/protocol/result-codes';
import type { RetryReason } from '../../src/metrics/proxy-metrics';
import type { OutgoingMessage } from '../../src/storage/storage';
import { FakeTimers, settle } from '../helpers/fake-timers';
import { StorageDouble, type Answer } from '../helpers/storage-double';

const TIMEOUT_MS = 100; // the extra attempt goes at 70 ms

const unavailable: Answer = { code: 'UNAVAILABLE', retriable: true };
const tooLarge: Answer = { code: 'MESSAGE_TOO_LARGE', retriable: false };
const topicNotFound: Answer = { code: 'TOPIC_NOT_FOUND', retriable: false };

/**
 * One sendSync-style delivery (extra attempt on) on a storage double that answers when told.
 * Its timers count which are still armed, so a test can tell none is left behind. `script`: the
 * first sends' answers, given at once.
 */
function deliver(script: Answer[] = []) {
  const clock = new FakeTimers();
  const armed = new Set<unknown>();
  const timers: Timers = {
    now: clock.now,
    set: (callback, ms) => {
      const handle = clock.set(() => {
        armed.delete(handle);
        callback();
      }, ms);
      armed.add(handle);
      return handle;
    },
    clear: (handle) => {
      armed.delete(handle);
      clock.clear(handle);
    },
  };
  const double = new StorageDouble();
  double.script.push(...script);
  const retries: RetryReason[] = [];
  const context: DeliveryContext = {
    timers,
    dispatch: (route, sink, _batchable, retry) => {
      if (retry) retries.push(retry);
      void route.storage.send([sink.message]).then((outcomes) => sink.resolve(outcomes[0]!));
      return undefined;
    },
    current: (route) => route,
    failed: (outcome) => resultForStorageError(outcome.error.code),
  };
  const outgoing: OutgoingMessage = {
    topic: 't', key: undefined, tags: undefined, body: Buffer.from('x'), properties: undefined, partitionId: -2, hashId: 0n, ordered: false, timestamp: 0,
  };
  const cluster = { name: 'C', storage: double.storage, maxTps: 1000 };
  const route: RoutedMessage = {
    topic: { name: 't', clusters: [cluster], delayTopic: false, autoBatch: false, strongOrder: false, limiterFailureRetryInterval: -1, maxMessageSize: 1 << 21, allowedProducers: undefined },
    cluster,
    storage: double.storage,
    outgoing,
  };
  const start = clock.now();
  const answers: { code: ResultCode; at: number }[] = [];
  new MessageDelivery(context, route, start + TIMEOUT_MS, true, (code) => answers.push({ code, at: clock.now() - start })).start(false);
  /** Moves the clock to `ms` after the start. */
  const at = (ms: number) => clock.advance(start + ms - clock.now());
  /** Answers send `index` (0: the first attempt) and lets the outcome arrive. */
  const answer = async (index: number, a: Answer) => {
    double.answer(a, index);
    await settle();
  };
  return { double, answers, armed, at, answer, retries };
}

test("a fast failure of the extra attempt does not hide the first attempt's success", async () => {
  for (const failure of [unavailable, tooLarge]) {
    const d = deliver();
    await d.at(70);
    assert.equal(d.double.sends.length, 2, 'the first attempt is out, the extra one goes beside it');
    await d.at(71);
    await d.answer(1, failure);
    assert.deepEqual(d.answers, [], `the first attempt may still store it (${JSON.stringify(failure)})`);
    await d.at(80);
    await d.answer(0, 'ok');
    assert.deepEqual(d.answers, [{ code: ResultCode.OK, at: 80 }]);
    assert.equal(d.double.sends.length, 2, 'the failed extra attempt is not retried while the first is out');
    assert.equal(d.armed.size, 0, 'no timer left');
  }
});

test("when both attempts fail, the answer is the first attempt's code, once the second failure is in", async () => {
  // the first gives up while the extra attempt is out
  const a = deliver();
  await a.at(75);
  await a.answer(0, tooLarge);
  assert.deepEqual(a.answers, [], 'the extra attempt may still store it');
  await a.at(80);
  await a.answer(1, unavailable);
  assert.deepEqual(a.answers, [{ code: ResultCode.FAIL_ILLEGAL_MSG, at: 80 }]);
  assert.equal(a.armed.size, 0);

  // the extra attempt fails first
  const b = deliver();
  await b.at(75);
  await b.answer(1, unavailable);
  await b.at(80);
  await b.answer(0, topicNotFound);
  assert.deepEqual(b.answers, [{ code: ResultCode.FAIL_TOPIC_NOT_EXIST, at: 80 }]);
  assert.deepEqual([b.double.sends.length, b.armed.size], [2, 0]);
});

test('a first attempt waiting to retry when the extra attempt is due gets that retry made early, not a second one', async () => {
  // attempts at 0, 5, 15 and 35 ms fail; the next retry would go at 75
  const d = deliver([unavailable, unavailable, unavailable, unavailable]);
  await d.at(70);
  assert.equal(d.double.sends.length, 5, 'the retry due at 75 goes at 70 as the extra attempt');
  await d.at(76);
  assert.equal(d.double.sends.length, 5, 'and not again at 75');
  await d.answer(4, 'ok');
  assert.deepEqual(d.answers, [{ code: ResultCode.OK, at: 76 }]);
  assert.equal(d.armed.size, 0);
});

test('the extra attempt stands for the retry of a first attempt that fails retriably while it is out', async () => {
  // the extra attempt fails retriably: the first attempt's backoff goes on
  const a = deliver();
  await a.at(72);
  await a.answer(0, unavailable);
  await a.at(85);
  assert.equal(a.double.sends.length, 2, 'no retry beside the extra attempt');
  await a.answer(1, unavailable);
  assert.deepEqual(a.answers, []);
  await a.at(94);
  assert.equal(a.double.sends.length, 2, 'the second backoff step is 10 ms');
  await a.at(95);
  assert.equal(a.double.sends.length, 3);
  await a.answer(2, 'ok');
  assert.deepEqual(a.answers, [{ code: ResultCode.OK, at: 95 }]);
  assert.equal(a.armed.size, 0);

  // the extra attempt fails non-retriably: the first did not give up, so the extra attempt's code
  const b = deliver();
  await b.at(72);
  await b.answer(0, unavailable);
  await b.at(80);
  await b.answer(1, topicNotFound);
  assert.deepEqual(b.answers, [{ code: ResultCode.FAIL_TOPIC_NOT_EXIST, at: 80 }]);
  await b.at(200);
  assert.deepEqual([b.double.sends.length, b.armed.size], [2, 0], 'nothing retried after the answer');
});

test('a first attempt still retrying at the deadline: 12 exactly at it, and nothing after', async () => {
  const d = deliver();
  await d.at(71);
  await d.answer(1, unavailable);
  await d.at(93);
  await d.answer(0, unavailable);
  await d.at(98);
  assert.equal(d.double.sends.length, 3, 'retried 5 ms later, still before the deadline');
  await d.at(99);
  assert.deepEqual(d.answers, []);
  await d.at(100);
  assert.deepEqual(d.answers, [{ code: ResultCode.FAIL_TIMEOUT, at: 100 }]);
  assert.equal(d.armed.size, 0, 'no timer left');
  await d.answer(2, 'ok');
  await d.at(300);
  assert.deepEqual(d.answers, [{ code: ResultCode.FAIL_TIMEOUT, at: 100 }], 'no answer after the deadline');
  assert.equal(d.double.sends.length, 3);
});

test('every attempt after the first is counted once, with its reason: a resend after a failure is a retry, made early or not', async () => {
  // four retriable failures, then the retry due at 75 made at 70
  const early = deliver([unavailable, unavailable, unavailable, unavailable]);
  await early.at(76);
  await early.answer(4, 'ok');
  assert.equal(early.double.sends.length, 5);
  assert.deepEqual(early.retries, Array(4).fill('retriable_failure'));

  // the extra attempt beside a first attempt still out
  const beside = deliver();
  await beside.at(70);
  assert.deepEqual(beside.retries, ['deadline_attempt']);
  await beside.answer(0, 'ok');

  // the extra attempt stands for the first's retry; its own retriable failure is then retried
  const standIn = deliver();
  await standIn.at(72);
  await standIn.answer(0, unavailable);
  await standIn.at(85);
  await standIn.answer(1, unavailable);
  await standIn.at(95);
  assert.equal(standIn.double.sends.length, 3);
  assert.deepEqual(standIn.retries, ['deadline_attempt', 'retriable_failure']);
});
