/**
 * The Redis plugin's order guard (plugins/redis/src/stream-order.ts) on a manual clock: ordered
 * messages of a stream keep their order across the host's retries.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import type { OutgoingMessage, SendOutcome } from '../../src/storage/storage';
import { FakeTimers, settle } from '../helpers/fake-timers';

interface Item {
  readonly message: OutgoingMessage;
  readonly stream: string;
}

interface Guard {
  admit(item: Item): 'write' | Promise<SendOutcome>;
  ticket(item: Item): number;
  settle(items: readonly Item[], tickets: readonly number[], outcomes: readonly SendOutcome[]): Promise<SendOutcome[]>;
  close(): void;
}

const { StreamOrderGuard } = createRequire(__filename)(path.resolve(__dirname, '../../../plugins/redis/dist/stream-order.js')) as {
  StreamOrderGuard: new (clock: FakeTimers, windowMs: number, write: (items: Item[]) => Promise<SendOutcome[]>) => Guard;
};

const WINDOW = 1000;
const OK: SendOutcome = { ok: true, partition: 0, offset: undefined };
const NOT_SENT: SendOutcome = { ok: false, error: { code: 'UNAVAILABLE', message: 'not connected', retriable: true } };

function item(name: string, stream = 's:0'): Item {
  const message = { topic: 's', key: name, tags: undefined, body: Buffer.from(name), properties: undefined, partitionId: 0, hashId: 0n, ordered: true, timestamp: 0 };
  return { message, stream };
}

/**
 * A guard whose released writes are recorded (by key) and made as the storage makes them: tickets
 * taken, then replies settled at once, each `reply(item)` (a success unless the test says otherwise).
 */
function setup() {
  const clock = new FakeTimers();
  const writes: string[][] = [];
  let reply = (_item: Item): SendOutcome => OK;
  /** While set, replies wait for it: the writes are in flight. */
  let inFlight: Promise<void> | undefined;
  const guard: Guard = new StreamOrderGuard(clock, WINDOW, (items) => {
    writes.push(items.map((i) => i.message.key!));
    const tickets = items.map((i) => guard.ticket(i));
    const replies = items.map((i) => reply(i));
    return inFlight ? inFlight.then(() => guard.settle(items, tickets, replies)) : guard.settle(items, tickets, replies);
  });
  /** A write of `items` with these replies. */
  const written = (items: Item[], outcomes: SendOutcome[]) => guard.settle(items, items.map((i) => guard.ticket(i)), outcomes);
  const replyWith = (next: (item: Item) => SendOutcome) => (reply = next);
  /** Holds the replies of the writes from now on until the returned function is called. */
  const holdReplies = () => {
    let release!: () => void;
    inFlight = new Promise((r) => (release = r));
    return () => {
      inFlight = undefined;
      release();
    };
  };
  return { clock, writes, guard, written, replyWith, holdReplies };
}

/** Whether a promise has resolved by now. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await settle();
  return done;
}

/** The outcome of a message the guard did not let through at once. */
function held(admission: 'write' | Promise<SendOutcome>): Promise<SendOutcome> {
  assert.notEqual(admission, 'write');
  return admission as Promise<SendOutcome>;
}

