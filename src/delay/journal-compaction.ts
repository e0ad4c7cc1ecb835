/**
 * Rewrites the local Chronos' journal as one line per pending message. The records of the messages
 * pending when it starts are copied from the journal (in order of their offsets, read in windows of
 * a bounded size, so memory does not grow with the journal), each as it was written unless its
 * progress changed; meanwhile the journal takes appends as usual. Then, with appends held, what
 * was appended since the start is copied after them, the file is synced and renamed over the
 * journal, and the writer goes on in it. On any failure the journal is left as it was.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { JournalWriter } from './journal-writer';

const openFile = promisify(fs.open);
const closeFile = promisify(fs.close);
const syncFile = promisify(fs.fsync);
const rename = promisify(fs.rename);
const readFile = promisify(fs.read);
const writeFile = promisify(fs.write);
const WINDOW_BYTES = 1 << 20;

/** The records to keep, by their place in the journal (offsets in increasing order), and what to write for each. */
export interface CompactionRecords {
  readonly count: number;
  readonly offsets: Float64Array;
  /** Bytes of each record, its line end included. */
  readonly lengths: Uint32Array;
  /** The line (with its line end) to write for record i, given the record as journaled. */
  line(i: number, record: Buffer): Buffer;
}

export interface CompactionResult {
  /** Each record's offset and length in the new journal. */
  readonly offsets: Float64Array;
  readonly lengths: Uint32Array;
  /** Records at or past `tailFrom` in the old journal were appended during the compaction, and are now `tailShift` bytes further. */
  readonly tailFrom: number;
  readonly tailShift: number;
  /** Lines in the new journal. */
  readonly lines: number;
}

/**
 * Compacts `journal` (written by `writer`, whose file's first `from` bytes `records` describe) via
 * `aside`; `switched` runs when the writer has gone over to the new file, in the same turn.
 */
export async function compactJournal(
  journal: string,
  aside: string,
  writer: JournalWriter,
  from: number,
  records: CompactionRecords,
  switched: (result: CompactionResult) => void,
): Promise<void> {
  const source = writer.file.fd;
  const fd = await openFile(aside, 'w+');
  let renamed = false;
  try {
    const out = new Output(fd);
    const offsets = new Float64Array(records.count);
    const lengths = new Uint32Array(records.count);
    let window: Buffer = Buffer.alloc(0);
    let windowStart = 0;
    for (let i = 0; i < records.count; i++) {
      const offset = records.offsets[i]!;
      const length = records.lengths[i]!;
      if (offset < windowStart || offset + length > windowStart + window.length) {
        windowStart = offset;
        window = await readExactly(source, Math.max(length, Math.min(WINDOW_BYTES, from - offset)), offset);
      }
      const line = records.line(i, window.subarray(offset - windowStart, offset - windowStart + length));
      offsets[i] = out.position;
      lengths[i] = line.length;
      await out.add(line);
    }
    await out.end();
    const copied = out.position;
    await writer.exclusive(async (file) => {
      let tailLines = 0;
      for (let at = from; at < file.size; ) {
        const piece = await readExactly(file.fd, Math.min(WINDOW_BYTES, file.size - at), at);
        for (let nl = piece.indexOf(10); nl !== -1; nl = piece.indexOf(10, nl + 1)) tailLines++;
        await out.add(piece);
        at += piece.length;
      }
      await out.end();
      await syncFile(fd);
      await rename(aside, journal);
      renamed = true;
      const result = { offsets, lengths, tailFrom: from, tailShift: copied - from, lines: records.count + tailLines };
      return { fd, size: out.position, switched: () => switched(result) };
    });
  } catch (error) {
    if (!renamed) {
      await closeFile(fd).catch(() => undefined);
      await fs.promises.rm(aside, { force: true }).catch(() => undefined);
    }
    throw error;
  }
  await closeFile(source);
}

async function readExactly(fd: number, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  for (let done = 0; done < length; ) {
    const { bytesRead } = await readFile(fd, buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`chronos journal ends at ${position + done}, before ${position + length}`);
    done += bytesRead;
  }
  return buffer;
}

/** The new journal, written sequentially in writes of about WINDOW_BYTES. */
class Output {
  position = 0;
  private pieces: Buffer[] = [];
  private buffered = 0;
  private written = 0;

  constructor(private readonly fd: number) {}

  async add(piece: Buffer): Promise<void> {
    this.pieces.push(piece);
    this.buffered += piece.length;
    this.position += piece.length;
    if (this.buffered >= WINDOW_BYTES) await this.end();
  }

  /** Writes what is buffered. */
  async end(): Promise<void> {
    const data = Buffer.concat(this.pieces);
    this.pieces = [];
    this.buffered = 0;
    for (let done = 0; done < data.length; ) {
      const { bytesWritten } = await writeFile(this.fd, data, done, data.length - done, this.written);
      done += bytesWritten;
      this.written += bytesWritten;
    }
  }
}
