import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutgoingMessage, SendOutcome } from '../../src/storage/storage';
import { TopicSends } from '../../src/storage/topic-sends';
import { settle } from '../helpers/fake-timers';

function message(fields: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    topic: 'orders',
    key: undefined,
    tags: undefined,
    body: Buffer.from('body'),
    properties: undefined,
    partitionId: 0,
    hashId: 0n,
    ordered: true,
    timestamp: 1_700_000_000_000,
    ...fields,
  };
}

/** TopicSends over a sendTopic that records its calls and completes each only when told. */
function controlledSends() {
  const started: string[] = [];
  const finish = new Map<string, () => void>();
  const sends = new TopicSends('test cluster', (_topic, indices, messages, outcomes) => {
    const label = messages[indices[0]!]!.body.toString();
    started.push(label);
    return new Promise<void>((resolve) =>
      finish.set(label, () => {
        for (const i of indices) outcomes[i] = { ok: true, partition: 0, offset: undefined } satisfies SendOutcome;
        resolve();
      }),
    );
  });
  return { sends, started, finish: (label: string) => finish.get(label)!() };
}

test("a strongOrder topic's send with partition or hash hints starts once the previous one has completed", async () => {
  const { sends, started, finish } = controlledSends();
  const first = sends.send([message({ body: Buffer.from('first') })]);
  const second = sends.send([message({ body: Buffer.from('second'), partitionId: -1, hashId: 7n })]);
  await settle();
  assert.deepEqual(started, ['first'], 'the second send waits for the first');
  finish('first');
  await first;
  await settle();
  assert.deepEqual(started, ['first', 'second']);
  finish('second');
  assert.equal((await second).length, 1);
});

test('sends without ordered messages, or of other topics, do not wait for one another', async () => {
  const { sends, started, finish } = controlledSends();
  const pending = [
    sends.send([message({ body: Buffer.from('ordered') })]),
    sends.send([message({ body: Buffer.from('unordered'), ordered: false })]),
    sends.send([message({ body: Buffer.from('random partition'), partitionId: -2 })]),
    sends.send([message({ body: Buffer.from('other topic'), topic: 'other' })]),
  ];
  await settle();
  assert.deepEqual([...started].sort(), ['ordered', 'other topic', 'random partition', 'unordered']);
  for (const label of started) finish(label);
  await Promise.all(pending);
});

test('a failed ordered send does not hold up the next one', async () => {
  const calls: string[] = [];
  const sends = new TopicSends('test cluster', async (_topic, indices, messages) => {
    const label = messages[indices[0]!]!.body.toString();
    calls.push(label);
    if (label === 'failing') throw new Error('sendTopic failed');
  });
  await sends.send([message({ body: Buffer.from('failing') })]).catch(() => undefined);
  await sends.send([message({ body: Buffer.from('next') })]);
  assert.deepEqual(calls, ['failing', 'next']);
});