function retriable(outcome: SendOutcome | 'write'): boolean {
  assert.ok(outcome !== 'write' && !outcome.ok, `expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome.error.retriable;
}

test('a retriable failure fences its stream: younger messages wait and are written after its retry, in order', async () => {
  const { writes, guard, written } = setup();
  const a = item('a');
  const b = item('b');
  const c = item('c');
  assert.equal(guard.admit(a), 'write');
  assert.deepEqual(await written([a], [NOT_SENT]), [NOT_SENT], 'the failure stays retriable');
  const heldB = guard.admit(b);
  const heldC = guard.admit(c);
  assert.notEqual(heldB, 'write');
  await settle();
  assert.deepEqual(writes, [], 'nothing goes before the retry of a');
  const retriedA = guard.admit(a);
  assert.deepEqual(await retriedA, OK);
  assert.deepEqual(await heldB, OK);
  assert.deepEqual(await heldC, OK);
  assert.deepEqual(writes, [['a', 'b', 'c']]);
  assert.equal(guard.admit(item('d')), 'write', 'the fence is gone');
  assert.equal(guard.admit(item('x', 's:1')), 'write', 'other streams were never fenced');
});

test('a retry that does not come within the window is given up: younger messages go ahead, and the late retry is refused for good', async () => {
  const { clock, writes, guard, written } = setup();
  const a = item('a');
  const b = item('b');
  guard.admit(a);
  await written([a], [NOT_SENT]);
  const heldB = guard.admit(b);
  await clock.advance(WINDOW - 1);
  assert.deepEqual(writes, []);
  // b's own window ends with a's: b is answered retriable and keeps its place behind a
  await clock.advance(1);
  assert.deepEqual(await heldB, { ok: false, error: { code: 'UNAVAILABLE', message: 'an older ordered message of s:0 has not been retried within 1000 ms', retriable: true } });
  const retriedB = guard.admit(b);
  assert.deepEqual(await retriedB, OK, 'a is given up, b goes');
  assert.deepEqual(writes, [['b']]);
  const lateA = guard.admit(a);
  assert.notEqual(lateA, 'write', 'a written now would land behind b');
  const refused = await lateA;
  assert.ok(refused !== 'write' && !refused.ok);
  assert.equal(refused.error.retriable, false);
});

test('a retriable failure with a younger ordered write stored after it becomes final, so its retry cannot land behind that one', async () => {
  const { guard } = setup();
  const a = item('a');
  const b = item('b');
  const ticketA = guard.ticket(a);
  const ticketB = guard.ticket(b);
  // a's reply (the server refused it, say OOM) comes while b, written after it, is in flight
  const answerA = guard.settle([a], [ticketA], [NOT_SENT]);
  assert.equal(await isSettled(answerA), false, 'undecided until b is answered');
  assert.deepEqual(await guard.settle([b], [ticketB], [OK]), [OK]);
  const [outcomeA] = await answerA;
  assert.equal(retriable(outcomeA!), false);
  assert.match(!outcomeA!.ok ? outcomeA!.error.message : '', /younger ordered message of s:0 was or may be stored after it/);
  assert.equal(guard.admit(item('x')), 'write', 'no fence for a final failure');
  // within one write: a later success makes an earlier retriable failure final
  const c = item('c', 's:9');
  const d = item('d', 's:9');
  const both = await guard.settle([c, d], [guard.ticket(c), guard.ticket(d)], [NOT_SENT, OK]);
  assert.equal(retriable(both[0]!), false);
  assert.equal(guard.admit(item('e', 's:9')), 'write', 'no fence for a final failure');
});

test('several ordered writes in flight all refused: each stays retriable, answered once the younger replies are in; the retries are written in send order', async () => {
  const { writes, guard } = setup();
  const sent = ['a', 'b', 'c', 'd', 'e'].map((name) => item(name));
  const tickets = sent.map((i) => guard.ticket(i));
  const answers: Promise<SendOutcome[]>[] = [];
  for (let k = 0; k < sent.length - 1; k++) {
    answers.push(guard.settle([sent[k]!], [tickets[k]!], [NOT_SENT]));
    assert.equal(await isSettled(answers[k]!), false, `${sent[k]!.message.key} waits for the younger replies`);
    assert.notEqual(guard.admit(item(`held${k}`)), 'write', 'the stream is fenced meanwhile');
  }
  answers.push(guard.settle([sent[4]!], [tickets[4]!], [NOT_SENT]));
  for (const answer of answers) assert.deepEqual(await answer, [NOT_SENT]);
  assert.deepEqual(writes, [], 'nothing written before the retries');
  const retried = sent.map((i) => guard.admit(i));
  for (const outcome of retried) assert.deepEqual(await outcome, OK);
  assert.deepEqual(writes.flat(), ['a', 'b', 'c', 'd', 'e', 'held0', 'held1', 'held2', 'held3']);
});

test('in flight: failures older than a stored write are final as soon as its reply is in; those after it wait for the rest', async () => {
  const { guard } = setup();
  const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((name) => item(name));
  const tickets = [a, b, c, d, e].map((i) => guard.ticket(i!));
  const answerA = guard.settle([a!], [tickets[0]!], [NOT_SENT]);
  const answerB = guard.settle([b!], [tickets[1]!], [NOT_SENT]);
  assert.deepEqual(await guard.settle([c!], [tickets[2]!], [OK]), [OK]);
  assert.equal(retriable((await answerA)[0]!), false);
  assert.equal(retriable((await answerB)[0]!), false);
  const answerD = guard.settle([d!], [tickets[3]!], [NOT_SENT]);
  assert.equal(await isSettled(answerD), false, 'd waits for e');
  assert.deepEqual(await guard.settle([e!], [tickets[4]!], [NOT_SENT]), [NOT_SENT]);
  assert.deepEqual(await answerD, [NOT_SENT], 'nothing was stored after d');
});

test('replies out of write order, and a retry refused again, keep the send order of the awaited messages', async () => {
  const { writes, guard, replyWith } = setup();
  const a = item('a');
  const b = item('b');
  const [ticketA, ticketB] = [guard.ticket(a), guard.ticket(b)];
  // b's failure is known first (not written at all), then a's
  assert.deepEqual(await guard.settle([b], [ticketB], [NOT_SENT]), [NOT_SENT]);
  assert.deepEqual(await guard.settle([a], [ticketA], [NOT_SENT]), [NOT_SENT]);
  // a's retry is refused again, with a new ticket later than b's: a still goes before b
  replyWith(() => NOT_SENT);
  assert.equal(retriable(await guard.admit(a)), true);
  replyWith(() => OK);
  const retriedB = held(guard.admit(b));
  assert.equal(await isSettled(retriedB), false, 'b waits for a');
  assert.deepEqual(await guard.admit(a), OK);
  assert.deepEqual(await retriedB, OK);
  assert.deepEqual(writes, [['a'], ['a', 'b']]);
});

test('a retry waits for the reply of an older retry in flight, so a second refusal of that one keeps it first', async () => {
  const { writes, guard, written, replyWith, holdReplies } = setup();
  const a = item('a');
  const b = item('b');
  await written([a, b], [NOT_SENT, NOT_SENT]);
  replyWith(() => NOT_SENT);
  const release = holdReplies();
  const retriedA = held(guard.admit(a));
  const retriedB = held(guard.admit(b));
  await settle();
  assert.deepEqual(writes, [['a']], 'b is not written while the reply of a is out');
  release();
  assert.equal(retriable(await retriedA), true);
  assert.deepEqual(writes, [['a']], 'refused again, a is still ahead of b');
  replyWith(() => OK);
  assert.deepEqual(await guard.admit(a), OK);
  assert.deepEqual(await retriedB, OK);
  assert.deepEqual(writes, [['a'], ['a', 'b']]);
});

test('close() answers the held messages CLOSED, retriable', async () => {
  const { guard, written } = setup();
  const a = item('a');
  guard.admit(a);
  await written([a], [NOT_SENT]);
  const held = guard.admit(item('b'));
  guard.close();
  assert.deepEqual(await held, { ok: false, error: { code: 'CLOSED', message: 'redis storage closed', retriable: true } });
});

test('after close() a retriable reply of a write in flight stays retriable: the host resends it on the next storage', async () => {
  const { guard } = setup();
  const a = item('a');
  const ticket = guard.ticket(a);
  guard.close();
  assert.deepEqual(await guard.settle([a], [ticket], [NOT_SENT]), [NOT_SENT]);
});

test('close() answers a failure still waiting for younger replies as it came, retriable', async () => {
  const { guard } = setup();
  const a = item('a');
  const b = item('b');
  const [ticketA] = [guard.ticket(a), guard.ticket(b)];
  const answerA = guard.settle([a], [ticketA], [NOT_SENT]);
  guard.close();
  assert.deepEqual(await answerA, [NOT_SENT]);
});
