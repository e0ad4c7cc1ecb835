/**
 * One client connection of the FrameServer: frames cut from the byte stream, each admitted at its
 * length prefix, handed to the handler, and answered.
 *
 * Admission is the one gate. A frame is started (its length prefix consumed, its full length
 * charged to the server's in-flight budget) only while the connection has fewer than
 * `maxInFlightPerConnection` requests unanswered, its client has at most MAX_UNREAD_REPLY_BYTES of
 * replies unread, and the server is within `maxInFlightBytes`; otherwise the connection is not read.
 * A frame once started is read to its end and handled: its bytes are already charged, and stopping
 * half-way would leave the budget held by frames that cannot finish. It must arrive whole within
 * `frameTimeoutMs` of its first byte, counted only while the connection is being read, so a pause
 * of the server's own is never held against a client.
 */
import type net from 'node:net';
import type { Logger } from '../log';
import type { Caller } from '../security/caller';
import type { CloseReason } from '../metrics/server-metrics';
import type { Timers } from '../time/timers';
import { writeCoalesced } from './coalesce';
import type { ConnectionFault } from './connection-faults';

/**
 * Replies a client has not read yet, per connection, before it may start another request. Far
 * above Node's 16 KiB high-water mark, which a healthy client passes during a short pause.
 */
export const MAX_UNREAD_REPLY_BYTES = 1024 * 1024;

/**
 * Handles one complete frame: a reply now, a reply later, or none (null; a promise of null: a
 * oneway call whose work is still under way, so it counts in flight until it ends). Throwing closes
 * the connection: the frame could not be understood well enough to reply. `receivedAt` is when the
 * read that completed the frame came in (ConnectionHost.clock): the time it then waited for
 * admission is part of its answer's. `caller`: the connection's client.
 */
export type FrameHandler = (frame: Buffer, receivedAt: number, caller: Caller) => Buffer | Promise<Buffer | null> | null;

/** The limits a connection follows, which may change while it is open. */
export interface ConnectionLimits {
  readonly maxFrameBytes: number;
  readonly maxInFlightPerConnection: number;
  /** Closes a connection idle (nothing in flight) this long; 0 = never. */
  readonly idleTimeoutMs: number;
  /** A frame must arrive whole within this long of its first byte; 0 = no deadline. */
  readonly frameTimeoutMs: number;
}

/** What a connection needs of its server. */
export interface ConnectionHost {
  readonly limits: ConnectionLimits;
  /** Past maxInFlightBytes: no connection starts a new frame. */
  readonly overBudget: boolean;
  /** Counts bytes of frames started (+) and of requests answered or dropped (-) against maxInFlightBytes. */
  charge(delta: number): void;
  /** Counts and logs a connection closed or refused for its client's fault. */
  fault(kind: ConnectionFault, fields: Record<string, unknown>, err?: unknown): void;
  /** Counts a connection that closed, by why. */
  closed(reason: CloseReason): void;
  /** Stamps each read: one clock read covers every frame it completes. */
  readonly clock: () => number;
  readonly timers: Timers;
}

export class FrameConnection {
  /** Requests handed to the handler and not yet answered. */
  inFlight = 0;
  private readonly chunks: Buffer[] = [];
  /** Where the unread bytes of chunks[0] start. */
  private offset = 0;
  private buffered = 0;
  /** Length of the frame being received (started and charged), or -1 while none is. */
  private frameLength = -1;
  private frameTimer: unknown = undefined;
  private frameStartedAt = 0;
  /** When the last read came in: every frame buffered was complete by then. */
  private receivedAt = 0;
  private paused = false;
  /** False once the server drains: nothing more is taken in. */
  private reading = true;
  /** The client has shut down its sending side: what it sent is answered, then the connection ends. */
  private inputEnded = false;
  private ending = false;
  private closed = false;
  /** Why the server closes or ends the connection; unset, the client closed it. */
  private closeReason: CloseReason | undefined;
  readonly peer: string;

