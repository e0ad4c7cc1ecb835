/** DDMQ's RocketMQ queue rule: explicit partition wrapped, |hashId| on 64 bits, random, another broker on retry. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstQueue, retryQueue, type WriteQueue } from '../../../src/storage/rocketmq4/queue-choice';

const queues: WriteQueue[] = [
  ...[0, 1, 2, 3].map((queueId) => ({ brokerName: 'broker-a', queueId })),
  ...[0, 1, 2].map((queueId) => ({ brokerName: 'broker-b', queueId })),
];
const never = () => assert.fail('no random draw expected');

test('an explicit partition is the queue at partitionId % n, past n wrapped as DDMQ does', () => {
  assert.deepEqual(firstQueue(queues, 5, 0n, never), { brokerName: 'broker-b', queueId: 1 });
  assert.deepEqual(firstQueue(queues, 7, 0n, never), { brokerName: 'broker-a', queueId: 0 });
  assert.deepEqual(firstQueue(queues, 2 ** 31 - 1, 0n, never), queues[(2 ** 31 - 1) % 7]);
});

test('partitionId -1 takes |hashId| % n on the exact 64-bit value, negative and extreme ones included', () => {
  assert.equal(firstQueue(queues, -1, 10n, never), queues[3]);
  assert.equal(firstQueue(queues, -1, -10n, never), queues[3]);
  assert.equal(firstQueue(queues, -1, 9_223_372_036_854_775_807n, never), queues[Number(9_223_372_036_854_775_807n % 7n)]);
  // 2^63 % 7 = 1; a double would have rounded 2^63 - 1 to 2^63 and given the same queue for both
  assert.equal(firstQueue(queues, -1, -9_223_372_036_854_775_808n, never), queues[1]);
  assert.notEqual(firstQueue(queues, -1, 9_223_372_036_854_775_807n, never), queues[1]);
});

test('other hints draw a queue at random', () => {
  assert.equal(firstQueue(queues, -2, 0n, () => 0), queues[0]);
  assert.equal(firstQueue(queues, -7, 0n, () => 0.999), queues[6]);
});

test('a retry goes to the first queue of another broker from a random start, or stays when there is none', () => {
  assert.equal(retryQueue(queues, 'broker-a', () => 0), queues[4], 'from queue 0 on, the first of broker-b');
  assert.equal(retryQueue(queues, 'broker-b', () => 5 / 7), queues[0], 'wraps around');
  assert.equal(retryQueue(queues, 'broker-a', () => 5 / 7), queues[5]);
  const single = queues.slice(0, 4);
  assert.equal(retryQueue(single, 'broker-a', () => 0.5), single[2], 'one broker only: the random queue');
});
