/**
 * Failure lines at most once per second per kind: an outage fails every message, and a line per
 * message would flood the proxy's log. The first of a kind is written at once with `count: 1`; the
 * rest of that second become one line, with their count, when the second ends, so the counts add up.
 */
import type { StorageLogger } from 'pproxy/storage';

const INTERVAL_MS = 1000;

interface Kind {
  writtenAt: number;
  unwritten: number;
  fields: Record<string, unknown>;
  message: string;
  timer: NodeJS.Timeout | undefined;
}

export class FailureLog {
  private readonly kinds = new Map<string, Kind>();

  constructor(private readonly logger: StorageLogger) {}

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const seen = this.kinds.get(kind);
    if (!seen) {
      this.kinds.set(kind, { writtenAt: now, unwritten: 0, fields, message, timer: undefined });
      this.logger.warn({ ...fields, count: 1 }, message);
      return;
    }
    seen.fields = fields;
    seen.message = message;
    if (now - seen.writtenAt >= INTERVAL_MS && seen.timer === undefined) {
      seen.writtenAt = now;
      this.logger.warn({ ...fields, count: 1 }, message);
      return;
    }
    seen.unwritten++;
    if (seen.timer === undefined) {
      seen.timer = setTimeout(() => this.summarize(kind), Math.max(0, seen.writtenAt + INTERVAL_MS - now));
      seen.timer.unref();
    }
  }

  /** Writes what is still counted (close() calls it, so no count is lost). */
  flush(): void {
    for (const kind of this.kinds.keys()) this.summarize(kind);
  }

  private summarize(name: string): void {
    const kind = this.kinds.get(name)!;
    if (kind.timer !== undefined) clearTimeout(kind.timer);
    kind.timer = undefined;
    if (kind.unwritten === 0) return;
    this.logger.warn({ ...kind.fields, count: kind.unwritten }, kind.message);
    kind.writtenAt = Date.now();
    kind.unwritten = 0;
  }
}
