/**
 * The Chronos journal is read in chunks of a bounded size, whatever its size, and a torn last line
 * is reported rather than read.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileSystemReadIo, scanJournal, type JournalReadIo } from '../../src/delay/journal-reader';
import { tempDir } from '../helpers/config';

function countingIo(): { io: JournalReadIo; asked: number[] } {
  const asked: number[] = [];
  return { io: { read: (fd, buffer, length, position) => (asked.push(length), fileSystemReadIo.read(fd, buffer, length, position)) }, asked };
}

test('a journal many times its chunk is read in reads of at most a chunk, every line whole and at its offset', (t) => {
  const file = path.join(tempDir(t), 'journal.jsonl');
  // short lines, and one three chunks long
  const lines = Array.from({ length: 500 }, (_, i) => (i === 250 ? 'x'.repeat(3000) : `line ${i} ${'y'.repeat(i % 37)}`));
  fs.writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
  const fd = fs.openSync(file, 'r');
  t.after(() => fs.closeSync(fd));
  const { io, asked } = countingIo();
  const seen: { text: string; offset: number }[] = [];
  const scan = scanJournal(fd, (line, offset) => seen.push({ text: line.toString(), offset }), io, 1000);
  const size = fs.statSync(file).size;
  assert.deepEqual(scan, { complete: size, size });
  assert.deepEqual(seen.map((s) => s.text), lines);
  let offset = 0;
  for (const [i, s] of seen.entries()) {
    assert.equal(s.offset, offset, `line ${i}'s offset`);
    offset += Buffer.byteLength(lines[i]!) + 1;
  }
  assert.ok(asked.length >= size / 1000, `${asked.length} reads of a ${size}-byte journal`);
  assert.ok(asked.every((n) => n <= 1000), 'no read over the chunk size');
});

test('a last line without its line end is not read, and is reported as torn', (t) => {
  const file = path.join(tempDir(t), 'journal.jsonl');
  fs.writeFileSync(file, 'one\ntwo\nthr');
  const fd = fs.openSync(file, 'r');
  t.after(() => fs.closeSync(fd));
  const seen: string[] = [];
  assert.deepEqual(scanJournal(fd, (line) => seen.push(line.toString()), fileSystemReadIo, 3), { complete: 8, size: 11 });
  assert.deepEqual(seen, ['one', 'two']);
});
