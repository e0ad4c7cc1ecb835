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
 * each drop is counted (status()) and logged, at most one line per second per code with the count.
 * (The proxy refuses at add what could never be delivered, so these come from configuration changes.)
 *
 * Durability: every accepted add, cancel and delivery is appended to a journal before the client is
 * answered; on start the journal is replayed, so pending messages survive a restart, and a delivery
 * that was due while the proxy was down happens at once. Once the journal holds many more lines
 * than messages pending, it is rewritten with one line per pending message (written aside, synced,
 * then renamed over it), so it stays proportional to what is pending.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ThrottledWarning, type Logger } from '../log';
import { ResultCode } from '../protocol/result-codes';
import { emptyProducerMessage, type ProducerMessage } from '../core/message';
import { FROM_CHRONOS_PROPERTY } from '../core/validate';
import { DelayAction, DelayType } from './delay-check';
import { syncDirectory } from '../storage/local/file-io';
import { formatDelayId, parseDelayId, type DelayKey } from './delay-id';
import { originOf, secondsBeforeFiring } from './loop-schedule';

const TICK_MS = 100;
const RETRY_MS = 1000;
/** At most one log line per this many ms per kind of drop. */
const DROP_LOG_INTERVAL_MS = 1000;
/** The journal is compacted when it has this many lines and four times as many as messages pending. */
const COMPACT_AFTER_LINES = 10_000;
/** Compaction writes the journal in slices of about this many characters. */
const COMPACT_SLICE_CHARS = 1 << 20;
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

/**
 * A journal line. `id` is the message's id (its firing 0); for a cancel, the id the cancel named.
 * Journals written before messages were keyed by id have adds without `id`, and cancels and
 * deliveries naming a `uuid`: the message added last with that uuid, which was the only one kept.
 */
type JournalEntry =
  | {
      op: 'add';
      id?: string;
      key: Record<keyof DelayKey, string | number>;
      topic: string;
      body: string;
      tags?: string;
      properties?: Record<string, string>;
      /** Written by compaction: the next trigger time (epoch seconds), the deliveries made, the firing a cancel stops it at. */
      fireAt?: string;
      timed?: string;
      cancelFrom?: string;
    }
  | { op: 'cancel'; id: string }
  | { op: 'fired'; id: string; timed: string }
  | { op: 'dropped'; id: string; code: number }
  | { op: 'cancel'; uuid: string }
  | { op: 'fired'; uuid: string; timed: string };

/** Replaying a journal of the earlier format: uuid -> id of the message added last with it. */
type LegacyIds = Map<string, string>;

interface Pending {
  /** The message's id, its key in `pending`. */
  id: string;
  key: DelayKey;
  topic: string;
  body: Buffer;
  tags: string | undefined;
  properties: Map<string, string>;
  /** Next trigger time, epoch seconds, and how many deliveries were made. */
  fireAt: bigint;
  timed: bigint;
  /** A cancel named this later firing: the message stops before it. */
  cancelFrom: bigint | undefined;
  notBefore: number;
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

export class LocalChronos {
  private readonly pending = new Map<string, Pending>();
  private readonly journal: string;
  /** Where compaction writes before renaming over the journal. */
  private readonly aside: string;
  private journalLines = 0;
  private timer: NodeJS.Timeout | undefined;
  private dropped = 0;
  private readonly drops: ThrottledWarning;

