/**
 * One partition of the local log: a directory of segment files, appended to by group commit.
 *
 * Every file operation (writes, syncs, rolls, close) runs on one serial lane, so a sync never races
 * a roll that closes its descriptor. Appends that arrive while the lane is busy wait in `pending`
 * and are encoded into one buffer and written together when their turn comes, which is what keeps
 * the cost of a write (and of an fdatasync under the 'fsync' policy) per batch instead of per call.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage, ThrottledWarning } from '../../log';
import type { StorageLogger as Logger } from '../plugin-api';
import { StorageError } from '../storage';
import {
  closeFile,
  fileSystemIo,
  openFile,
  syncDirectory,
  truncateFile,
  writeFully,
  type SegmentIo,
} from './file-io';
import { isNotFound, listSegments, segmentPath } from './layout';
import { encodedRecordLength, encodeRecordInto, type RecordFields } from './record';
import { NO_PARTITION_METRICS, type PartitionMetrics } from './local-metrics';
import { scanSegment } from './segment-scan';

/**
 * When an append is acknowledged. 'write': after the write syscall (survives the process being
 * killed, not the OS crashing). 'fsync': after fdatasync. 'interval': after the write, with an
 * fdatasync every flushIntervalMs.
 */
export type FlushPolicy = 'write' | 'fsync' | 'interval';

export interface PartitionLogOptions {
  /** The partition's directory; created when missing. */
  readonly directory: string;
  readonly flushPolicy: FlushPolicy;
  readonly flushIntervalMs: number;
  /** A segment is rolled before it would grow past this; a larger record gets a segment alone. */
  readonly segmentBytes: number;
  /** Oldest segments are deleted while the partition is larger than this; 0 keeps everything. */
  readonly retentionBytes: number;
}

interface Segment {
  readonly baseOffset: bigint;
  readonly path: string;
  bytes: number;
}

interface PendingAppend {
  readonly records: readonly RecordFields[];
  readonly resolve: (firstOffset: bigint) => void;
  readonly reject: (error: StorageError) => void;
}

/** The part of an encoded batch that goes to one segment. */
interface SegmentChunk {
  readonly start: number;
  end: number;
  records: number;
  /** The chunk starts a new segment. */
  readonly rollFirst: boolean;
}

/** One line per second per kind of file failure, as every failure path of the proxy logs. */
export const FAILURE_LOG_INTERVAL_MS = 1000;

const NEW_SEGMENT_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL;

export class PartitionLog {
  private pending: PendingAppend[] = [];
  private writeQueued = false;
  private lane: Promise<void> = Promise.resolve();
  /** Bytes were written to the active segment since its last fdatasync. */
  private dirty = false;
  private closing: Promise<void> | undefined;
  private readonly flushTimer: NodeJS.Timeout | undefined;
  /** Bytes of every segment. */
  private bytes: number;

  private constructor(
    private readonly options: PartitionLogOptions,
    private readonly logger: Logger,
    /** Failures of file operations, which a full or failing disk repeats for every append. */
    private readonly failures: ThrottledWarning,
    private readonly io: SegmentIo,
    /** Oldest first; the last one is the segment being appended to. */
    private readonly segments: Segment[],
    private fd: number,
    private next: bigint,
    private readonly metrics: PartitionMetrics,
  ) {
    this.bytes = segments.reduce((sum, segment) => sum + segment.bytes, 0);
    this.reportSize();
    if (options.flushPolicy === 'interval') {
      this.flushTimer = setInterval(() => this.flushOnTimer(), options.flushIntervalMs);
      this.flushTimer.unref();
    }
  }

