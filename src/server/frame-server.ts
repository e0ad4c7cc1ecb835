/**
 * TCP server for Thrift's framed transport: a 4-byte big-endian length, then the message.
 *
 * Frames are checked against `maxFrameBytes` from their length prefix, before any of the frame is
 * buffered (the original buffers up to maxReadBufferBytes first). Requests pipelined on one
 * connection are handled concurrently and answered as they complete; clients match replies by
 * seqid (synchronous SDKs send one request at a time anyway).
 *
 * Memory stays bounded whatever clients send: a connection stops being read while it has
 * `maxInFlightPerConnection` requests unanswered, and every connection stops being read while the
 * requests received and not yet answered hold more than `maxInFlightBytes` (until half of that is
 * answered), except connections with nothing in flight: those may read, so the connections that
 * happen to read first after a pause cannot starve the others. Clients feel TCP backpressure
 * rather than errors.
 */
import net from 'node:net';
import { ThrottledWarning, type Logger } from '../log';
import { writeCoalesced } from './coalesce';

/**
 * Replies a client has not read yet, per connection, before its requests are no longer read. Far
 * above Node's 16 KiB high-water mark, which a healthy client passes during a short pause.
 */
const MAX_UNREAD_REPLY_BYTES = 1024 * 1024;

export interface FrameServerOptions {
  readonly bindAddress: string;
  readonly port: number;
  readonly backlog: number;
  readonly maxFrameBytes: number;
  readonly maxInFlightPerConnection: number;
  /** Bytes of unanswered requests over all connections before the server stops reading. */
  readonly maxInFlightBytes: number;
  /** Closes a connection idle (nothing in flight) this long; 0 = never. */
  readonly idleTimeoutMs: number;
}

/**
 * Handles one complete frame: a reply now, a reply later, or none (null; a promise of null: a
 * oneway call whose work is still under way, so it counts in flight until it ends). Throwing closes
 * the connection: the frame could not be understood well enough to reply.
 */
export type FrameHandler = (frame: Buffer) => Buffer | Promise<Buffer | null> | null;

/** The options a configuration change can update on a running server. */
export type FrameLimits = Pick<FrameServerOptions, 'maxFrameBytes' | 'maxInFlightPerConnection' | 'maxInFlightBytes' | 'idleTimeoutMs'>;

export class FrameServer {
  private readonly server: net.Server;
  private readonly connections = new Set<FrameConnection>();
  private draining = false;
  private options: FrameServerOptions;
  private inFlightBytes = 0;
  /** Over the in-flight bytes budget: no connection is read. */
  overBudget = false;
  private readonly budgetWarning: ThrottledWarning;

  constructor(
    options: FrameServerOptions,
    private readonly handler: FrameHandler,
    private readonly logger: Logger,
  ) {
    this.options = options;
    this.budgetWarning = new ThrottledWarning(logger, 1000);
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  get limits(): FrameServerOptions {
    return this.options;
  }

  /** New limits apply at once, to every connection. */
  setLimits(limits: FrameLimits): void {
    const idleChanged = limits.idleTimeoutMs !== this.options.idleTimeoutMs;
    this.options = { ...this.options, ...limits };
    if (idleChanged) for (const c of this.connections) c.applyIdleTimeout();
    this.updateBudget(0);
  }

  /** Counts bytes of requests taken in (+) and answered (-), pausing or resuming all reading. */
  updateBudget(delta: number): void {
    this.inFlightBytes += delta;
    const over = this.overBudget
      ? this.inFlightBytes > this.options.maxInFlightBytes / 2
      : this.inFlightBytes > this.options.maxInFlightBytes;
    if (over === this.overBudget) return;
    this.overBudget = over;
    if (over) {
      this.budgetWarning.warn('budget', { inFlightBytes: this.inFlightBytes, maxInFlightBytes: this.options.maxInFlightBytes }, 'in-flight budget exceeded: reading paused');
    }
    for (const c of this.connections) c.updateFlow();
  }

  listen(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.bindAddress, port: this.options.port, backlog: this.options.backlog }, () => {
        this.server.off('error', reject);
        this.server.on('error', (err) => this.logger.error({ err }, 'thrift server error'));
        resolve(this.address());
      });
    });
  }

  address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting, stops reading new requests, waits until every request already received has
   * been answered (or `timeoutMs` passes), then closes all connections. Resolves with the number of
   * requests still unanswered at the end (0 after a complete drain).
   */
  async drain(timeoutMs: number): Promise<number> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections) c.stopReading();
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const unanswered = this.inFlight();
    for (const c of this.connections) c.close();
    await closed;
    return unanswered;
  }

  private inFlight(): number {
    let n = 0;
    for (const c of this.connections) n += c.inFlight;
    return n;
  }

  private accept(socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const connection = new FrameConnection(socket, this, this.handler, this.logger, () => this.connections.delete(connection));
    this.connections.add(connection);
  }
}

