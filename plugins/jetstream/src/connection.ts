/**
 * The cluster's one NATS connection: opened within a bound in start(), then reconnected forever
 * with a doubling wait. It tells the storage whether it is connected now (a publish while it is not
 * would wait in the client's buffer, which the next dial discards) and when the connection a publish
 * went out on was lost (that publish's ack can no longer come). The client may still close the
 * connection by itself (it gives up after the server refuses it the same way twice, an authorization
 * violation say): that is logged as an error, and the connection stays closed for good.
 */
import { connect, type JetStreamClient, type JetStreamManager, type NatsConnection, type QueuedIterator, type Status } from 'nats';
import type { StorageCounter, StorageLogger } from 'pproxy/storage';
import type { JetStreamConfig } from './config';
import type { FailureLog } from './failure-log';

/** A dead peer that keeps the socket open is found by two unanswered pings this far apart. */
const PING_INTERVAL_MS = 10_000;
const MAX_PINGS_OUT = 2;

export class Connection {
  private live = true;
  private dead = false;
  private closing = false;
  /** Callbacks of the requests out on the current connection, called when it drops. */
  private readonly lossWatchers = new Set<() => void>();
  private payloadLimit: number;
  /** The client's status events; the client does not end this iterator on close, close() does. */
  private readonly events: QueuedIterator<Status>;
  private readonly watching: Promise<void>;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    private readonly logger: StorageLogger,
    private readonly failures: FailureLog,
    private readonly backoff: ReconnectBackoff,
    events: QueuedIterator<Status>,
    private readonly reconnects: StorageCounter,
  ) {
    this.payloadLimit = nc.info!.max_payload;
    this.events = events;
    this.watching = this.watch();
    void nc.closed().then((error) => this.closedByClient(error));
  }

  /** Connects and checks that the account has JetStream; rejects within about `connectTimeoutMs`. */
  static async open(config: JetStreamConfig, cluster: string, logger: StorageLogger, failures: FailureLog, reconnects: StorageCounter): Promise<Connection> {
    const backoff = new ReconnectBackoff(config);
    const nc = await connect({
      servers: config.servers,
      name: `pproxy-${cluster}`,
      timeout: config.connectTimeoutMs,
      reconnect: true,
      maxReconnectAttempts: -1,
      waitOnFirstConnect: false,
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: MAX_PINGS_OUT,
      // the client would otherwise build an Error (a stack) for every request
      noAsyncTraces: true,
      reconnectDelayHandler: () => backoff.wait(),
    });
    // watched from the start, so that no loss before the first send goes unseen
    const events = nc.status() as QueuedIterator<Status>;
    try {
      const jsm = await nc.jetstreamManager({ timeout: config.connectTimeoutMs });
      return new Connection(nc, nc.jetstream({ timeout: config.publishTimeoutMs }), jsm, logger, failures, backoff, events, reconnects);
    } catch (error) {
      events.stop();
      await nc.close();
      throw new Error(`jetstream ${cluster}: the server at ${nc.getServer()} does not serve JetStream (${(error as Error).message})`);
    }
  }

  get connected(): boolean {
    return this.live;
  }

  /** The client closed the connection by itself and dials no more. */
  get closedForGood(): boolean {
    return this.dead;
  }

  /** The server's max_payload (headers and body together); the last one known while reconnecting. */
  get maxPayload(): number {
    return this.payloadLimit;
  }

  /**
   * `request`'s result, or undefined as soon as the connection it went out on is lost: its answer
   * can no longer come, and waiting for the request's timeout would only delay the caller.
   */
  async unlessLost<T>(request: Promise<T>): Promise<T | undefined> {
    let lost!: () => void;
    const loss = new Promise<undefined>((resolve) => (lost = () => resolve(undefined)));
    this.lossWatchers.add(lost);
    try {
      return await Promise.race([request, loss]);
    } finally {
      this.lossWatchers.delete(lost);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.nc.close();
    this.events.stop();
    await this.watching;
  }

  private closedByClient(error: Error | void): void {
    if (this.closing) return;
    this.dead = true;
    this.lost();
    this.logger.error(
      { err: error ? error.message : undefined },
      'jetstream connection closed by the client, which does not reconnect: every send fails until the proxy restarts or the cluster is reconfigured',
    );
  }

  /** The requests out can no longer be answered. */
  private lost(): void {
    this.live = false;
    for (const watcher of this.lossWatchers) watcher();
    this.lossWatchers.clear();
  }

  private async watch(): Promise<void> {
    for await (const status of this.events) {
      switch (status.type) {
        case 'disconnect':
          this.lost();
          this.backoff.reset();
          this.logger.warn({ server: status.data }, 'jetstream connection lost; reconnecting');
          break;
        case 'reconnecting':
          this.backoff.dialed();
          break;
        case 'reconnect':
          this.payloadLimit = this.nc.info?.max_payload ?? this.payloadLimit;
          this.live = true;
          this.reconnects.inc();
          this.logger.info({ server: status.data }, 'jetstream reconnected');
          break;
        case 'error':
          this.failures.warn('connection-error', { err: String(status.data) }, 'jetstream connection error');
          break;
      }
    }
  }
}

/** The wait between dials: reconnectWaitMs, doubled per dial made since the loss, capped, with 10% jitter. */
class ReconnectBackoff {
  private dials = 0;

  constructor(private readonly config: JetStreamConfig) {}

  wait(): number {
    const { reconnectWaitMs, maxReconnectWaitMs } = this.config;
    const wait = Math.min(reconnectWaitMs * 2 ** Math.min(Math.max(this.dials - 1, 0), 20), maxReconnectWaitMs);
    return Math.round(wait * (1 + Math.random() * 0.1));
  }

  dialed(): void {
    this.dials++;
  }

  reset(): void {
    this.dials = 0;
  }
}
