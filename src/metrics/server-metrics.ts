/**
 * The Thrift server's metrics: connections accepted, refused and closed by reason, its budgets
 * (sampled from the server at each scrape), reading paused, and requests answered with an
 * application exception.
 */
import type { CounterChild, CounterFamily } from './families';
import { METHODS } from './methods';
import type { MetricRegistrar } from './registrar';
import { tickClock } from './tick-clock';

/** Why an accepted connection closed, as the reason label spells it. */
export const CLOSE_REASONS = [
  /** The client ended its side (and got every answer first). */
  'client_closed',
  /** The connection broke from the client's side: reset, or an error writing to it. */
  'client_reset',
  /** Nothing in flight for thriftServer.clientTimeout. */
  'idle',
  'empty_frame',
  /** Over maxReadBufferBytes: usually not a frame at all (an unframed client, HTTP, garbage). */
  'frame_too_large',
  'frame_timeout',
  /** A frame whose header is not a compact-protocol call: nothing to answer. */
  'unreadable_request',
  'handler_failed',
  /** Closed by the server's drain (stop). */
  'server_drain',
  /** TLS port: the handshake failed or did not finish (a plain client, no or an untrusted client certificate). */
  'tls_handshake_failed',
  /** Mutual TLS: the client's certificate is not one of thriftServer.tls.allowedSubjects. */
  'client_certificate_not_allowed',
  /** Plain port: the client began a TLS handshake. */
  'tls_on_plain_port',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** Why a connection was closed at accept. */
export const REFUSAL_REASONS = ['max_connections', 'max_connections_per_client', 'draining', 'client_not_allowed'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The TApplicationExceptions the producer service answers, as the type label spells them. */
export const EXCEPTION_TYPES = ['unknown_method', 'protocol_error', 'internal_error'] as const;
export type ExceptionType = (typeof EXCEPTION_TYPES)[number];

/** The server's state, read when /metrics is scraped. */
export interface ServerSample {
  readonly connections: number;
  readonly maxConnections: number;
  readonly pausedConnections: number;
  readonly inFlightRequests: number;
  readonly maxInFlightPerConnection: number;
  readonly inFlightBytes: number;
  readonly maxInFlightBytes: number;
  readonly overBudget: boolean;
  readonly bufferedBytes: number;
  readonly unsentReplyBytes: number;
}

/** The Thrift server's children, resolved once. */
export interface ServerMetrics {
  readonly accepted: CounterChild;
  readonly refused: Readonly<Record<RefusalReason, CounterChild>>;
  readonly closed: Readonly<Record<CloseReason, CounterChild>>;
  readonly acceptFailures: CounterChild;
  readonly budgetPauses: CounterChild;
  /** Requests received, by method (METHODS' order). */
  readonly requests: readonly CounterChild[];
  readonly exceptions: Readonly<Record<ExceptionType, CounterChild>>;
  /** Where the gauges read the server's state at each scrape (with metrics off, kept nowhere). */
  sample(source: () => ServerSample): void;
  /** What requests are timed with: monotonic milliseconds, one reading per run of callbacks (tick-clock.ts); with metrics off a constant, not a clock read. */
  readonly clock: () => number;
}

export function serverMetrics(metrics: MetricRegistrar, requestsReceived: CounterFamily<'method'>): ServerMetrics {
  const byReason = <R extends string>(family: CounterFamily<'reason'>, reasons: readonly R[]) =>
    Object.fromEntries(reasons.map((reason) => [reason, family.child({ reason })])) as Record<R, CounterChild>;
  const accepted = metrics.counter('pproxy_server_connections_accepted_total', 'Thrift connections accepted (not refused).', []);
  const refused = metrics.counter('pproxy_server_connections_refused_total', 'Thrift connections closed at accept, by reason.', ['reason']);
  const closed = metrics.counter('pproxy_server_connections_closed_total', 'Accepted Thrift connections that closed, by reason.', ['reason']);
  const acceptFailures = metrics.counter('pproxy_server_accept_failures_total', 'Connections the operating system failed to hand over (EMFILE: file descriptors exhausted).', []);
  const budgetPauses = metrics.counter(
    'pproxy_server_budget_pauses_total',
    'Times the in-flight bytes budget was exceeded and reading paused on every connection.',
    [],
  );
  const exceptions = metrics.counter(
    'pproxy_application_exceptions_total',
    'Requests answered with a Thrift application exception instead of a result code, by type.',
    ['type'],
  );
  let source: (() => ServerSample) | undefined;
  const gauge = (name: string, help: string, value: (s: ServerSample) => number) =>
    metrics.collected(name, help, () => (source ? value(source()) : undefined));
  gauge('pproxy_server_connections_open', 'Thrift connections open.', (s) => s.connections);
  gauge('pproxy_server_connections_limit', 'thriftServer.maxConnections: open connections at most.', (s) => s.maxConnections);
  gauge('pproxy_server_connections_paused', 'Open connections not being read now (a budget or limit holds them).', (s) => s.pausedConnections);
  gauge('pproxy_server_in_flight_requests', 'Requests received and not yet answered.', (s) => s.inFlightRequests);
  gauge('pproxy_server_in_flight_requests_per_connection_limit', 'thriftServer.maxInFlightPerConnection.', (s) => s.maxInFlightPerConnection);
  gauge('pproxy_server_in_flight_bytes', 'Bytes of frames being received and of requests not yet answered.', (s) => s.inFlightBytes);
  gauge('pproxy_server_in_flight_bytes_limit', 'thriftServer.maxInFlightBytes: past it no connection starts a frame.', (s) => s.maxInFlightBytes);
  gauge('pproxy_server_reads_paused', '1 while the in-flight bytes budget pauses reading on every connection.', (s) => (s.overBudget ? 1 : 0));
  gauge('pproxy_server_buffered_bytes', "Bytes received and held in connections' buffers.", (s) => s.bufferedBytes);
  gauge('pproxy_server_unsent_reply_bytes', 'Bytes of replies written and not yet taken by the operating system.', (s) => s.unsentReplyBytes);
  return {
    accepted: accepted.child({}),
    refused: byReason(refused, REFUSAL_REASONS),
    closed: byReason(closed, CLOSE_REASONS),
    acceptFailures: acceptFailures.child({}),
    budgetPauses: budgetPauses.child({}),
    requests: METHODS.map((method) => requestsReceived.child({ method })),
    exceptions: Object.fromEntries(EXCEPTION_TYPES.map((type) => [type, exceptions.child({ type })])) as Record<ExceptionType, CounterChild>,
    // with metrics off nothing reads the gauges: the server is not kept
    sample: metrics.enabled
      ? (from) => {
          source = from;
        }
      : () => undefined,
    clock: metrics.enabled ? tickClock() : () => 0,
  };
}
