/**
 * Chronos' part, for local mode: keeps the delay messages pproxy accepted, and delivers each to
 * its topic at its trigger time (checked every 100 ms) through the proxy itself with the property
 * `from_chronos` (which lifts the delay-topic guard), as DDMQ's Chronos does (docs/ddmq/delay.md, "What Chronos does"). Loops (types 3 and 4)
 * are delivered again every `interval` seconds (type 3) or `interval^n` seconds capped at a day
 * (type 4) until `times` deliveries or past `expire`.
 *
 * Messages are keyed by their whole id (uniqDelayMsgId), as Chronos keys them, so two adds with the
 * same uuid are two messages. A cancel names a message by the id of one of its firings (the id the
 * add was answered with is firing 0; each delivery's key is its own firing's id, loop-schedule.ts):
 * as Chronos' tombstones do, it stops the message before the firing it names, or before the next
 * one when that firing was already made.
 *
 * A delivery refused with a code Chronos gives up on (11, 13, 14) drops its message: never silently,
 * each drop is counted (status() and the metrics) and logged, at most one line per second per code
 * with the count.
 * (The proxy refuses at add what could never be delivered, so these come from configuration changes.)
 *
 * Durability: every add and cancel is journaled (journal-writer.ts: group commit, written to the
 * OS) before accept() resolves and the client is answered; one the disk does not take rejects, and
 * is never delivered. A delivery's outcome is journaled too, retried until the disk takes it; until
 * then its message is neither delivered again nor advanced. On start the journal is replayed
 * (journal-reader.ts, in chunks), so pending messages survive a restart, and a delivery that was
 * due while the proxy was down happens at once; a journal that cannot be read stops the start.
 *
 * Memory: a pending message is its id, its progress and where its record is in the journal; the
 * body, tags and properties stay on disk and are read when it fires. A heap by due time
 * (due-heap.ts) finds what is due. Once the journal holds many more lines than messages pending, it
 * is rewritten with one line per pending message (journal-compaction.ts, while appends go on).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ThrottledWarning, type Logger } from '../log';
import { ResultCode } from '../protocol/result-codes';
import { emptyProducerMessage, type ProducerMessage } from '../core/message';
import { FROM_CHRONOS_PROPERTY } from '../core/validate';
import { backgroundTimers, type Timers } from '../time/timers';
import { syncDirectory } from '../storage/local/file-io';
import { NO_COUNT } from '../metrics/families';
import type { ChronosMetrics } from '../metrics/chronos-metrics';
import { DelayAction, DelayType } from './delay-check';
import { formatDelayId, parseDelayId, type DelayKey } from './delay-id';
import { DueHeap } from './due-heap';
import { compactJournal, type CompactionResult } from './journal-compaction';
import { fileSystemReadIo, JOURNAL_CHUNK_BYTES, scanJournal, type JournalReadIo } from './journal-reader';
import { fileSystemWriteIo, JournalWriter, type JournalWriteIo } from './journal-writer';
import { firingKey, originOf } from './loop-schedule';

const TICK_MS = 100;
const RETRY_MS = 1000;
/** At most one log line per this many ms per kind of drop or failure. */
const DROP_LOG_INTERVAL_MS = 1000;
/** The journal is compacted when it has this many lines and four times as many as messages pending. */
const COMPACT_AFTER_LINES = 10_000;
/** Deliveries under way at once, and their records' bytes: what is due beyond them waits its turn. */
const MAX_DELIVERIES = 1024;
const MAX_DELIVERY_BYTES = 64 << 20;
/** Codes after which Chronos gives a delivery up (DDMQ: 13, 14, 11). */
const FINAL_CODES = new Set<number>([ResultCode.FAIL_TOPIC_NOT_ALLOWED, ResultCode.FAIL_TOPIC_NOT_EXIST, ResultCode.FAIL_ILLEGAL_MSG]);

export interface AcceptedDelay {
  readonly action: number;
  readonly key: DelayKey;
  readonly topic: string;
  readonly body: Buffer;
  readonly tags: string | undefined;
  readonly properties: ReadonlyMap<string, string> | undefined;
}

