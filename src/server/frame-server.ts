/**
 * TCP server for Thrift's framed transport: a 4-byte big-endian length, then the message.
 *
 * Frames are checked against `maxFrameBytes` from their length prefix, before any of the frame is
 * buffered (the original buffers up to maxReadBufferBytes first). Requests pipelined on one
 * connection are handled concurrently and answered as they complete; clients match replies by
 * seqid (synchronous SDKs send one request at a time anyway).
 *
 * Memory stays bounded whatever clients send. Every frame counts against `maxInFlightBytes` at its
 * full length from its length prefix until it is answered; past that budget no connection starts a
 * new frame (until half of it is answered), so what is held is at most the budget and one frame,
 * plus, per connection, one read of bytes not yet started on and 1 MiB of replies unread (see
 * frame-connection.ts). Clients feel TCP backpressure rather than errors. Connections are capped
 * in total and per client address, refused at accept; a client that shuts down its sending side
 * still gets every answer (the server is half-open), then the connection ends.
 *
 * Security, off by default: an allow-list of client networks, checked first at accept; TLS (and
 * mutual TLS, optionally limited to some certificate identities) between accept and the framing
 * (tls-handshakes.ts). A connection whose handshake fails is closed and counted like any other
 * close, and nothing else is affected. A TLS client on a plain port is told apart from garbage by
 * its first bytes and counted as such.
 */
import net from 'node:net';
import type tls from 'node:tls';
import type { ListenerSettings } from '../config/load';
import { callerOf, type Caller } from '../security/caller';
import { certificateIdentities } from '../security/identities';
import { NetworkList } from '../security/networks';
import { ThrottledWarning, type Logger } from '../log';
import type { CloseReason, RefusalReason, ServerMetrics, ServerSample } from '../metrics/server-metrics';
import { realTimers, type Timers } from '../time/timers';
import { ClientConnections } from './client-connections';
import { ConnectionFaults, type ConnectionFault, type ConnectionFaultCounts } from './connection-faults';
import { FrameConnection, type ConnectionHost, type ConnectionLimits, type FrameHandler } from './frame-connection';
import { TlsHandshakes } from './tls-handshakes';

export type { FrameHandler } from './frame-connection';

export interface FrameServerOptions extends ConnectionLimits {
  readonly bindAddress: string;
  readonly port: number;
  readonly backlog: number;
  /** Bytes of frames started and not yet answered, over all connections, before no new frame is started. */
  readonly maxInFlightBytes: number;
  /** Open connections at most; one more is closed at accept. */
  readonly maxConnections: number;
  /** Open connections from one client address at most; one more is closed at accept. */
  readonly maxConnectionsPerClient: number;
  /** TLS and the client allow-list; plain TCP from anywhere when absent. */
  readonly listener?: ListenerSettings;
}

/** The options a configuration change can update on a running server. */
export type FrameLimits = Omit<FrameServerOptions, 'bindAddress' | 'port' | 'backlog' | 'listener'>;

/** An accepted connection: its handshake (TLS) under way, done, or refused for its certificate. */
type AcceptedState = 'handshaking' | 'served' | 'certificateRefused';

export interface FrameServerStats {
  readonly connections: number;
  /** Counted against maxInFlightBytes: frames being received, at their full length, and requests not yet answered. */
  readonly inFlightBytes: number;
  readonly overBudget: boolean;
  /** Bytes received and held in connections' buffers. */
  readonly bufferedBytes: number;
  /** Bytes of replies written and not yet taken by the operating system. */
  readonly unsentReplyBytes: number;
  /** Connections refused or closed for their client's fault since start, by kind. */
  readonly faults: ConnectionFaultCounts;
}

const REFUSAL_REASON: Record<'maxConnections' | 'maxConnectionsPerClient', RefusalReason> = {
  maxConnections: 'max_connections',
  maxConnectionsPerClient: 'max_connections_per_client',
};

