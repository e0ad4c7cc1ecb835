/** The grouping of a send's messages by RocketMqStorage. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitByGroup } from '../../../src/storage/rocketmq/rocketmq-storage';
import type { OutgoingMessage } from '../../../src/storage/storage';

function message(body: Buffer | string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    topic: 'normal',
    key: undefined,
    tags: undefined,
    body: Buffer.from(body),
    properties: undefined,
    partitionId: -2,
    hashId: 0n,
    ordered: false,
    timestamp: Date.now(),
    ...extra,
  };
}

test('grouping a send by FIFO group takes linear time and keeps send order within each group', { timeout: 30_000 }, () => {
  const n = 30_000;
  const messages = Array.from({ length: n }, (_, i) => message('x', { ordered: true, partitionId: i % 10 === 0 ? -2 : -1, hashId: i % 3 === 0 ? 7n : 8n }));
  const indices = [...messages.keys()];
  const started = performance.now();
  const { normal, groups } = splitByGroup(indices, messages, true);
  const elapsed = performance.now() - started;
  assert.deepEqual(normal, indices.filter((i) => i % 10 === 0));
  assert.deepEqual([...groups.keys()], ['hash-8', 'hash-7']);
  assert.deepEqual(groups.get('hash-7'), indices.filter((i) => i % 10 !== 0 && i % 3 === 0));
  assert.deepEqual(groups.get('hash-8'), indices.filter((i) => i % 10 !== 0 && i % 3 !== 0));
  // copying each group on every member took seconds for this many
  assert.ok(elapsed < 1000, `grouped ${n} messages in ${elapsed.toFixed(0)} ms`);
  assert.deepEqual(splitByGroup(indices.slice(0, 4), messages, false), { normal: [0, 1, 2, 3], groups: new Map() });
});
