import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageBudgets, sendWithinBudget } from '../../src/core/storage-budget';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../../src/storage/storage';
import { FakeTimers, settle } from '../helpers/fake-timers';
import { sample } from '../helpers/metrics-exposition';
import { StorageDouble, storageSending } from '../helpers/storage-double';

const message = (bytes: number): OutgoingMessage => ({
  topic: 't', key: undefined, tags: undefined, body: Buffer.alloc(bytes, 1), properties: undefined, partitionId: -2, hashId: 0n, ordered: false, timestamp: 0,
});

/** Sends one message of `bytes` within the budget and records its outcome under `name`. */
function sender(budgets: StorageBudgets, storage: ClusterStorage, done: Map<string, SendOutcome>) {
  return (name: string, bytes: number) => sendWithinBudget(budgets.of(storage), storage, [message(bytes)], (outcomes) => done.set(name, outcomes[0]!));
}

test('sends past the budget wait unsent until bytes return, in arrival order; one larger than the budget goes when nothing is out', async () => {
  const double = new StorageDouble();
  const done = new Map<string, SendOutcome>();
  const send = sender(new StorageBudgets(100), double.storage, done);
  assert.equal(send('a', 60), undefined, 'sent at once');
  assert.notEqual(send('b', 50), undefined, 'b waits: 110 > 100');
  send('c', 10);
  assert.deepEqual(double.sends.map((s) => s[0]!.body.length), [60], 'c does not pass b, though it would fit');
  double.answer();
  await settle();
  assert.deepEqual(double.sends.map((s) => s[0]!.body.length), [60, 50, 10], 'both fit once a returned its 60 bytes');
  send('huge', 500);
  double.answer();
  await settle();
  assert.equal(double.sends.length, 3, 'huge waits while anything is out');
  double.answer();
  await settle();
  assert.deepEqual(double.sends.map((s) => s[0]!.body.length), [60, 50, 10, 500], 'then goes alone');
  double.answer();
  await settle();
  assert.deepEqual([...done.keys()], ['a', 'b', 'c', 'huge']);
});

test('a withdrawn send is never sent and never answered; the ones behind it go in its place', async () => {
  const double = new StorageDouble();
  const done = new Map<string, SendOutcome>();
  const send = sender(new StorageBudgets(100), double.storage, done);
  send('first', 100);
  const withdrawn = send('withdrawn', 80)!;
  send('behind', 80);
  withdrawn.withdraw();
  double.answer();
  await settle();
  assert.deepEqual(double.sends.map((s) => s[0]!.body.length), [100, 80]);
  double.answer();
  await settle();
  assert.deepEqual([...done.keys()], ['first', 'behind']);
});

test('each storage has its own budget, and a larger limit lets the sends waiting go at once', async () => {
  const one = new StorageDouble();
  const other = new StorageDouble();
  const budgets = new StorageBudgets(100);
  const done = new Map<string, SendOutcome>();
  const sendOne = sender(budgets, one.storage, done);
  sendOne('a', 100);
  sendOne('b', 100);
  sender(budgets, other.storage, done)('elsewhere', 100);
  assert.deepEqual([one.sends.length, other.sends.length], [1, 1], "a full budget holds back only its own storage's sends");
  budgets.configure(200);
  assert.equal(one.sends.length, 2, 'b went when the limit grew, before any bytes returned');
  one.answer();
  one.answer();
  await settle();
  budgets.configure(50);
  sendOne('c', 40);
  sendOne('d', 20);
  assert.equal(one.sends.length, 3, 'with the smaller limit, d waits for c');
});

test('a storage that rejects or returns too few outcomes gives its bytes back, and every message gets an outcome', async () => {
  const budgets = new StorageBudgets(100);
  const outcomes: SendOutcome[][] = [];
  let calls = 0;
  const broken = storageSending((messages) => {
    calls++;
    return calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(messages.slice(1).map((): SendOutcome => ({ ok: true, partition: 0, offset: 0n })));
  });
  sendWithinBudget(budgets.of(broken), broken, [message(100)], (o) => outcomes.push(o));
  sendWithinBudget(budgets.of(broken), broken, [message(50), message(50)], (o) => outcomes.push(o));
  await settle();
  assert.equal(calls, 2, 'the rejected send gave its 100 bytes back');
  assert.deepEqual(outcomes.map((o) => o.map((x) => (x.ok ? 'ok' : x.error.code))), [['UNKNOWN'], ['ok', 'UNKNOWN']]);
  sendWithinBudget(budgets.of(broken), broken, [message(100)], (o) => outcomes.push(o));
  assert.equal(calls, 3, 'and so did the short one');
});

test('a head of the line withdrawn while bytes are out lets the sends behind it go at once, if they fit', () => {
  const double = new StorageDouble();
  const done = new Map<string, SendOutcome>();
  const send = sender(new StorageBudgets(100), double.storage, done);
  send('stuck', 60); // out at a broker that does not answer
  const big = send('big', 80)!;
  send('small', 30);
  assert.equal(double.sends.length, 1, 'small waits behind big');
  big.withdraw(); // big's caller was answered 12
  assert.deepEqual(double.sends.map((s) => s[0]!.body.length), [60, 30], 'small goes without waiting for the stuck send');
});

