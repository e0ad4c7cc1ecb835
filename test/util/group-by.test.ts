import assert from 'node:assert/strict';
import test from 'node:test';
import { addToGroup, groupBy } from '../../src/util/group-by';

test('groupBy keeps groups in order of first appearance and values in input order, with their indices', () => {
  const words = ['b1', 'a1', 'b2', 'c1', 'a2', 'b3'];
  const groups = groupBy(words, (w) => w[0]!);
  assert.deepEqual([...groups], [
    ['b', ['b1', 'b2', 'b3']],
    ['a', ['a1', 'a2']],
    ['c', ['c1']],
  ]);
  const byParity = groupBy(words, (_, i) => i % 2);
  assert.deepEqual([...byParity], [
    [0, ['b1', 'b2', 'a2']],
    [1, ['a1', 'c1', 'b3']],
  ]);
  assert.equal(groupBy([], () => 0).size, 0);
});

test('addToGroup makes a group on first use and appends to it after, keyed by identity', () => {
  const groups = new Map<object, number[]>();
  const first = {};
  const second = {};
  addToGroup(groups, first, 1);
  addToGroup(groups, second, 2);
  addToGroup(groups, first, 3);
  assert.deepEqual(groups.get(first), [1, 3]);
  assert.deepEqual(groups.get(second), [2]);
  assert.equal(groups.size, 2);
});