  /**
   * Opens the partition, creating it when missing. The last segment is validated record by record
   * and cut at the first incomplete or corrupt record: that is the torn tail of a crash, and cutting
   * it is what lets appends continue at the right offset without anything before it being lost.
   */
  static async open(
    options: PartitionLogOptions,
    logger: Logger,
    io: SegmentIo = fileSystemIo,
    failures: ThrottledWarning = new ThrottledWarning(logger, FAILURE_LOG_INTERVAL_MS),
    metrics: PartitionMetrics = NO_PARTITION_METRICS,
  ): Promise<PartitionLog> {
    const { directory } = options;
    const firstCreated = await fs.promises.mkdir(directory, { recursive: true });
    const segments: Segment[] = (await listSegments(directory)).map((segment) => ({ ...segment }));
    const last = segments.at(-1);
    if (last === undefined) {
      const first: Segment = { baseOffset: 0n, path: segmentPath(directory, 0n), bytes: 0 };
      const fd = await openFile(first.path, NEW_SEGMENT_FLAGS, 0o644);
      try {
        for (const changed of directoriesWithNewEntries(directory, firstCreated)) await syncDirectory(changed);
      } catch (error) {
        await closeFile(fd);
        throw error;
      }
      return new PartitionLog(options, logger, failures, io, [first], fd, 0n, metrics);
    }

    const scan = await scanSegment(last.path, last.baseOffset);
    const fd = await openFile(last.path, fs.constants.O_WRONLY);
    try {
      if (scan.validBytes < scan.fileBytes) {
        await truncateFile(fd, scan.validBytes);
        metrics.truncations.inc();
        logger.warn(
          {
            segment: last.path,
            removedBytes: scan.fileBytes - scan.validBytes,
            keptBytes: scan.validBytes,
            reason: scan.problem,
          },
          'local log: cut an incomplete or corrupt tail off the last segment',
        );
      }
    } catch (error) {
      await closeFile(fd);
      throw error;
    }
    last.bytes = scan.validBytes;
    const log = new PartitionLog(options, logger, failures, io, segments, fd, scan.nextOffset, metrics);
    await log.applyRetention();
    return log;
  }

  /** The offset the next appended record gets. */
  get nextOffset(): bigint {
    return this.next;
  }

