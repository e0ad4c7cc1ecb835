import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StorageBudgets, sendWithinBudget } from '../../src/core/storage-budget';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../../src/storage/storage';
import { settle } from '../helpers/fake-timers';
import { StorageDouble } from '../helpers/storage-double';

const message = (bytes: number): OutgoingMessage => ({
  topic: 't', key: undefined, tags: undefined, body: Buffer.alloc(bytes, 1), properties: undefined, partitionId: -2, hashId: 0n, ordered: false, timestamp: 0,
});

/** A storage that breaks its contract as `send` says. */
function storageSending(send: (messages: readonly OutgoingMessage[]) => Promise<SendOutcome[]>): ClusterStorage {
  return { ...new StorageDouble().storage, send };
}

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