  constructor(
    dir: string,
    private readonly deliver: Deliver,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
    private readonly compactAfterLines = COMPACT_AFTER_LINES,
  ) {
    this.drops = new ThrottledWarning(logger, DROP_LOG_INTERVAL_MS, clock);
    fs.mkdirSync(dir, { recursive: true });
    this.journal = path.join(dir, 'journal.jsonl');
    this.aside = `${this.journal}.compacting`;
    this.replay();
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  status(): ChronosStatus {
    return { pending: this.pending.size, dropped: this.dropped };
  }

  /** Records an accepted add or cancel (called before the client is answered OK). */
  accept(delay: AcceptedDelay): void {
    const entry: JournalEntry =
      delay.action === DelayAction.CANCEL
        ? { op: 'cancel', id: formatDelayId(delay.key) }
        : addEntry(delay.key, delay.topic, delay.body, delay.tags, delay.properties);
    this.append(entry);
    this.apply(entry, undefined);
    this.maybeCompact();
  }

  private append(entry: JournalEntry): void {
    fs.appendFileSync(this.journal, `${JSON.stringify(entry)}\n`);
    this.journalLines++;
  }

  /** Called once a journaled change is applied in memory, which compaction writes out. */
  private maybeCompact(): void {
    if (this.journalLines >= this.compactAfterLines && this.journalLines >= 4 * this.pending.size) this.compact();
  }

  /** Rewrites the journal as one line per pending message; on failure the long journal stays. */
  private compact(): void {
    const before = this.journalLines;
    try {
      const fd = fs.openSync(this.aside, 'w');
      try {
        // in slices: the journal as one string could outgrow what a string can hold
        let slice: string[] = [];
        let sliceLength = 0;
        for (const p of this.pending.values()) {
          const entry = {
            ...addEntry(p.key, p.topic, p.body, p.tags, p.properties),
            fireAt: p.fireAt.toString(),
            timed: p.timed.toString(),
            ...(p.cancelFrom !== undefined && { cancelFrom: p.cancelFrom.toString() }),
          };
          const line = `${JSON.stringify(entry)}\n`;
          slice.push(line);
          sliceLength += line.length;
          if (sliceLength >= COMPACT_SLICE_CHARS) {
            writeAll(fd, Buffer.from(slice.join('')));
            slice = [];
            sliceLength = 0;
          }
        }
        writeAll(fd, Buffer.from(slice.join('')));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(this.aside, this.journal);
      void syncDirectory(path.dirname(this.journal)).catch((err: unknown) => this.logger.warn({ err }, 'chronos journal: directory sync after compaction failed'));
      this.journalLines = this.pending.size;
      this.logger.info({ before, after: this.pending.size }, 'chronos journal compacted');
    } catch (err) {
      this.logger.error({ err, journal: this.journal }, 'chronos journal compaction failed; appending to the old journal');
      // try again after as many lines again, not at every append
      this.journalLines = 0;
    }
  }

  private replay(): void {
    fs.rmSync(this.aside, { force: true }); // a compaction a crash interrupted
    let text: string;
    try {
      text = fs.readFileSync(this.journal, 'utf8');
    } catch {
      return;
    }
    // A crash in the middle of an append leaves a torn last line: cut it, or the next append would
    // continue it and be lost with it at the next start.
    if (text.length > 0 && !text.endsWith('\n')) {
      const kept = text.slice(0, text.lastIndexOf('\n') + 1);
      fs.truncateSync(this.journal, Buffer.byteLength(kept));
      this.logger.warn({ journal: this.journal }, 'chronos journal: torn last line cut');
      text = kept;
    }
    const legacy: LegacyIds = new Map();
    for (const line of text.split('\n')) {
      if (!line) continue;
      this.journalLines++;
      try {
        this.apply(JSON.parse(line) as JournalEntry, legacy);
      } catch {
        this.dropped++;
        this.drops.warn('unreadable', { journal: this.journal, dropped: this.dropped }, 'chronos journal: unreadable line skipped');
      }
    }
    if (this.pending.size > 0) this.logger.info({ pending: this.pending.size }, 'chronos: pending delay messages restored');
  }

  private apply(entry: JournalEntry, legacy: LegacyIds | undefined): void {
    if (entry.op === 'dropped') {
      this.pending.delete(entry.id);
    } else if (entry.op === 'cancel') {
      if ('id' in entry) this.cancel(parseDelayId(entry.id));
      else this.remove(legacy?.get(entry.uuid));
    } else if (entry.op === 'fired') {
      const p = this.pending.get(('id' in entry ? entry.id : legacy?.get(entry.uuid)) ?? '');
      if (p) this.advance(p, BigInt(entry.timed));
    } else {
      const k = entry.key;
      const key: DelayKey = {
        timestamp: BigInt(k.timestamp),
        type: Number(k.type),
        expire: BigInt(k.expire),
        times: BigInt(k.times),
        timed: BigInt(k.timed),
        interval: BigInt(k.interval),
        seq: Number(k.seq),
        uuid: String(k.uuid),
      };
      const id = formatDelayId(key);
      if (entry.id === undefined && legacy) {
        // the earlier format kept one message per uuid: this add replaced the one before it
        const replaced = legacy.get(key.uuid);
        if (replaced !== id) this.remove(replaced);
        legacy.set(key.uuid, id);
      }
      this.pending.set(id, {
        id,
        key,
        topic: entry.topic,
        body: Buffer.from(entry.body, 'base64'),
        tags: entry.tags,
        properties: new Map(Object.entries(entry.properties ?? {})),
        fireAt: entry.fireAt !== undefined ? BigInt(entry.fireAt) : key.timestamp,
        timed: entry.timed !== undefined ? BigInt(entry.timed) : 0n,
        cancelFrom: entry.cancelFrom !== undefined ? BigInt(entry.cancelFrom) : undefined,
        notBefore: 0,
        delivering: false,
      });
    }
  }

  /** A cancel naming `firing`: its message stops before that firing, or at once if it was made. */
  private cancel(firing: DelayKey): void {
    const origin = originOf(firing);
    const p = origin && this.pending.get(formatDelayId(origin));
    if (!p) return;
    if (firing.timed <= p.timed) this.pending.delete(p.id);
    else if (p.cancelFrom === undefined || firing.timed < p.cancelFrom) p.cancelFrom = firing.timed;
  }

  private remove(id: string | undefined): void {
    if (id !== undefined) this.pending.delete(id);
  }

  /** After the delivery numbered `timed` (from 1): the next trigger time, or done. */
  private advance(p: Pending, timed: bigint): void {
    p.timed = timed;
    if (p.key.type === DelayType.DELAY || timed >= p.key.times || (p.cancelFrom !== undefined && timed >= p.cancelFrom)) {
      this.pending.delete(p.id);
      return;
    }
    p.fireAt += secondsBeforeFiring(p.key, timed);
    if (p.fireAt > p.key.expire) this.pending.delete(p.id);
  }

  private tick(): void {
    const now = this.clock();
    for (const p of this.pending.values()) {
      if (p.delivering || Number(p.fireAt) * 1000 > now || p.notBefore > now) continue;
      p.delivering = true;
      void Promise.resolve(this.deliver(this.message(p))).then(
        (code) => this.delivered(p, code),
        () => this.delivered(p, ResultCode.FAIL_UNKNOWN),
      );
    }
  }

  private delivered(p: Pending, code: ResultCode): void {
    p.delivering = false;
    if (this.pending.get(p.id) !== p) return; // cancelled meanwhile
    if (code === ResultCode.OK) {
      const timed = p.timed + 1n;
      this.append({ op: 'fired', id: p.id, timed: timed.toString() });
      this.advance(p, timed);
    } else if (FINAL_CODES.has(code)) {
      this.dropped++;
      this.drops.warn(`refused:${code}`, { topic: p.topic, code, id: p.id, dropped: this.dropped }, 'chronos: delivery refused for good; the delay message is dropped');
      this.append({ op: 'dropped', id: p.id, code });
      this.pending.delete(p.id);
    } else {
      p.notBefore = this.clock() + RETRY_MS;
    }
    this.maybeCompact();
  }

  /** The re-delivered message: the user topic, key = the id of this delivery, `from_chronos` set. */
  private message(p: Pending): ProducerMessage {
    const properties = new Map(p.properties);
    properties.set(FROM_CHRONOS_PROPERTY, FROM_CHRONOS_PROPERTY);
    return {
      ...emptyProducerMessage(),
      topic: p.topic,
      key: formatDelayId({ ...p.key, timestamp: p.fireAt, timed: p.timed }),
      body: p.body,
      tags: p.tags,
      partitionId: -2,
      properties,
    };
  }
}

function addEntry(key: DelayKey, topic: string, body: Buffer, tags: string | undefined, properties: ReadonlyMap<string, string> | undefined): JournalEntry {
  return {
    op: 'add',
    id: formatDelayId(key),
    key: Object.fromEntries(Object.entries(key).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v])) as Record<keyof DelayKey, string | number>,
    topic,
    body: body.toString('base64'),
    ...(tags !== undefined && { tags }),
    ...(properties && properties.size > 0 && { properties: Object.fromEntries(properties) }),
  };
}

function writeAll(fd: number, data: Buffer): void {
  for (let at = 0; at < data.length; ) at += fs.writeSync(fd, data, at);
}