  constructor(
    private readonly socket: net.Socket,
    private readonly host: ConnectionHost,
    private readonly handler: FrameHandler,
    private readonly logger: Logger,
    private readonly caller: Caller,
    private readonly onClose: () => void,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.pump());
    socket.on('end', () => {
      this.inputEnded = true;
      this.pump();
    });
    socket.on('error', (err) => this.logger.debug({ err, peer: this.peer }, 'client connection error'));
    socket.on('close', (hadError) => {
      this.closed = true;
      this.release();
      this.host.closed(this.closeReason ?? (hadError ? 'client_reset' : 'client_closed'));
      this.onClose();
    });
    socket.on('timeout', () => {
      if (this.inFlight === 0) this.closeFor('idle');
      // the timer fires once and re-arms only on traffic, which a oneway call does not make
      else this.applyIdleTimeout();
    });
    this.applyIdleTimeout();
    this.updateFlow();
  }

  /** Bytes received and held: frames being received, and what follows them. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Bytes of replies written and not yet taken by the operating system. */
  get unsentReplyBytes(): number {
    return this.socket.writableLength;
  }

  /** Closes the connection after the server's idle timeout without traffic (0: never). */
  applyIdleTimeout(): void {
    this.socket.setTimeout(this.host.limits.idleTimeoutMs);
  }

  /** Follows a change of the limits: idle timeout, the running frame deadline, and admission. */
  applyLimits(): void {
    this.applyIdleTimeout();
    if (this.frameTimer !== undefined) {
      this.clearFrameTimer();
      this.armFrameTimer(this.frameStartedAt);
    }
    this.pump();
  }

  /**
   * Takes in and hands on every frame the buffer holds, as far as admission allows; then reads on
   * or not, and ends the connection once a client that stopped sending has every answer.
   */
  pump(): void {
    // destroy() closes the socket later: nothing more of a connection it ended is handled
    while (!this.closed && !this.socket.destroyed && this.reading) {
      if (this.frameLength < 0) {
        if (this.buffered < 4) break;
        const length = this.peekLengthPrefix();
        if (length === 0 || length > this.host.limits.maxFrameBytes || looksLikeTlsHandshake(length)) {
          this.refuse(length);
          return;
        }
        if (!this.mayStartFrame()) break;
        this.advance(4);
        this.frameLength = length;
        this.host.charge(length);
      }
      if (this.buffered < this.frameLength) break;
      const frame = this.take(this.frameLength);
      this.frameLength = -1;
      this.clearFrameTimer();
      this.dispatch(frame);
    }
    if (this.closed) return;
    // what a client sent before shutting down its side and is not a whole frame never will be
    if (this.inputEnded && (this.frameLength >= 0 || this.buffered < 4)) this.release();
    this.updateFlow();
    if ((this.inputEnded || !this.reading) && this.buffered === 0 && this.inFlight === 0 && !this.ending) {
      this.ending = true;
      this.socket.end();
    }
  }

  /** Not read now: a budget or limit holds it (or it no longer reads at all). */
  get readPaused(): boolean {
    return this.paused;
  }

  /** Reads from the socket exactly when a frame is being received or one may be started. */
  updateFlow(): void {
    const read =
      !this.closed &&
      this.reading &&
      !this.inputEnded &&
      (this.frameLength >= 0 || (this.buffered < 4 && this.mayStartFrame()));
    if (read === this.paused) {
      this.paused = !read;
      if (read) this.socket.resume();
      else this.socket.pause();
    }
    // a frame has begun (its length prefix taken in, or bytes of it here) and the connection is
    // read: its deadline runs
    if (read && (this.frameLength >= 0 || this.buffered > 0)) {
      if (this.frameTimer === undefined) this.armFrameTimer(this.host.timers.now());
    } else {
      this.clearFrameTimer();
    }
  }

  /** The server drains: what is in flight is answered, nothing more is read, then the connection ends. */
  stopReading(): void {
    this.closeReason ??= 'server_drain';
    this.reading = false;
    this.release();
    this.updateFlow();
    if (this.inFlight === 0) this.drainClose();
  }

  /** The server's drain ends the connection, answered or not: counted as `server_drain`. */
  drainClose(): void {
    this.closeFor('server_drain');
  }

  private closeFor(reason: CloseReason): void {
    if (this.closed) return;
    this.closeReason ??= reason;
    this.socket.destroy();
  }

  private mayStartFrame(): boolean {
    return (
      this.reading &&
      this.inFlight < this.host.limits.maxInFlightPerConnection &&
      // a client that does not read its replies gets no more: they would pile up here
      this.socket.writableLength <= MAX_UNREAD_REPLY_BYTES &&
      !this.host.overBudget
    );
  }

  private onData(chunk: Buffer): void {
    if (!this.reading) return;
    this.receivedAt = this.host.clock();
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.pump();
  }

  private refuse(length: number): void {
    if (looksLikeTlsHandshake(length)) {
      this.host.fault('tlsOnPlainPort', { peer: this.peer });
      this.reading = false;
      this.release();
      this.closeFor('tls_on_plain_port');
      return;
    }
    // A length this large is usually not a frame at all: an unframed client, HTTP, or garbage.
    this.host.fault(length === 0 ? 'emptyFrame' : 'frameTooLarge', {
      peer: this.peer,
      frameLength: length,
      maxFrameBytes: this.host.limits.maxFrameBytes,
    });
    this.reading = false;
    this.release();
    this.closeFor(length === 0 ? 'empty_frame' : 'frame_too_large');
  }

  /** The frame's charge passes to its request, and is given back once it is answered. */
  private dispatch(frame: Buffer): void {
    const size = frame.length;
    let reply: ReturnType<FrameHandler>;
    try {
      reply = this.handler(frame, this.receivedAt, this.caller);
    } catch (err) {
      this.host.charge(-size);
      this.host.fault('unreadableRequest', { peer: this.peer, err: (err as Error).message });
      this.closeFor('unreadable_request');
      return;
    }
    if (reply === null || Buffer.isBuffer(reply)) {
      if (reply) this.write(reply);
      this.host.charge(-size);
      return;
    }
    this.inFlight++;
    reply.then(
      (buf) => this.complete(buf, size),
      (err: unknown) => {
        // Handlers answer failures as result codes; reaching this is a bug, and the client would
        // otherwise wait for its timeout.
        this.inFlight--;
        this.host.charge(-size);
        this.host.fault('handlerFailed', { peer: this.peer }, err);
        this.closeFor('handler_failed');
      },
    );
  }

  private complete(reply: Buffer | null, size: number): void {
    this.inFlight--;
    if (reply) this.write(reply);
    this.host.charge(-size);
    this.pump();
  }

  /**
   * Replies completed in the same tick (a batch's members resolve together) leave in one writev:
   * one syscall per reply was the largest single cost of the proxy in the bench profile.
   */
  private write(reply: Buffer): void {
    if (!this.closed) writeCoalesced(this.socket, reply);
  }

  private armFrameTimer(startedAt: number): void {
    const timeoutMs = this.host.limits.frameTimeoutMs;
    if (timeoutMs <= 0) return;
    this.frameStartedAt = startedAt;
    const remaining = Math.max(0, startedAt + timeoutMs - this.host.timers.now());
    this.frameTimer = this.host.timers.set(() => {
      this.frameTimer = undefined;
      this.host.fault('frameTimeout', {
        peer: this.peer,
        frameTimeoutMs: timeoutMs,
        frameLength: this.frameLength,
        receivedBytes: this.buffered,
      });
      this.closeFor('frame_timeout');
    }, remaining);
  }

  private clearFrameTimer(): void {
    if (this.frameTimer === undefined) return;
    this.host.timers.clear(this.frameTimer);
    this.frameTimer = undefined;
  }

  /** Drops what is buffered and the charge of the frame being received. */
  private release(): void {
    if (this.frameLength >= 0) {
      this.host.charge(-this.frameLength);
      this.frameLength = -1;
    }
    this.chunks.length = 0;
    this.offset = 0;
    this.buffered = 0;
    this.clearFrameTimer();
  }

  private peekLengthPrefix(): number {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= 4) return first.readUInt32BE(this.offset);
    let length = 0;
    let chunk = 0;
    let at = this.offset;
    for (let i = 0; i < 4; i++) {
      while (at === this.chunks[chunk]!.length) {
        chunk++;
        at = 0;
      }
      length = length * 256 + this.chunks[chunk]![at++]!;
    }
    return length;
  }

  /** Removes and returns the next n buffered bytes; no copy when they lie in one chunk. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.offset >= n) {
      const out = first.subarray(this.offset, this.offset + n);
      this.advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const copied = chunk.copy(out, filled, this.offset, Math.min(chunk.length, this.offset + n - filled));
      filled += copied;
      this.advance(copied);
    }
    return out;
  }

  /**
   * Consumes n bytes, crossing chunks as needed. Chunks are read through an offset rather than
   * re-sliced: a slice is an object, and this runs twice per request.
   */
  private advance(n: number): void {
    this.buffered -= n;
    this.offset += n;
    while (this.chunks.length > 0 && this.offset >= this.chunks[0]!.length) {
      this.offset -= this.chunks[0]!.length;
      this.chunks.shift();
    }
  }
}

/**
 * A TLS record header read as a length prefix: content type 22 (handshake), then version 3.x.
 * As a frame it would be 369 MB or more, which no client sends.
 */
function looksLikeTlsHandshake(length: number): boolean {
  return length >>> 16 === 0x1603 && ((length >>> 8) & 0xff) <= 4;
}
