/**
 * Appends to the local Chronos' journal with group commit: one write is in flight at a time, and
 * every line appended meanwhile goes into the next one. A line counts as journaled once its write
 * has reached the OS (no fsync, as for the rest of the journal), and only then is it applied (its
 * callback runs, in journal order, in the same turn as the write's completion), so what the
 * Chronos holds in memory is always what a replay of the file up to `size` gives.
 *
 * A failed write (a full or failing disk) is cut off the file again, and its lines are either
 * refused (an add or cancel: the client is answered with a failure) or kept (the outcome of a
 * delivery, which happened whatever the disk says): kept lines go first into every later write and
 * are retried every `retryMs` until the disk takes them, so the journal's order stays the order in
 * which things were applied.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { Timers } from '../time/timers';

/** What the writer needs of the file system (tests make it fail as a full disk does). */
export interface JournalWriteIo {
  /** One positional write of buffer[offset, offset + length); may write fewer bytes. */
  write(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  truncate(fd: number, length: number): Promise<void>;
}

export const fileSystemWriteIo: JournalWriteIo = {
  write: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) => fs.write(fd, buffer, offset, length, position, (error, written) => (error ? reject(error) : resolve(written)))),
  truncate: promisify(fs.ftruncate),
};

export interface ReplacementFile {
  readonly fd: number;
  readonly size: number;
  readonly switched: () => void;
}

interface Line {
  readonly bytes: Buffer;
  /** Written whatever it takes (a delivery's outcome), rather than refused when a write fails. */
  readonly kept: boolean;
  readonly applied: (offset: number) => void;
  readonly settle: (error?: unknown) => void;
}

export class JournalWriter {
  private queue: Line[] = [];
  private writing: Promise<void> | undefined;
  private paused = false;
  /** After a failed write, kept lines wait for the retry (or for a new line's write) instead of spinning. */
  private retry: unknown;
  /** A failed write may have left part of itself past `size`, and cutting it failed too. */
  private tail = false;
  private closed = false;

  constructor(
    /** Open for reading and writing; the writer writes at `size` and nowhere else. */
    private fd: number,
    private size: number,
    private readonly io: JournalWriteIo,
    private readonly timers: Timers,
    private readonly retryMs: number,
    private readonly onError: (error: unknown, lines: number) => void,
  ) {}

  /** The file and its journaled length: what body reads and compaction read. */
  get file(): { readonly fd: number; readonly size: number } {
    return { fd: this.fd, size: this.size };
  }

  /** Lines waiting for a write, kept outcomes included. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Journals a line, then calls `applied` with its offset; rejects when the disk did not take it. */
  append(bytes: Buffer, applied: (offset: number) => void): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the chronos journal is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes, kept: false, applied, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      this.flush(true);
    });
  }

  /** Journals a line whatever it takes: retried until the disk takes it, then `applied` is called. */
  appendKept(bytes: Buffer, applied: (offset: number) => void): void {
    this.queue.push({ bytes, kept: true, applied, settle: () => undefined });
    this.flush(this.retry === undefined);
  }

  /**
   * Runs `replace` with no write in flight and none starting (compaction: it writes the rewritten
   * journal). When it returns a file, the writer writes there from then on, and `switched` runs in
   * the same turn, so that nothing reads the new file with the old file's offsets. Lines appended
   * meanwhile wait, and go to whichever file is the journal then.
   */
  async exclusive(replace: (file: { fd: number; size: number }) => Promise<ReplacementFile | undefined>): Promise<void> {
    this.paused = true;
    try {
      while (this.writing) await this.writing;
      const next = await replace({ fd: this.fd, size: this.size });
      if (next) {
        this.fd = next.fd;
        this.size = next.size;
        this.tail = false;
        next.switched();
      }
    } finally {
      this.paused = false;
      this.flush(true);
    }
  }

  /** Resolves once nothing is being written and nothing but kept lines waiting for their retry is queued. */
  async idle(): Promise<void> {
    while (this.writing || (this.queue.length > 0 && this.queue.some((l) => !l.kept))) {
      await (this.writing ?? new Promise((r) => setImmediate(r)));
    }
  }

  /** Writes what is queued once more, then closes the file; lines the disk still refuses are reported lost. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timers.clear(this.retry);
    this.retry = undefined;
    while (this.writing) await this.writing;
    this.paused = true;
    if (this.queue.length > 0) await this.write(this.queue.splice(0), false);
    await promisify(fs.close)(this.fd);
  }

  private flush(now: boolean): void {
    if (this.writing || this.paused || this.queue.length === 0) return;
    if (!now && this.retry !== undefined) return;
    this.timers.clear(this.retry);
    this.retry = undefined;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.write(batch, true)
      .catch((error: unknown) => this.onError(error, batch.length))
      .finally(() => {
        this.writing = undefined;
        this.flush(this.queue.some((l) => !l.kept));
      });
  }

  private async write(batch: Line[], retryKept: boolean): Promise<void> {
    const data = batch.length === 1 ? batch[0]!.bytes : Buffer.concat(batch.map((l) => l.bytes));
    try {
      if (this.tail) await this.cutTail();
      for (let done = 0; done < data.length; ) {
        const written = await this.io.write(this.fd, data, done, data.length - done, this.size + done);
        if (written <= 0) throw new Error(`journal write made no progress (${written} of ${data.length - done} bytes)`);
        done += written;
      }
    } catch (error) {
      this.tail = true;
      await this.cutTail().catch(() => undefined);
      const kept = batch.filter((l) => l.kept);
      this.onError(error, batch.length);
      for (const line of batch) if (!line.kept) line.settle(error);
      if (retryKept && kept.length > 0) {
        this.queue = [...kept, ...this.queue];
        if (this.retry === undefined) {
          this.retry = this.timers.set(() => {
            this.retry = undefined;
            this.flush(true);
          }, this.retryMs);
        }
      }
      return;
    }
    // `size` passes each line just before it is applied: whatever an applied callback starts (a
    // compaction) sees the file up to `size` replay to exactly what is applied
    // a callback that throws must not strand the lines after it: each is in the file, so each settles
    let failure: { error: unknown } | undefined;
    for (const line of batch) {
      const offset = this.size;
      this.size += line.bytes.length;
      try {
        line.applied(offset);
      } catch (error) {
        failure ??= { error };
      }
      line.settle();
    }
    if (failure) throw failure.error;
  }

  private async cutTail(): Promise<void> {
    await this.io.truncate(this.fd, this.size);
    this.tail = false;
  }
}
