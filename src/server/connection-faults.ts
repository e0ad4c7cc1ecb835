/**
 * What went wrong with clients' connections, counted and logged: a flood of bad connections (a port
 * scanner, a misconfigured client in a retry loop) writes one warning per second per kind of fault,
 * with the counts, and never a stack trace above debug.
 */
import { ThrottledWarning, type Logger } from '../log';
import type { Timers } from '../time/timers';

const MESSAGES = {
  maxConnections: 'connection refused at accept: maxConnections open',
  maxConnectionsPerClient: 'connection refused at accept: maxConnectionsPerClient open from its address',
  clientNotAllowed: 'connection refused at accept: its address is not in thriftServer.allowedClients',
  tlsHandshakeFailed: 'TLS handshake failed (a plain client on the TLS port, an untrusted or missing client certificate?); closing connection',
  clientCertificateNotAllowed: 'client certificate not in thriftServer.tls.allowedSubjects; closing connection',
  tlsOnPlainPort: 'a TLS handshake on the plain Thrift port; closing connection',
  acceptFailed: 'accepting a connection failed (file descriptors exhausted?)',
  emptyFrame: 'empty frame; closing connection',
  frameTooLarge: 'frame larger than maxReadBufferBytes; closing connection',
  frameTimeout: 'frame not received whole within frameTimeoutMs; closing connection',
  unreadableRequest: 'unreadable request; closing connection',
  handlerFailed: 'request handler failed; closing connection',
} as const;

export type ConnectionFault = keyof typeof MESSAGES;

/** Faults since start, by kind. */
export type ConnectionFaultCounts = Record<ConnectionFault, number>;

export class ConnectionFaults {
  private readonly counts: ConnectionFaultCounts;
  private readonly warning: ThrottledWarning;

  constructor(
    logger: Logger,
    timers: Timers,
  ) {
    this.counts = Object.fromEntries(Object.keys(MESSAGES).map((kind) => [kind, 0])) as ConnectionFaultCounts;
    this.warning = new ThrottledWarning(logger, 1000, timers.now, timers);
  }

  /**
   * Counts one fault; a line's `count` is the faults it stands for, `total` those since start.
   * `err` is written as its message, its stack at debug only (ThrottledWarning).
   */
  report(kind: ConnectionFault, fields: Record<string, unknown>, err?: unknown): void {
    const total = ++this.counts[kind];
    this.warning.warn(kind, { fault: kind, total, ...fields }, MESSAGES[kind], err);
  }

  snapshot(): ConnectionFaultCounts {
    return { ...this.counts };
  }
}
