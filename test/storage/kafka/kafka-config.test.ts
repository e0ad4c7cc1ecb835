import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaClusterSchema } from '../../../src/storage/kafka/kafka-config';
import { schemaTools } from '../../../src/storage/storage-context';

const base = { bootstrapServers: ['h:9092'] };

function problems(config: Record<string, unknown>): string[] {
  const parsed = kafkaClusterSchema(schemaTools).safeParse({ ...base, ...config });
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('enableIdempotence is off by default and on with acks all and retries', () => {
  assert.equal(kafkaClusterSchema(schemaTools).parse(base).enableIdempotence, false);
  assert.deepEqual(problems({ enableIdempotence: true }), []);
  assert.deepEqual(problems({ enableIdempotence: true, acks: '-1', retries: 1 }), []);
});

test('enableIdempotence refuses acks other than all, and no retries, naming the key', () => {
  assert.deepEqual(problems({ enableIdempotence: true, acks: '1' }), ['acks: enableIdempotence needs acks "all" (or "-1"), not "1"']);
  assert.deepEqual(problems({ enableIdempotence: true, acks: '0', retries: 0 }), [
    'acks: enableIdempotence needs acks "all" (or "-1"), not "0"',
    'retries: enableIdempotence needs retries of at least 1: a produce whose answer was lost is only safe if sent again',
  ]);
  assert.deepEqual(problems({ enableIdempotence: false, acks: '1', retries: 0 }), [], 'without it, both are fine');
});
