/**
 * src/storage/kafka/kafkajs.ts puts a linear grouping of messages by partition in the place of
 * kafkajs' quadratic one; the result must be the same, and the patch must be in place or loud.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { Message, PartitionMetadata } from 'kafkajs';
import { groupMessagesPerPartition } from '../../../src/storage/kafka/kafkajs';

const GROUPING_MODULE = require.resolve('kafkajs/src/producer/groupMessagesPerPartition');

type Grouping = typeof groupMessagesPerPartition;

/** kafkajs' own grouping, loaded afresh beside the patched one. */
function kafkajsGrouping(): Grouping {
  const patched = require.cache[GROUPING_MODULE];
  delete require.cache[GROUPING_MODULE];
  try {
    return require(GROUPING_MODULE) as Grouping;
  } finally {
    require.cache[GROUPING_MODULE] = patched;
  }
}

const partitionMetadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0, offlineReplicas: [] }));

test('kafkajs producers group with the linear grouping', () => {
  assert.equal(require(GROUPING_MODULE), groupMessagesPerPartition);
  assert.notEqual(kafkajsGrouping(), groupMessagesPerPartition);
});

test('the linear grouping gives what kafkajs gives: every message under its partition, in input order', () => {
  const theirs = kafkajsGrouping();
  let seed = 7;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
  for (const [count, partitions] of [[0, 4], [1, 1], [5, 3], [300, 1], [300, 8], [1000, 64]] as const) {
    const messages: Message[] = Array.from({ length: count }, (_, i) => ({ value: `m${i}`, partition: next() % partitions }));
    const args = { topic: 't', partitionMetadata: partitionMetadata(partitions), messages, partitioner: ({ message }: { message: Message }) => message.partition! };
    const ours = groupMessagesPerPartition(args);
    assert.deepEqual(ours, theirs(args), `${count} messages on ${partitions} partitions`);
    assert.equal(Object.values(ours).flat().length, count);
  }
  const noMetadata = { topic: 't', partitionMetadata: [], messages: [{ value: 'x', partition: 0 }], partitioner: () => 0 };
  assert.deepEqual(groupMessagesPerPartition(noMetadata), theirs(noMetadata));
});

test('kafkajs loaded before the patch stops the process with the reason', async () => {
  const patch = path.resolve(__dirname, '../../../src/storage/kafka/kafkajs.js');
  const run = promisify(execFile)(process.execPath, ['-e', `require('kafkajs'); require(${JSON.stringify(patch)})`]);
  await assert.rejects(run, (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /kafkajs was loaded before src\/storage\/kafka\/kafkajs.ts could patch it/);
    return true;
  });
});