class FrameConnection {
  inFlight = 0;
  /** Bytes of this connection's requests not yet answered. */
  private inFlightBytes = 0;
  private readonly chunks: Buffer[] = [];
  /** Where the unread bytes of chunks[0] start. */
  private offset = 0;
  private buffered = 0;
  /** Length of the frame being received, or -1 while waiting for a length prefix. */
  private frameLength = -1;
  private paused = false;
  private reading = true;
  private closed = false;
  private readonly peer: string;

  constructor(
    private readonly socket: net.Socket,
    private readonly server: FrameServer,
    private readonly handler: FrameHandler,
    private readonly logger: Logger,
    private readonly onClose: () => void,
  ) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.updateFlow());
    socket.on('error', (err) => this.logger.debug({ err, peer: this.peer }, 'client connection error'));
    socket.on('close', () => {
      this.closed = true;
      this.discardBuffered();
      this.onClose();
    });
    socket.on('timeout', () => {
      if (this.inFlight === 0) this.close();
      // the timer fires once and re-arms only on traffic, which a oneway call does not make
      else this.applyIdleTimeout();
    });
    this.applyIdleTimeout();
    this.updateFlow();
  }

  /** Closes the connection after the server's idle timeout without traffic (0: never). */
  applyIdleTimeout(): void {
    this.socket.setTimeout(this.server.limits.idleTimeoutMs);
  }

  /** Reads from the socket exactly when nothing holds it back. */
  updateFlow(): void {
    const read =
      this.reading &&
      this.inFlight < this.server.limits.maxInFlightPerConnection &&
      // a client that does not read its replies is not read either: they would pile up here
      this.socket.writableLength <= MAX_UNREAD_REPLY_BYTES &&
      (!this.server.overBudget || this.inFlightBytes === 0);
    if (read === !this.paused) return;
    this.paused = !read;
    if (read) this.socket.resume();
    else this.socket.pause();
  }

  stopReading(): void {
    this.reading = false;
    this.discardBuffered();
    this.updateFlow();
    if (this.inFlight === 0) this.close();
  }

  close(): void {
    if (!this.closed) this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (!this.reading) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.frameLength < 0) {
        if (this.buffered < 4) return;
        const length = this.readLengthPrefix();
        if (length === 0 || length > this.server.limits.maxFrameBytes) {
          this.refuse(length);
          return;
        }
        this.frameLength = length;
      }
      if (this.buffered < this.frameLength) return;
      const frame = this.take(this.frameLength);
      this.frameLength = -1;
      this.dispatch(frame);
      if (this.closed || !this.reading) return;
    }
  }

  private refuse(length: number): void {
    // A length this large is usually not a frame at all: an unframed client, HTTP, or garbage.
    this.logger.warn(
      { peer: this.peer, frameLength: length, maxFrameBytes: this.server.limits.maxFrameBytes },
      length === 0 ? 'empty frame; closing connection' : 'frame larger than maxReadBufferBytes; closing connection',
    );
    this.discardBuffered();
    this.reading = false;
    this.socket.destroy();
  }

  private dispatch(frame: Buffer): void {
    let reply: ReturnType<FrameHandler>;
    try {
      reply = this.handler(frame);
    } catch (err) {
      this.logger.warn({ peer: this.peer, err: (err as Error).message }, 'unreadable request; closing connection');
      this.socket.destroy();
      return;
    }
    if (reply === null) return;
    if (Buffer.isBuffer(reply)) {
      this.write(reply);
      this.updateFlow();
      return;
    }
    this.inFlight++;
    const size = frame.length;
    this.inFlightBytes += size;
    this.server.updateBudget(size);
    this.updateFlow();
    reply.then(
      (buf) => this.complete(buf, size),
      (err: unknown) => {
        // Handlers answer failures as result codes; reaching this is a bug, and the client would
        // otherwise wait for its timeout.
        this.logger.error({ err, peer: this.peer }, 'request handler failed; closing connection');
        this.inFlight--;
        this.inFlightBytes -= size;
        this.server.updateBudget(-size);
        this.socket.destroy();
      },
    );
  }

  private complete(reply: Buffer | null, size: number): void {
    this.inFlight--;
    this.inFlightBytes -= size;
    if (reply) this.write(reply);
    this.server.updateBudget(-size);
    this.updateFlow();
    if (!this.reading && this.inFlight === 0) this.socket.end();
  }

  /**
   * Replies completed in the same tick (a batch's members resolve together) leave in one writev:
   * one syscall per reply was the largest single cost of the proxy in the bench profile.
   */
  private write(reply: Buffer): void {
    if (!this.closed) writeCoalesced(this.socket, reply);
  }

  private readLengthPrefix(): number {
    const first = this.chunks[0]!;
    if (first.length - this.offset < 4) return this.take(4).readUInt32BE(0);
    const length = first.readUInt32BE(this.offset);
    this.advance(4);
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
   * Consumes n bytes of the first chunk (at most what it holds). Chunks are read through an offset
   * rather than re-sliced: a slice is an object, and this runs twice per request.
   */
  private advance(n: number): void {
    this.buffered -= n;
    this.offset += n;
    if (this.offset === this.chunks[0]!.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Drops everything buffered. */
  private discardBuffered(): void {
    this.chunks.length = 0;
    this.offset = 0;
    this.buffered = 0;
  }
}