  /**
   * Appends the records in order and resolves with the offset of the first once they are written
   * (and synced when the policy says so). Rejects with a StorageError: CLOSED after close(),
   * UNAVAILABLE when the file system fails, in which case later appends may still succeed.
   */
  append(records: readonly RecordFields[]): Promise<bigint> {
    if (this.closing !== undefined) {
      return Promise.reject(new StorageError('CLOSED', `local log ${this.options.directory} is closed`, true));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ records, resolve, reject });
      if (!this.writeQueued) {
        this.writeQueued = true;
        void this.enqueue(() => this.writePending());
      }
    });
  }

  /** Makes every acknowledged record durable (fdatasync), whatever the policy. */
  flush(): Promise<void> {
    return this.enqueue(() => this.syncIfDirty());
  }

  /** Lets queued appends finish, syncs, and closes the segment. Later appends fail with CLOSED. */
  close(): Promise<void> {
    if (this.closing === undefined) {
      clearInterval(this.flushTimer);
      this.closing = this.enqueue(async () => {
        try {
          await this.syncIfDirty();
        } finally {
          this.dirty = false;
          await closeFile(this.fd);
        }
      });
    }
    return this.closing;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1];
  }

  private enqueue(operation: () => Promise<void>): Promise<void> {
    const run = this.lane.then(operation);
    this.lane = run.catch(() => undefined);
    return run;
  }

  /** Writes everything pending as one batch and settles each append by how far the batch got. */
  private async writePending(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.writeQueued = false;
    const firstOffset = this.next;
    const syncEachBatch = this.options.flushPolicy === 'fsync';
    let written = 0;
    let acknowledged = 0;
    let failure: StorageError | undefined;
    try {
      const { buffer, chunks } = this.encode(batch, firstOffset);
      for (const chunk of chunks) {
        if (chunk.rollFirst) {
          // Only the active segment is synced later, so the one being left is synced now.
          await this.syncIfDirty();
          if (syncEachBatch) acknowledged = written;
          await this.roll(this.next);
        }
        await this.writeChunk(buffer, chunk);
        written += chunk.records;
        this.next += BigInt(chunk.records);
        if (!syncEachBatch) acknowledged = written;
      }
      if (syncEachBatch) {
        await this.syncIfDirty();
        acknowledged = written;
      }
    } catch (error) {
      failure = asUnavailable(error, this.active.path);
      this.failures.warn('append', { segment: this.active.path, records: written }, 'local log: append failed', error);
    }
    let start = 0;
    for (const append of batch) {
      const end = start + append.records.length;
      if (failure === undefined || end <= acknowledged) append.resolve(firstOffset + BigInt(start));
      else append.reject(failure);
      start = end;
    }
  }

  /** Encodes the batch into one buffer and splits it where the segment has to roll. */
  private encode(batch: readonly PendingAppend[], firstOffset: bigint): { buffer: Buffer; chunks: SegmentChunk[] } {
    const lengths: number[] = [];
    let total = 0;
    for (const append of batch) {
      for (const record of append.records) {
        const length = encodedRecordLength(record);
        lengths.push(length);
        total += length;
      }
    }
    const buffer = Buffer.allocUnsafe(total);
    const chunks: SegmentChunk[] = [];
    let chunk: SegmentChunk = { start: 0, end: 0, records: 0, rollFirst: false };
    let segmentBytes = this.active.bytes;
    let position = 0;
    let offset = firstOffset;
    let index = 0;
    for (const append of batch) {
      for (const record of append.records) {
        const length = lengths[index++];
        if (segmentBytes > 0 && segmentBytes + length > this.options.segmentBytes) {
          if (chunk.records > 0) chunks.push(chunk);
          chunk = { start: position, end: position, records: 0, rollFirst: true };
          segmentBytes = 0;
        }
        position = encodeRecordInto(buffer, position, offset++, record);
        chunk.end = position;
        chunk.records++;
        segmentBytes += length;
      }
    }
    if (chunk.records > 0) chunks.push(chunk);
    return { buffer, chunks };
  }

  private async writeChunk(buffer: Buffer, chunk: SegmentChunk): Promise<void> {
    const segment = this.active;
    try {
      await writeFully(this.io, this.fd, buffer, chunk.start, chunk.end, segment.bytes);
    } catch (error) {
      await this.cutPartialWrite(segment);
      throw error;
    }
    segment.bytes += chunk.end - chunk.start;
    this.bytes += chunk.end - chunk.start;
    this.metrics.bytes.set(this.bytes);
    this.dirty = true;
  }

  /**
   * Removes what a failed write left past the last good record. Should that fail too, no harm is
   * done: the next write starts at the same position and overwrites it, and reopening cuts it.
   */
  private async cutPartialWrite(segment: Segment): Promise<void> {
    try {
      await truncateFile(this.fd, segment.bytes);
    } catch (error) {
      this.failures.warn('cut', { segment: segment.path }, 'local log: could not cut a partial write', error);
    }
  }

  private async roll(baseOffset: bigint): Promise<void> {
    const segment: Segment = { baseOffset, path: segmentPath(this.options.directory, baseOffset), bytes: 0 };
    const fd = await openFile(segment.path, NEW_SEGMENT_FLAGS, 0o644);
    const previous = this.active;
    const previousFd = this.fd;
    this.fd = fd;
    this.segments.push(segment);
    this.metrics.segments.set(this.segments.length);
    this.dirty = false;
    try {
      await closeFile(previousFd);
    } catch (error) {
      this.failures.warn('close', { segment: previous.path }, 'local log: could not close a rolled segment', error);
    }
    await syncDirectory(this.options.directory);
    await this.applyRetention();
  }

  private async applyRetention(): Promise<void> {
    const limit = this.options.retentionBytes;
    if (limit <= 0) return;
    let total = this.segments.reduce((sum, segment) => sum + segment.bytes, 0);
    while (this.segments.length > 1 && total > limit) {
      const oldest = this.segments[0];
      try {
        await fs.promises.unlink(oldest.path);
      } catch (error) {
        if (!isNotFound(error)) {
          const segment = oldest.path;
          this.failures.warn('retention', { segment }, 'local log: could not delete a segment past retention', error);
          return;
        }
      }
      this.segments.shift();
      total -= oldest.bytes;
      this.bytes -= oldest.bytes;
      this.reportSize();
      this.logger.info({ segment: oldest.path, bytes: oldest.bytes }, 'local log: deleted a segment past retention');
    }
  }

  private async syncIfDirty(): Promise<void> {
    if (!this.dirty) return;
    const started = performance.now();
    try {
      await this.io.datasync(this.fd);
    } catch (error) {
      throw asUnavailable(error, this.active.path);
    }
    this.metrics.fsync.observe((performance.now() - started) / 1000);
    this.dirty = false;
  }

  private reportSize(): void {
    this.metrics.bytes.set(this.bytes);
    this.metrics.segments.set(this.segments.length);
  }

  private flushOnTimer(): void {
    this.flush().catch((error: unknown) => {
      this.failures.warn('flush', { directory: this.options.directory }, 'local log: periodic flush failed', error);
    });
  }
}

function asUnavailable(error: unknown, segment: string): StorageError {
  if (error instanceof StorageError) return error;
  return new StorageError('UNAVAILABLE', `local log ${segment}: ${errorMessage(error)}`, true, { cause: error });
}

/**
 * The directories whose entries changed when `directory` was made, `firstCreated` being the first
 * directory mkdir created (undefined when it existed): `directory` itself, which gains the first
 * segment, and the parent of every directory created.
 */
function directoriesWithNewEntries(directory: string, firstCreated: string | undefined): string[] {
  const changed = [directory];
  if (firstCreated === undefined) return changed;
  for (let created = directory; ; created = path.dirname(created)) {
    const parent = path.dirname(created);
    if (parent === created) break;
    changed.push(parent);
    if (created === firstCreated) break;
  }
  return changed;
}
