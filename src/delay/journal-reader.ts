/**
 * Reads the local Chronos' journal line by line in chunks of a bounded size, so that a journal of
 * any size loads (read whole, one past V8's largest string could not be read at all). Only a line
 * longer than a chunk, one message's record, is held whole. A read that fails throws: the caller
 * must not go on as if the journal were empty.
 */
import fs from 'node:fs';

/** What the reader needs of the file system (tests count or fail the reads). */
export interface JournalReadIo {
  /** One positional read into buffer[0, length); returns the bytes read, 0 at the end. */
  read(fd: number, buffer: Buffer, length: number, position: number): number;
}

export const fileSystemReadIo: JournalReadIo = {
  read: (fd, buffer, length, position) => fs.readSync(fd, buffer, 0, length, position),
};

export const JOURNAL_CHUNK_BYTES = 1 << 20;

export interface JournalScan {
  /** Bytes up to and including the last line end: what follows is a line a crash tore. */
  readonly complete: number;
  /** Bytes in the file. */
  readonly size: number;
}

/**
 * Calls `onLine` with each complete line (its bytes without the line end, and its offset in the
 * file), in order; a last line without its line end is left out and reported by `complete < size`.
 * The line's bytes are valid during the call only: the chunk they are in is read into again.
 */
export function scanJournal(
  fd: number,
  onLine: (line: Buffer, offset: number) => void,
  io: JournalReadIo = fileSystemReadIo,
  chunkBytes = JOURNAL_CHUNK_BYTES,
): JournalScan {
  const chunk = Buffer.allocUnsafe(chunkBytes);
  /** The start of a line that continues past the chunk it began in. */
  let partial: Buffer[] = [];
  let lineStart = 0;
  let position = 0;
  for (;;) {
    const read = io.read(fd, chunk, chunkBytes, position);
    if (read === 0) break;
    const data = chunk.subarray(0, read);
    let from = 0;
    for (let end = data.indexOf(10); end !== -1; end = data.indexOf(10, from)) {
      const piece = data.subarray(from, end);
      onLine(partial.length > 0 ? Buffer.concat([...partial, piece]) : piece, lineStart);
      partial = [];
      from = end + 1;
      lineStart = position + from;
    }
    if (from < read) partial.push(Buffer.from(data.subarray(from)));
    position += read;
  }
  return { complete: lineStart, size: position };
}
