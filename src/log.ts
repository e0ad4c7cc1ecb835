/**
 * Structured logging (pino). The proxy logs lifecycle, configuration and failures; it never logs a
 * line per message (the original's per-message INFO line is its biggest log cost).
 */
import path from 'node:path';
import pino from 'pino';

export type Logger = pino.Logger;

export interface LogOptions {
  /** Directory of pproxy.log; undefined logs to stdout (foreground runs, tests). */
  readonly dir: string | undefined;
  readonly level: string;
}

export interface LogHandle {
  readonly logger: Logger;
  /** Reopens the log file after an external rotation (SIGHUP). */
  reopen(): void;
  /** Writes out what is buffered; call before exit. */
  flush(): void;
}

export function createLogger(options: LogOptions): LogHandle {
  // Synchronous writes: the proxy logs rarely (never per message), and an asynchronous buffer is
  // flushed at exit by a loop that retries a failed write forever (a full disk hung the process).
  const destination = options.dir
    ? pino.destination({ dest: path.join(options.dir, 'pproxy.log'), mkdir: true, sync: true })
    : pino.destination({ dest: 1, sync: true });
  const logger = pino(
    { level: options.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
  // A log that cannot be written (a full disk) must not take the proxy down or, worse, hang it:
  // sonic-boom retries a failed synchronous flush forever. Logging stops; serving goes on.
  let broken = false;
  destination.on('error', (err: Error) => {
    if (broken) return;
    broken = true;
    logger.level = 'silent';
    process.stderr.write(`pproxy: logging stopped, the log cannot be written: ${err.message}\n`);
  });
  return {
    logger,
    reopen: () => {
      // stdout (--foreground) is not a file to reopen: SonicBoom throws, which stopped the proxy
      if (broken || !options.dir) return;
      destination.reopen();
    },
    flush: () => {
      if (broken) return;
      try {
        destination.flushSync();
      } catch {
        // not open yet: nothing was buffered
      }
    },
  };
}

/** A logger that discards everything, for unit tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export { ThrottledWarning, errorMessage, type WarningLogger } from './throttled-warning';