type JournalKey = Record<keyof DelayKey, string | number>;

/** A message's record: the journal line of its add, where its body is kept until it fires. */
interface AddEntry {
  op: 'add';
  id?: string;
  key: JournalKey;
  topic: string;
  body: string;
  tags?: string;
  properties?: Record<string, string>;
  /** Written by compaction: the next trigger time (epoch seconds), the deliveries made, the firing a cancel stops it at. */
  fireAt?: string;
  timed?: string;
  cancelFrom?: string;
}

/**
 * A journal line. `id` is the message's id (its firing 0); for a cancel, the id the cancel named.
 * Journals written before messages were keyed by id have adds without `id`, and cancels and
 * deliveries naming a `uuid`: the message added last with that uuid, which was the only one kept.
 */
type JournalEntry =
  | AddEntry
  | { op: 'cancel'; id: string }
  | { op: 'fired'; id: string; timed: string }
  | { op: 'dropped'; id: string; code: number }
  | { op: 'cancel'; uuid: string }
  | { op: 'fired'; uuid: string; timed: string };

/** Replaying a journal of the earlier format: uuid -> id of the message added last with it. */
type LegacyIds = Map<string, string>;

interface Pending {
  /** The message's id, its key in `pending`. */
  readonly id: string;
  /** When it is to be delivered next (epoch ms): its next firing, or a retry. */
  due: number;
  /** Deliveries made. */
  timed: number;
  /** A cancel named this later firing: the message stops before it. */
  cancelFrom: number | undefined;
  /** Its record in the journal, line end included. */
  offset: number;
  length: number;
  /** Taken out of the heap: being delivered, or its outcome being journaled. */
  delivering: boolean;
}

export interface ChronosStatus {
  /** Messages waiting for a firing. */
  readonly pending: number;
  /** Messages given up since start: a delivery refused for good, or a journal line that could not be read. */
  readonly dropped: number;
}

/** Sends a message through the proxy (sendSync) and resolves with its result code. */
export type Deliver = (message: ProducerMessage) => Promise<ResultCode> | ResultCode;

/** What tests replace: the file calls, the retry timer, the read chunk. */
export interface ChronosIo {
  readonly read?: JournalReadIo;
  readonly write?: JournalWriteIo;
  readonly timers?: Timers;
  readonly chunkBytes?: number;
}

/** Metrics off. */
const NO_CHRONOS_METRICS: ChronosMetrics = { pending: NO_COUNT, delivered: NO_COUNT, retried: NO_COUNT, dropped: NO_COUNT };

export interface LocalChronosOptions {
  /** Default: Date.now. */
  readonly clock?: () => number;
  /** Journal lines past which it is compacted (when also 4x the messages pending). */
  readonly compactAfterLines?: number;
  /** The journal's file I/O and its retry timers; default: the file system and background timers. */
  readonly io?: ChronosIo;
  readonly metrics?: ChronosMetrics;
}

export class LocalChronos {
  private readonly pending = new Map<string, Pending>();
  private heap = new DueHeap<Pending>();
  private readonly journal: string;
  /** Where compaction writes before renaming over the journal. */
  private readonly aside: string;
  private readonly writer: JournalWriter;
  private readonly readIo: JournalReadIo;
  private journalLines = 0;
  private compaction: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Set by stop(): no delivery starts after it, however many are due. */
  private stopped = false;
  /** Set by close(): no compaction starts once the journal is being closed. */
  private closing = false;
  private deliveries = 0;
  private deliveryBytes = 0;
  private dropped = 0;
  private readonly warnings: ThrottledWarning;

  private readonly clock: () => number;
  private readonly compactAfterLines: number;
  private readonly metrics: ChronosMetrics;

