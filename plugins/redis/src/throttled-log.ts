/**
 * Failure lines at most once per second per kind: a server outage fails every message and every
 * reconnect attempt. The first of a second is written at once with `count: 1`, the rest of that
 * second as one line with their count when it ends, so the counts add up.
 */
import type { StorageLogger } from 'pproxy/storage';
import type { StorageTimers as Clock } from 'pproxy/storage';

interface Kind {
  /** When the last line of this kind was written. */
  at: number;
  unwritten: number;
  fields: object;
  message: string;
  summary: unknown;
}

export class ThrottledLog {
  private readonly kinds = new Map<string, Kind>();

  constructor(
    private readonly logger: StorageLogger,
    private readonly clock: Clock,
    private readonly intervalMs = 1000,
  ) {}

  warn(kind: string, fields: object, message: string): void {
    const now = this.clock.now();
    const seen = this.kinds.get(kind);
    if (seen && now - seen.at < this.intervalMs) {
      seen.unwritten++;
      seen.fields = fields;
      seen.message = message;
      seen.summary ??= this.clock.set(() => this.summarize(kind), seen.at + this.intervalMs - now);
      return;
    }
    if (seen) seen.at = now;
    else this.kinds.set(kind, { at: now, unwritten: 0, fields, message, summary: undefined });
    this.logger.warn({ ...fields, count: 1 }, message);
  }

  private summarize(kind: string): void {
    const seen = this.kinds.get(kind)!;
    seen.summary = undefined;
    if (seen.unwritten === 0) return;
    this.logger.warn({ ...seen.fields, count: seen.unwritten }, seen.message);
    seen.at = this.clock.now();
    seen.unwritten = 0;
  }
}
