import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseCluster } from '../../src/routing/cluster';
import { choosePartition, hashModulo } from '../../src/routing/partition';

test('cluster choice follows DDMQ: partitionId, then hashId, then the key hash, then random', () => {
  const clusters = ['A', 'B', 'C'];
  const never = () => assert.fail('random must not be used');
  assert.equal(chooseCluster(['only'], { partitionId: 5, hashId: 0n, key: 'k' }, never), 'only');
  assert.equal(chooseCluster(clusters, { partitionId: 4, hashId: 99n, key: 'k' }, never), 'B');
  assert.equal(chooseCluster(clusters, { partitionId: -1, hashId: 5n, key: 'k' }, never), 'C');
  assert.equal(chooseCluster(clusters, { partitionId: -1, hashId: -5n, key: 'k' }, never), 'C');
  // |-2^63| mod 3 = 2 exactly; the original casts to int first and can index negatively
  assert.equal(chooseCluster(clusters, { partitionId: -1, hashId: -(2n ** 63n), key: 'k' }, never), 'C');
  // key hash: |-2147483648| mod 3 = 2
  assert.equal(chooseCluster(clusters, { partitionId: -2, hashId: 7n, key: 'polygenelubricants' }, never), 'C');
  assert.equal(chooseCluster(clusters, { partitionId: -2, hashId: 7n, key: 'hello' }, never), 'B'); // 99162322 mod 3 = 1
  assert.equal(chooseCluster(clusters, { partitionId: -2, hashId: 7n, key: undefined }, () => 0.99), 'C');
  assert.equal(chooseCluster(clusters, { partitionId: -2, hashId: 7n, key: undefined }, () => 0), 'A');
});

test('partition choice: explicit in range, |hashId| mod n exact, random below -1, out of range refused', () => {
  const never = () => assert.fail('random must not be used');
  assert.equal(choosePartition(3, 0n, 8, never), 3);
  assert.equal(choosePartition(8, 0n, 8, never), undefined);
  const expected: [bigint, number][] = [
    [0n, 0], [1n, 1], [7n, 7], [8n, 0], [-1n, 1], [-9n, 1], [2n ** 63n - 1n, 7], [-(2n ** 63n), 0],
  ];
  for (const [hashId, partition] of expected) assert.equal(choosePartition(-1, hashId, 8, never), partition, `hashId ${hashId}`);
  assert.equal(hashModulo(-(2n ** 63n), 3), 2);
  assert.equal(choosePartition(-2, 0n, 8, () => 0.5), 4);
  assert.equal(choosePartition(-100, 0n, 8, () => 0.999), 7);
});