test('a storage whose outcomes have a gap still gets every message an outcome', async () => {
  const budgets = new StorageBudgets(100);
  let got: SendOutcome[] = [];
  const gappy = storageSending((messages) => {
    const outcomes = new Array<SendOutcome>(messages.length);
    outcomes[1] = { ok: true, partition: 0, offset: 0n };
    return Promise.resolve(outcomes);
  });
  sendWithinBudget(budgets.of(gappy), gappy, [message(10), message(10), message(10)], (o) => (got = o));
  await settle();
  assert.deepEqual(got.map((x) => (x.ok ? 'ok' : x.error.code)), ['UNKNOWN', 'ok', 'UNKNOWN']);
});

test("each storage send counts once into its cluster: messages, bytes, write latency, messages stored and failed by code", async () => {
  const timers = new FakeTimers();
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['C']);
  const double = new StorageDouble();
  const budget = new StorageBudgets(1000, { metrics, clock: timers.now }).of(double.storage);
  const done: SendOutcome[][] = [];
  sendWithinBudget(budget, double.storage, [message(10), message(20), message(30)], (outcomes) => done.push(outcomes));
  await timers.advance(25);
  double.answer((m) => (m.body.length === 20 ? { code: 'PARTITION_OUT_OF_RANGE', retriable: false } : 'ok'));
  await settle();
  sendWithinBudget(budget, double.storage, [message(5)], (outcomes) => done.push(outcomes));
  await timers.advance(3);
  double.answer({ code: 'UNAVAILABLE', retriable: true });
  await settle();
  assert.equal(done.length, 2);
  const text = await metrics.render();
  const c = { cluster: 'C' };
  assert.deepEqual(
    [
      sample(text, 'pproxy_batch_messages_count', c),
      sample(text, 'pproxy_batch_messages_sum', c),
      sample(text, 'pproxy_batch_bytes_sum', c),
      sample(text, 'pproxy_batch_bytes_bucket', { ...c, le: 1024 }),
      sample(text, 'pproxy_storage_write_duration_seconds_count', c),
      sample(text, 'pproxy_storage_write_duration_seconds_sum', c),
      sample(text, 'pproxy_storage_write_duration_seconds_bucket', { ...c, le: 0.005 }),
      sample(text, 'pproxy_storage_write_duration_seconds_bucket', { ...c, le: 0.025 }),
      sample(text, 'pproxy_storage_messages_stored_total', c),
      sample(text, 'pproxy_storage_errors_total', { ...c, code: 'PARTITION_OUT_OF_RANGE' }),
      sample(text, 'pproxy_storage_errors_total', { ...c, code: 'UNAVAILABLE' }),
    ],
    [2, 4, 65, 2, 2, 0.028, 1, 2, 2, 1, 1],
  );
});

test('a storage that rejects counts its messages as UNKNOWN errors, once', async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['C']);
  const rejecting = storageSending(() => Promise.reject(new Error('down')));
  const budget = new StorageBudgets(1000, { metrics }).of(rejecting);
  sendWithinBudget(budget, rejecting, [message(1), message(2)], () => undefined);
  await settle();
  const text = await metrics.render();
  assert.equal(sample(text, 'pproxy_storage_errors_total', { cluster: 'C', code: 'UNKNOWN' }), 2);
  assert.equal(sample(text, 'pproxy_storage_write_duration_seconds_count', { cluster: 'C' }), 1);
});

test('in-flight bytes and sends waiting per cluster are gauges against the budget, which is one too', async () => {
  const metrics = new ProxyMetrics(true);
  metrics.configure([], ['C']);
  const double = new StorageDouble();
  const budgets = new StorageBudgets(100, { metrics });
  const done = new Map<string, SendOutcome>();
  const send = sender(budgets, double.storage, done);
  const gauges = async () => {
    const text = await metrics.render();
    const c = { cluster: 'C' };
    return [
      sample(text, 'pproxy_storage_in_flight_bytes', c),
      sample(text, 'pproxy_storage_budget_waiting_sends', c),
      sample(text, 'pproxy_storage_budget_waits_total', c),
      sample(text, 'pproxy_storage_in_flight_bytes_limit'),
    ];
  };
  send('a', 60);
  send('b', 50);
  const withdrawn = send('c', 10)!;
  assert.deepEqual(await gauges(), [60, 2, 2, 100]);
  withdrawn.withdraw();
  assert.deepEqual(await gauges(), [60, 1, 2, 100]);
  double.answer();
  await settle();
  assert.deepEqual(await gauges(), [50, 0, 2, 100], 'b went once a returned');
  budgets.configure(200);
  double.answer();
  await settle();
  assert.deepEqual(await gauges(), [0, 0, 2, 200]);
});

test('with metrics off a send counts nothing: no outcome is walked for its code, no clock is read', async () => {
  let clockReads = 0;
  const budgets = new StorageBudgets(1000, { metrics: new ProxyMetrics(false), clock: () => ++clockReads });
  const double = new StorageDouble();
  const budget = budgets.of(double.storage);
  const codesCounted: string[] = [];
  Object.assign(budget.metrics, { errors: (code: string) => (codesCounted.push(code), budget.metrics.messagesStored) });
  const done: SendOutcome[][] = [];
  sendWithinBudget(budget, double.storage, [message(10), message(20)], (outcomes) => done.push(outcomes));
  double.answer({ code: 'UNAVAILABLE', retriable: true });
  await settle();
  assert.equal(done.length, 1, 'the send returned');
  assert.deepEqual([codesCounted, clockReads], [[], 0]);
});
