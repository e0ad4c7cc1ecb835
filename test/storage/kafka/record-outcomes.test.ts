/**
 * How kafkajs' answer to a send becomes each record's outcome: offsets counted per partition, and
 * no record counted as stored when kafkajs did not send it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecordMetadata } from '../../../src/storage/kafka/kafkajs';
import { recordOutcomes } from '../../../src/storage/kafka/kafka-storage';
import { StorageError } from '../../../src/storage/storage';

const unsent = (partition: number) => new StorageError('UNAVAILABLE', `partition ${partition} not sent`, true);
const acked = (partition: number, baseOffset: string): RecordMetadata => ({ topicName: 't', partition, errorCode: 0, baseOffset });
const plain = (outcomes: ReturnType<typeof recordOutcomes>) =>
  outcomes.map((o) => (o.ok ? `${o.partition}@${o.offset ?? '?'}` : `${o.error.code} ${o.error.retriable ? 'retriable' : 'final'}: ${o.error.message}`));

test('offsets count up from each partition base offset, in record order', () => {
  const records = [{ partition: 1 }, { partition: 0 }, { partition: 1 }, { partition: 1 }];
  assert.deepEqual(plain(recordOutcomes(records, [acked(0, '7'), acked(1, '40')], -1, unsent)), ['1@40', '0@7', '1@41', '1@42']);
  assert.deepEqual(plain(recordOutcomes([{ partition: 0 }], [acked(0, '-1')], 1, unsent)), ['0@?'], 'no offset when the broker gives none');
});

test('a partition kafkajs left out of its answer (no metadata for it) fails retriably instead of counting as stored', () => {
  // kafkajs resolves a send to a partition missing from its producer's metadata with no entry and no error
  const records = [{ partition: 0 }, { partition: 3 }, { partition: 0 }];
  assert.deepEqual(plain(recordOutcomes(records, [acked(0, '5')], -1, unsent)), ['0@5', 'UNAVAILABLE retriable: partition 3 not sent', '0@6']);
});

test('with acks 0 the broker answers nothing, and every record counts as sent', () => {
  assert.deepEqual(plain(recordOutcomes([{ partition: 0 }, { partition: 2 }], [], 0, unsent)), ['0@?', '2@?']);
});
