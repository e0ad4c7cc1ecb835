/** The due-time index pops items in due order, only once due, and sheds removed items. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DueHeap } from '../../src/delay/due-heap';

test('items come out in order of their due time, each once it is due', () => {
  const dues = Array.from({ length: 200 }, (_, i) => (i * 7919) % 1000);
  const heap = DueHeap.of(dues.slice(0, 100).map((due) => ({ due })));
  for (const due of dues.slice(100)) heap.push({ due });
  assert.equal(heap.popDue(-1), undefined, 'nothing is due before the earliest');
  const out: number[] = [];
  for (let item = heap.popDue(500); item; item = heap.popDue(500)) out.push(item.due);
  assert.deepEqual(out, dues.filter((d) => d <= 500).sort((a, b) => a - b));
  heap.retain((item) => item.due % 2 === 0);
  const rest: number[] = [];
  for (let item = heap.popDue(Infinity); item; item = heap.popDue(Infinity)) rest.push(item.due);
  assert.deepEqual(rest, dues.filter((d) => d > 500 && d % 2 === 0).sort((a, b) => a - b));
});