export class FrameServer implements ConnectionHost {
  private readonly server: net.Server;
  private readonly connections = new Set<FrameConnection>();
  private readonly byClient = new ClientConnections();
  /** Every accepted connection open, by client address and port, framed or still in its handshake. */
  private readonly accepted = new Map<string, { socket: net.Socket; state: AcceptedState }>();
  private readonly tls: TlsHandshakes | undefined;
  private allowedClients: NetworkList | undefined;
  private draining = false;
  private options: FrameServerOptions;
  private inFlightBytes = 0;
  /** Past the in-flight bytes budget: no connection starts a frame. */
  overBudget = false;
  private resumeScheduled = false;
  private readonly budgetWarning: ThrottledWarning;
  private readonly faults: ConnectionFaults;

  constructor(
    options: FrameServerOptions,
    private readonly handler: FrameHandler,
    private readonly logger: Logger,
    private readonly metrics: ServerMetrics,
    readonly timers: Timers = realTimers,
  ) {
    this.options = options;
    this.budgetWarning = new ThrottledWarning(logger, 1000, timers.now);
    this.faults = new ConnectionFaults(logger, timers);
    const listener = options.listener;
    this.allowedClients = listener?.allowedClients ? new NetworkList(listener.allowedClients) : undefined;
    this.tls = listener?.tls
      ? new TlsHandshakes(listener.tls, { secure: (socket) => this.secured(socket), failed: (err, socket) => this.handshakeFailed(err, socket) })
      : undefined;
    this.server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    metrics.sample(() => this.sample());
  }

  get limits(): FrameServerOptions {
    return this.options;
  }

  /** New limits apply at once, to every connection (the connection caps to the next accept). */
  setLimits(limits: FrameLimits): void {
    this.options = { ...this.options, ...limits };
    this.charge(0);
    for (const c of this.connections) c.applyLimits();
  }

  /**
   * Re-reads the certificate files and takes the new allow-lists, for the connections to come (open
   * ones stay). Throws when the new files cannot be used: then nothing changes, the allow-lists
   * neither. TLS switched on or off applies after a restart.
   */
  setListener(listener: ListenerSettings): void {
    if ((listener.tls === undefined) !== (this.tls === undefined)) {
      throw new Error('thriftServer.tls added or removed: TLS is switched at start only');
    }
    const allowedClients = listener.allowedClients ? new NetworkList(listener.allowedClients) : undefined;
    if (listener.tls) this.tls!.reload(listener.tls);
    this.allowedClients = allowedClients;
  }

  charge(delta: number): void {
    this.inFlightBytes += delta;
    const over = this.overBudget
      ? this.inFlightBytes > this.options.maxInFlightBytes / 2
      : this.inFlightBytes > this.options.maxInFlightBytes;
    if (over === this.overBudget) return;
    this.overBudget = over;
    if (over) {
      this.metrics.budgetPauses.inc();
      this.budgetWarning.warn('budget', { inFlightBytes: this.inFlightBytes, maxInFlightBytes: this.options.maxInFlightBytes }, 'in-flight budget exceeded: reading paused');
      for (const c of this.connections) c.updateFlow();
    } else {
      this.resumeAll();
    }
  }

  fault(kind: ConnectionFault, fields: Record<string, unknown>, err?: unknown): void {
    this.faults.report(kind, fields, err);
  }

  closed(reason: CloseReason): void {
    this.metrics.closed[reason].inc();
  }

  get clock(): () => number {
    return this.metrics.clock;
  }

