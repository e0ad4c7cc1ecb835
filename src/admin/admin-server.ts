/**
 * The admin HTTP listener: GET /metrics, /health, /ready and /status on its own port, apart from
 * the Thrift one. It reads no request body and holds no connection long (a scraper or a probe that
 * stalls is cut off), and a handler that fails answers 500: nothing here can take the proxy down.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../log';
import { backgroundTimers, type Timers } from '../time/timers';
import { ConnectionSlots } from './connection-slots';

/** Whether the proxy should get traffic, and why not. */
export interface Readiness {
  readonly ready: boolean;
  /** Set when not ready: what it waits for, or that it is stopping. */
  readonly reason?: string;
  /**
   * The clusters still warming up, when there are: while starting, and once serving past the
   * warm-up's bound (ready all the same: an unreachable cluster must not take the proxy out of
   * every load balancer).
   */
  readonly warming?: readonly string[];
}

/** What the routes answer with; the proxy provides it. */
export interface AdminEndpoints {
  /** The Prometheus exposition and its content type. */
  metrics(): Promise<{ readonly contentType: string; readonly body: string }>;
  readiness(): Readiness;
  /** What `control.sh status` prints, as JSON. */
  status(): unknown;
}

export interface AdminServerOptions {
  readonly bindAddress: string;
  readonly port: number;
  /** What closes idle connections (tests move it by hand). */
  readonly timers?: Timers;
}

/**
 * Bounds on one request: a probe answers in microseconds, a scrape in milliseconds. A connection
 * gets REQUEST_TIMEOUT_MS for a complete request (from its opening, or from its last answer);
 * Node's own request and header timeouts are a backstop it checks every CONNECTIONS_CHECK_MS
 * (30 s by default, long enough for idle connections to keep the probes out).
 */
const REQUEST_TIMEOUT_MS = 5000;
const KEEP_ALIVE_TIMEOUT_MS = 5000;
const CONNECTIONS_CHECK_MS = 1000;
const MAX_CONNECTIONS = 64;
const MAX_HEADERS = 50;
const ROUTES = new Set(['/metrics', '/health', '/ready', '/status']);

/** The admin port could not be listened on (taken, or an address this host does not have). */
export class AdminListenError extends Error {}

export class AdminServer {
  private readonly server: http.Server;
  private readonly connections: ConnectionSlots;

  constructor(
    private readonly options: AdminServerOptions,
    private readonly endpoints: AdminEndpoints,
    private readonly logger: Logger,
  ) {
    this.connections = new ConnectionSlots(MAX_CONNECTIONS, REQUEST_TIMEOUT_MS, options.timers ?? backgroundTimers);
    this.server = http.createServer(
      { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: CONNECTIONS_CHECK_MS, maxHeaderSize: 16_384 },
      (req, res) => {
        const socket = req.socket;
        this.connections.requestReceived(socket);
        res.once('close', () => this.connections.requestEnded(socket));
        this.handle(req, res);
      },
    );
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.server.maxHeadersCount = MAX_HEADERS;
    // the cap is the slots' (server.maxConnections would refuse a probe while idle connections hold every slot)
    this.server.on('connection', (socket: Socket) => this.connections.admit(socket));
    // a malformed request, or one past the bounds: dropped, never thrown
    this.server.on('clientError', (_err, socket: Socket) => socket.destroy());
  }

  /** Rejects with AdminListenError when the address cannot be listened on. */
  listen(): Promise<AddressInfo> {
    const { bindAddress, port } = this.options;
    return new Promise((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'is in use' : `cannot be listened on (${err.code ?? err.message})`;
        reject(new AdminListenError(`admin port ${bindAddress}:${port} (adminPort) ${why}`, { cause: err }));
      };
      this.server.once('error', failed);
      this.server.listen({ host: bindAddress, port }, () => {
        this.server.off('error', failed);
        this.server.on('error', (err) => this.logger.warn({ err }, 'admin listener error'));
        resolve(this.address());
      });
    });
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Stops listening and drops every connection (a probe or scrape in progress included). */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.connections.closeAll();
    return closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (!ROUTES.has(path)) return this.answer(req, res, 404, { error: `no such endpoint: ${path}` });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return this.answer(req, res, 405, { error: `${req.method ?? ''} not allowed: GET ${path}` });
    }
    try {
      switch (path) {
        case '/health':
          return this.answer(req, res, 200, { status: 'up' });
        case '/ready': {
          const readiness = this.endpoints.readiness();
          return this.answer(req, res, readiness.ready ? 200 : 503, readiness);
        }
        case '/status':
          return this.answer(req, res, 200, this.endpoints.status());
        default:
          this.endpoints.metrics().then(
            ({ contentType, body }) => this.send(req, res, 200, contentType, body),
            (err: unknown) => this.failed(req, res, err),
          );
      }
    } catch (err) {
      this.failed(req, res, err);
    }
  }

  private failed(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
    this.logger.error({ err, path: req.url }, 'admin request failed');
    if (!res.headersSent) this.answer(req, res, 500, { error: (err as Error).message });
    else res.destroy();
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, status: number, json: unknown): void {
    this.send(req, res, status, 'application/json; charset=utf-8', `${JSON.stringify(json)}\n`);
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, status: number, contentType: string, body: string): void {
    // a request with a body is not read: answered, then the connection closes rather than parse it
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.setHeader('connection', 'close');
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}
