/**
 * Throttled failure lines (ThrottledWarning), apart from the logger itself so that modules which
 * only report failures (the storage guard, plugins' hosts) load no logging library.
 */
import { backgroundTimers, type Timers } from './time/timers';

interface Occurrences {
  /** When the last line of this kind was written. */
  at: number;
  /** Occurrences since that line, not written yet. */
  unwritten: number;
  /** The latest of them, written by the summary line. */
  fields: Record<string, unknown>;
  message: string;
  error: unknown;
  /** The summary line's timer, while some are unwritten. */
  summary: unknown;
}

/** What ThrottledWarning writes with: the proxy's logger, or the one a storage plugin is given. */
export interface WarningLogger {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
  isLevelEnabled(level: string): boolean;
}

/**
 * Logs a kind of failure (`key`) at most once per `intervalMs`, with a `count`: a broker outage or
 * a full disk fails every message, and one line per message would flood the log. The first
 * occurrence is written at once (count 1); those within the interval after it are counted and
 * written as one line when the interval ends (with the latest occurrence's fields), so the counts
 * of a kind's lines add up to its occurrences. An error goes in as `err`, its message only; its
 * stack is logged at debug level, with the same line.
 */
export class ThrottledWarning {
  private readonly kinds = new Map<string, Occurrences>();

  constructor(
    private readonly logger: WarningLogger,
    private readonly intervalMs: number,
    private readonly clock: () => number = Date.now,
    private readonly timers: Pick<Timers, 'set'> = backgroundTimers,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string, error?: unknown): void {
    const now = this.clock();
    const kind = this.kinds.get(key);
    if (kind && now - kind.at < this.intervalMs) {
      kind.unwritten++;
      kind.fields = fields;
      kind.message = message;
      kind.error = error;
      kind.summary ??= this.timers.set(() => this.summarize(key), kind.at + this.intervalMs - now);
      return;
    }
    const count = (kind?.unwritten ?? 0) + 1;
    if (kind) {
      kind.at = now;
      kind.unwritten = 0;
    } else {
      this.kinds.set(key, { at: now, unwritten: 0, fields, message, error, summary: undefined });
    }
    this.write(fields, message, error, count);
  }

  private summarize(key: string): void {
    const kind = this.kinds.get(key)!;
    kind.summary = undefined;
    if (kind.unwritten === 0) return;
    const now = this.clock();
    if (now - kind.at < this.intervalMs) {
      // a line was written since this timer was set (the timer ran late): wait out its interval
      kind.summary = this.timers.set(() => this.summarize(key), kind.at + this.intervalMs - now);
      return;
    }
    const count = kind.unwritten;
    kind.at = now;
    kind.unwritten = 0;
    this.write(kind.fields, kind.message, kind.error, count);
  }

  private write(fields: Record<string, unknown>, message: string, error: unknown, count: number): void {
    if (error === undefined) {
      this.logger.warn({ ...fields, count }, message);
      return;
    }
    this.logger.warn({ ...fields, err: errorMessage(error), count }, message);
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ ...fields, err: error }, message);
  }
}

/** An error's message alone, for lines at warn level and above: stacks are for debug. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