  listen(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: this.options.bindAddress, port: this.options.port, backlog: this.options.backlog }, () => {
        this.server.off('error', reject);
        // after listening, errors are failed accepts (EMFILE when descriptors run out): the server goes on
        this.server.on('error', (err: NodeJS.ErrnoException) => {
          this.metrics.acceptFailures.inc();
          this.fault('acceptFailed', { code: err.code }, err);
        });
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

  stats(): FrameServerStats {
    const { connections, inFlightBytes, overBudget, bufferedBytes, unsentReplyBytes } = this.sample();
    return { connections, inFlightBytes, overBudget, bufferedBytes, unsentReplyBytes, faults: this.faults.snapshot() };
  }

  /** What the metrics' gauges show at a scrape. */
  private sample(): ServerSample {
    let pausedConnections = 0;
    let bufferedBytes = 0;
    let unsentReplyBytes = 0;
    for (const c of this.connections) {
      if (c.readPaused) pausedConnections++;
      bufferedBytes += c.bufferedBytes;
      unsentReplyBytes += c.unsentReplyBytes;
    }
    return {
      connections: this.connections.size,
      maxConnections: this.options.maxConnections,
      pausedConnections,
      inFlightRequests: this.inFlight(),
      maxInFlightPerConnection: this.options.maxInFlightPerConnection,
      inFlightBytes: this.inFlightBytes,
      maxInFlightBytes: this.options.maxInFlightBytes,
      overBudget: this.overBudget,
      bufferedBytes,
      unsentReplyBytes,
    };
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
    for (const c of this.connections) c.drainClose();
    // handshakes still under way: nothing of theirs was received
    for (const { socket, state } of this.accepted.values()) if (state !== 'served') socket.destroy();
    await closed;
    return unanswered;
  }

  private inFlight(): number {
    let n = 0;
    for (const c of this.connections) n += c.inFlight;
    return n;
  }

  /**
   * Back within budget: every connection may start frames again. On the next tick, as the change
   * comes from inside a connection's own frame handling.
   */
  private resumeAll(): void {
    if (this.resumeScheduled) return;
    this.resumeScheduled = true;
    process.nextTick(() => {
      this.resumeScheduled = false;
      for (const c of this.connections) c.pump();
    });
  }

  private accept(socket: net.Socket): void {
    if (this.draining) {
      socket.destroy();
      this.metrics.refused.draining.inc();
      return;
    }
    const client = socket.remoteAddress ?? '';
    if (this.allowedClients && !this.allowedClients.includes(client)) {
      socket.destroy();
      this.metrics.refused.client_not_allowed.inc();
      this.fault('clientNotAllowed', { client });
      return;
    }
    const refusal = this.refusal(client);
    if (refusal) {
      socket.destroy();
      this.metrics.refused[REFUSAL_REASON[refusal]].inc();
      this.fault(refusal, { client, limit: this.options[refusal] });
      return;
    }
    this.metrics.accepted.inc();
    this.byClient.add(client);
    const key = `${client}:${socket.remotePort}`;
    const entry = { socket, state: (this.tls ? 'handshaking' : 'served') as AcceptedState };
    this.accepted.set(key, entry);
    socket.once('close', () => {
      this.accepted.delete(key);
      this.byClient.remove(client);
      // a served connection counts its own close (FrameConnection)
      if (entry.state === 'handshaking') this.closed('tls_handshake_failed');
      else if (entry.state === 'certificateRefused') this.closed('client_certificate_not_allowed');
    });
    if (this.tls) this.tls.handshake(socket);
    else this.serve(socket, callerOf(client, []));
  }

  private serve(socket: net.Socket, caller: Caller): void {
    const connection = new FrameConnection(socket, this, this.handler, this.logger, caller, () => this.connections.delete(connection));
    this.connections.add(connection);
  }

  private secured(socket: tls.TLSSocket): void {
    const entry = this.accepted.get(`${socket.remoteAddress}:${socket.remotePort}`);
    if (!entry || this.draining) {
      socket.destroy();
      return;
    }
    const identities = this.tls!.mutual ? certificateIdentities(socket.getPeerCertificate()) : [];
    const allowed = this.tls!.allowedSubjects;
    if (allowed && !identities.some((id) => allowed.includes(id))) {
      entry.state = 'certificateRefused';
      this.fault('clientCertificateNotAllowed', { client: socket.remoteAddress, identities });
      socket.destroy();
      return;
    }
    entry.state = 'served';
    this.serve(socket, callerOf(socket.remoteAddress, identities));
  }

  private handshakeFailed(err: NodeJS.ErrnoException, socket: tls.TLSSocket): void {
    this.fault('tlsHandshakeFailed', { client: socket.remoteAddress, code: err.code, reason: err.message });
  }

  private refusal(client: string): 'maxConnections' | 'maxConnectionsPerClient' | undefined {
    if (this.accepted.size >= this.options.maxConnections) return 'maxConnections';
    if (this.byClient.count(client) >= this.options.maxConnectionsPerClient) return 'maxConnectionsPerClient';
    return undefined;
  }
}