  constructor(
    dir: string,
    private readonly deliver: Deliver,
    private readonly logger: Logger,
    { clock = Date.now, compactAfterLines = COMPACT_AFTER_LINES, io = {}, metrics = NO_CHRONOS_METRICS }: LocalChronosOptions = {},
  ) {
    this.clock = clock;
    this.compactAfterLines = compactAfterLines;
    this.metrics = metrics;
    this.warnings = new ThrottledWarning(logger, DROP_LOG_INTERVAL_MS, clock);
    this.readIo = io.read ?? fileSystemReadIo;
    fs.mkdirSync(dir, { recursive: true });
    this.journal = path.join(dir, 'journal.jsonl');
    this.aside = `${this.journal}.compacting`;
    const { fd, size } = this.replay(io.chunkBytes ?? JOURNAL_CHUNK_BYTES);
    this.metrics.pending.set(this.pending.size);
    this.writer = new JournalWriter(fd, size, io.write ?? fileSystemWriteIo, io.timers ?? backgroundTimers, RETRY_MS, (err, lines) =>
      this.warnings.warn(`journal:${errorCode(err)}`, { err, lines, journal: this.journal }, 'chronos journal: write failed'),
    );
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Stops delivering, waits for the deliveries under way, lets what is queued be written, and closes the journal. */
  async close(): Promise<void> {
    this.stop();
    while (this.deliveries > 0) await new Promise((r) => setTimeout(r, 10));
    this.closing = true;
    while (this.compaction) await this.compaction;
    await this.writer.close();
  }

  /** Resolves once no compaction runs and nothing but an outcome waiting for its retry is left to write. */
  async idle(): Promise<void> {
    for (;;) {
      while (this.compaction) await this.compaction;
      await this.writer.idle();
      if (!this.compaction) return;
    }
  }

  status(): ChronosStatus {
    return { pending: this.pending.size, dropped: this.dropped };
  }

  /**
   * Journals an accepted add or cancel and applies it; resolves once it is journaled (the client is
   * answered OK only then), rejects when the disk did not take it (nor is it applied).
   */
  async accept(delay: AcceptedDelay): Promise<void> {
    const entry: JournalEntry =
      delay.action === DelayAction.CANCEL
        ? { op: 'cancel', id: formatDelayId(delay.key) }
        : addEntry(delay.key, delay.topic, delay.body, delay.tags, delay.properties);
    const line = journalLine(entry);
    await this.writer.append(line, (offset) => {
      this.journalLines++;
      const added = this.apply(entry, offset, line.length, undefined);
      if (added) this.heap.push(added);
      this.metrics.pending.set(this.pending.size);
    });
    this.maybeCompact();
  }

  /** Reads the journal, cutting a torn last line; returns it open for the writer. */
  private replay(chunkBytes: number): { fd: number; size: number } {
    fs.rmSync(this.aside, { force: true }); // a compaction a crash interrupted
    const fd = fs.openSync(this.journal, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    const legacy: LegacyIds = new Map();
    let scan;
    try {
      scan = scanJournal(fd, (line, offset) => this.replayLine(line, offset, legacy), this.readIo, chunkBytes);
      // A crash in the middle of an append leaves a torn last line: cut it, or the next append would
      // continue it and be lost with it at the next start.
      if (scan.complete < scan.size) {
        fs.ftruncateSync(fd, scan.complete);
        this.logger.warn({ journal: this.journal }, 'chronos journal: torn last line cut');
      }
    } catch (err) {
      fs.closeSync(fd);
      this.logger.error({ err, journal: this.journal }, 'chronos journal could not be read; its pending delay messages are kept there');
      throw new Error(`chronos journal ${this.journal} could not be read: ${(err as Error).message}`, { cause: err });
    }
    this.heap = DueHeap.of([...this.pending.values()]);
    if (this.pending.size > 0) this.logger.info({ pending: this.pending.size }, 'chronos: pending delay messages restored');
    return { fd, size: scan.complete };
  }

  private replayLine(line: Buffer, offset: number, legacy: LegacyIds): void {
    this.journalLines++;
    try {
      this.apply(JSON.parse(line.toString('utf8')) as JournalEntry, offset, line.length + 1, legacy);
    } catch {
      this.dropped++;
      this.metrics.dropped.inc();
      this.warnings.warn('unreadable', { journal: this.journal, dropped: this.dropped }, 'chronos journal: unreadable line skipped');
    }
  }

  /** Applies a journal line (at `offset`, `length` bytes); returns the message an add made. */
  private apply(entry: JournalEntry, offset: number, length: number, legacy: LegacyIds | undefined): Pending | undefined {
    if (entry.op === 'dropped') {
      this.pending.delete(entry.id);
    } else if (entry.op === 'cancel') {
      if ('id' in entry) this.cancel(parseDelayId(entry.id));
      else this.remove(legacy?.get(entry.uuid));
    } else if (entry.op === 'fired') {
      const p = this.pending.get(('id' in entry ? entry.id : legacy?.get(entry.uuid)) ?? '');
      if (p) this.advance(p, Number(entry.timed));
    } else {
      const key = keyOf(entry.key);
      const id = flatString(formatDelayId(key));
      if (entry.id === undefined && legacy) {
        // the earlier format kept one message per uuid: this add replaced the one before it
        const replaced = legacy.get(key.uuid);
        if (replaced !== id) this.remove(replaced);
        legacy.set(key.uuid, id);
      }
      const timed = entry.timed !== undefined ? Number(entry.timed) : 0;
      const p: Pending = {
        id,
        due: dueMs(key, timed),
        timed,
        cancelFrom: entry.cancelFrom !== undefined ? Number(entry.cancelFrom) : undefined,
        offset,
        length,
        delivering: false,
      };
      this.pending.set(id, p);
      return p;
    }
    return undefined;
  }

  /** A cancel naming `firing`: its message stops before that firing, or at once if it was made. */
  private cancel(firing: DelayKey): void {
    const origin = originOf(firing);
    const p = origin && this.pending.get(formatDelayId(origin));
    if (!p) return;
    const timed = Number(firing.timed);
    if (timed <= p.timed) this.remove(p.id);
    else if (p.cancelFrom === undefined || timed < p.cancelFrom) p.cancelFrom = timed;
  }

  private remove(id: string | undefined): void {
    if (id === undefined || !this.pending.delete(id)) return;
    // removed messages stay in the heap until they come up: shed them when they are most of it
    if (this.heap.size > 1024 && this.heap.size > 2 * this.pending.size) this.heap.retain((p) => this.pending.get(p.id) === p);
  }

  /** After the delivery numbered `timed` (from 1): the next trigger time, or done. */
  private advance(p: Pending, timed: number): void {
    p.timed = timed;
    const key = parseDelayId(p.id);
    if (key.type === DelayType.DELAY || BigInt(timed) >= key.times || (p.cancelFrom !== undefined && timed >= p.cancelFrom)) {
      this.remove(p.id);
      return;
    }
    if (firingKey(key, BigInt(timed)).timestamp > key.expire) this.remove(p.id);
    else p.due = dueMs(key, timed);
  }

  /** Starts the deliveries that are due, as many as the bounds let. */
  private tick(): void {
    if (this.stopped) return;
    const now = this.clock();
    while (this.deliveries < MAX_DELIVERIES && this.deliveryBytes < MAX_DELIVERY_BYTES) {
      const p = this.heap.popDue(now);
      if (!p) return;
      if (this.pending.get(p.id) === p) this.fire(p);
    }
  }

  private fire(p: Pending): void {
    let message: ProducerMessage;
    try {
      message = this.message(p);
    } catch (err) {
      if (errorCode(err) !== undefined) {
        // the disk did not give the record back: try again later
        this.warnings.warn(`read:${errorCode(err)}`, { err, journal: this.journal }, 'chronos journal: a delay message could not be read; retried');
        this.metrics.retried.inc();
        p.due = this.clock() + RETRY_MS;
        this.heap.push(p);
      } else {
        this.drop(p, ResultCode.FAIL_ILLEGAL_MSG, 'unreadable', { err }, 'chronos journal: a delay message record is unreadable; the delay message is dropped');
      }
      return;
    }
    p.delivering = true;
    // what is charged is given back, even if a compaction moves the record meanwhile
    const charged = p.length;
    this.deliveries++;
    this.deliveryBytes += charged;
    void Promise.resolve()
      .then(() => this.deliver(message))
      .then(
        (code) => this.delivered(p, code, charged),
        () => this.delivered(p, ResultCode.FAIL_UNKNOWN, charged),
      )
      .catch((err: unknown) => this.logger.error({ err, id: p.id }, 'chronos: a delivery outcome could not be recorded'));
  }

  private delivered(p: Pending, code: ResultCode, charged: number): void {
    this.deliveries--;
    this.deliveryBytes -= charged;
    if (this.pending.get(p.id) !== p) {
      p.delivering = false; // cancelled meanwhile
    } else if (code === ResultCode.OK) {
      this.metrics.delivered.inc();
      const timed = p.timed + 1;
      this.journalOutcome({ op: 'fired', id: p.id, timed: String(timed) }, () => {
        p.delivering = false;
        if (this.pending.get(p.id) !== p) return;
        this.advance(p, timed);
        if (this.pending.get(p.id) === p) this.heap.push(p);
      });
    } else if (FINAL_CODES.has(code)) {
      this.drop(p, code, `refused:${code}`, { topic: this.topicOf(p), code }, 'chronos: delivery refused for good; the delay message is dropped');
    } else {
      this.metrics.retried.inc();
      p.delivering = false;
      p.due = this.clock() + RETRY_MS;
      this.heap.push(p);
    }
    this.tick();
  }

  /** Gives a message up, counted and logged, and journals that so a restart does not bring it back. */
  private drop(p: Pending, code: ResultCode, warning: string, fields: Record<string, unknown>, message: string): void {
    this.dropped++;
    this.metrics.dropped.inc();
    this.warnings.warn(warning, { ...fields, id: p.id, dropped: this.dropped }, message);
    p.delivering = true;
    this.journalOutcome({ op: 'dropped', id: p.id, code }, () => {
      p.delivering = false;
      if (this.pending.get(p.id) === p) this.remove(p.id);
    });
  }

  private journalOutcome(entry: JournalEntry, applied: () => void): void {
    this.writer.appendKept(journalLine(entry), () => {
      this.journalLines++;
      applied();
      this.metrics.pending.set(this.pending.size);
      this.maybeCompact();
    });
  }

  /** The message's record, read back from the journal. */
  private record(p: Pending): AddEntry {
    const { fd } = this.writer.file;
    const buffer = Buffer.allocUnsafe(p.length);
    for (let done = 0; done < p.length; ) {
      const read = this.readIo.read(fd, buffer.subarray(done), p.length - done, p.offset + done);
      if (read === 0) throw new Error(`the journal ends before the record at ${p.offset}`);
      done += read;
    }
    const entry = JSON.parse(buffer.toString('utf8')) as JournalEntry;
    if (entry.op !== 'add' || formatDelayId(keyOf(entry.key)) !== p.id) throw new Error(`the record at ${p.offset} is not the add of ${p.id}`);
    return entry;
  }

  private topicOf(p: Pending): string | undefined {
    try {
      return this.record(p).topic;
    } catch {
      return undefined;
    }
  }

  /** The re-delivered message: the user topic, key = the id of this delivery, `from_chronos` set. */
  private message(p: Pending): ProducerMessage {
    const record = this.record(p);
    const properties = new Map(Object.entries(record.properties ?? {}));
    properties.set(FROM_CHRONOS_PROPERTY, FROM_CHRONOS_PROPERTY);
    return {
      ...emptyProducerMessage(),
      topic: record.topic,
      key: formatDelayId(firingKey(parseDelayId(p.id), BigInt(p.timed))),
      body: Buffer.from(record.body, 'base64'),
      tags: record.tags,
      partitionId: -2,
      properties,
    };
  }

  /** Called once a journaled change is applied in memory, which compaction writes out. */
  private maybeCompact(): void {
    if (this.closing || this.compaction || this.journalLines < this.compactAfterLines || this.journalLines < 4 * this.pending.size) return;
    this.compaction = this.compact().finally(() => {
      this.compaction = undefined;
      // what was appended while it ran may be most of the journal again
      this.maybeCompact();
    });
  }

  /** Rewrites the journal as one line per pending message; on failure the long journal stays. */
  private async compact(): Promise<void> {
    const before = this.journalLines;
    const from = this.writer.file.size;
    const live = [...this.pending.values()];
    if (!live.every((p, i) => i === 0 || live[i - 1]!.offset < p.offset)) live.sort((a, b) => a.offset - b.offset);
    const offsets = Float64Array.from(live, (p) => p.offset);
    const lengths = Uint32Array.from(live, (p) => p.length);
    // the progress at this point; what happens later is in the lines appended meanwhile
    const timed = Float64Array.from(live, (p) => p.timed);
    const cancelFrom = Float64Array.from(live, (p) => p.cancelFrom ?? Number.NaN);
    const line = (i: number, record: Buffer): Buffer => {
      if (timed[i] === 0 && Number.isNaN(cancelFrom[i])) return record;
      const entry = JSON.parse(record.toString('utf8')) as AddEntry;
      const key = keyOf(entry.key);
      entry.fireAt = firingKey(key, BigInt(timed[i]!)).timestamp.toString();
      entry.timed = String(timed[i]);
      if (!Number.isNaN(cancelFrom[i])) entry.cancelFrom = String(cancelFrom[i]);
      return journalLine(entry);
    };
    const switched = (result: CompactionResult) => {
      for (const p of this.pending.values()) if (p.offset >= result.tailFrom) p.offset += result.tailShift;
      live.forEach((p, i) => {
        p.offset = result.offsets[i]!;
        p.length = result.lengths[i]!;
      });
      this.journalLines = result.lines;
    };
    try {
      await compactJournal(this.journal, this.aside, this.writer, from, { count: live.length, offsets, lengths, line }, switched);
      void syncDirectory(path.dirname(this.journal)).catch((err: unknown) => this.logger.warn({ err }, 'chronos journal: directory sync after compaction failed'));
      this.logger.info({ before, after: this.journalLines }, 'chronos journal compacted');
    } catch (err) {
      this.logger.error({ err, journal: this.journal }, 'chronos journal compaction failed; appending to the old journal');
      // try again after as many lines again, not at every append
      this.journalLines = 0;
    }
  }
}

function keyOf(k: JournalKey): DelayKey {
  return {
    timestamp: BigInt(k.timestamp),
    type: Number(k.type),
    expire: BigInt(k.expire),
    times: BigInt(k.times),
    timed: BigInt(k.timed),
    interval: BigInt(k.interval),
    seq: Number(k.seq),
    uuid: String(k.uuid),
  };
}

/** When firing `timed` of the message `key` is due, epoch ms. */
function dueMs(key: DelayKey, timed: number): number {
  return Number(firingKey(key, BigInt(timed)).timestamp) * 1000;
}

function addEntry(key: DelayKey, topic: string, body: Buffer, tags: string | undefined, properties: ReadonlyMap<string, string> | undefined): AddEntry {
  return {
    op: 'add',
    id: formatDelayId(key),
    key: Object.fromEntries(Object.entries(key).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v])) as JournalKey,
    topic,
    body: body.toString('base64'),
    ...(tags !== undefined && { tags }),
    ...(properties && properties.size > 0 && { properties: Object.fromEntries(properties) }),
  };
}

function journalLine(entry: JournalEntry): Buffer {
  return Buffer.from(`${JSON.stringify(entry)}\n`, 'utf8');
}

/**
 * `text` as one flat string: an id built by concatenation is a tree of its parts (several hundred
 * bytes), and it is kept for as long as its message is pending.
 */
function flatString(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** The system error code of a failed file call (ENOSPC, EIO, ...), undefined for any other error. */
function errorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
