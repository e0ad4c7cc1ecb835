/**
 * NATS and JetStream errors as storage failures. Every publish carries a message id the server
 * deduplicates on, so a retry of a message whose fate is unknown (the ack was lost) cannot store it
 * twice: such failures are retriable, on a stream whose duplicate window outlasts the retries
 * (notDeduplicated says what they become on another). Whether the request went out decides the code:
 * UNAVAILABLE when it did not, TIMEOUT when it did and its fate is unknown.
 */
import type { StorageFailure } from 'pproxy/storage';

/** The fields of the client's NatsError this mapping reads. */
interface NatsErrorLike {
  readonly code?: string;
  readonly message?: string;
  readonly api_error?: { readonly code: number; readonly err_code?: number; readonly description?: string };
}

/** JetStream API error codes (the server's err_code). */
const JS_STREAM_NOT_FOUND = 10059;
const JS_EXPECTED_STREAM_MISMATCH = 10060;
/** A stream store failure: with `discard: new` a full stream answers it (maximum bytes / messages exceeded). */
const JS_STREAM_STORE_FAILED = 10077;
/** The server or account has no storage left for the stream. */
const JS_INSUFFICIENT_RESOURCES = 10047;
const JS_MESSAGE_SIZE_EXCEEDED = 10054;

/** The failure of one publish request (a JetStream refusal, or what the client threw). */
export function publishFailure(error: unknown, cluster: string, subject: string): StorageFailure {
  const e = (error ?? {}) as NatsErrorLike;
  const api = e.api_error;
  if (api) return apiFailure(api, cluster, subject);
  switch (e.code) {
    case 'TIMEOUT':
      return { code: 'TIMEOUT', message: `no ack from jetstream ${cluster} for ${subject} in time (stored or not)`, retriable: true };
    case '503':
      return { code: 'UNAVAILABLE', message: `no stream of jetstream ${cluster} answers on ${subject}`, retriable: true };
    case 'MAX_PAYLOAD_EXCEEDED':
      return { code: 'MESSAGE_TOO_LARGE', message: `message with its headers exceeds the max_payload of jetstream ${cluster}`, retriable: false };
    case 'BAD_HEADER':
      return { code: 'MESSAGE_ILLEGAL', message: `jetstream ${cluster}: ${e.message}`, retriable: false };
    // the storage never closes or drains its connection while it publishes: the client closed it
    case 'CONNECTION_CLOSED':
    case 'CONNECTION_DRAINING':
      return connectionClosedFailure(cluster);
    case 'DISCONNECT':
      return { code: 'UNAVAILABLE', message: `jetstream ${cluster}: connection lost`, retriable: true };
    default:
      return { code: 'UNKNOWN', message: `jetstream ${cluster}: ${e.message ?? String(error)}`, retriable: false };
  }
}

export function isStreamNotFound(error: unknown): boolean {
  return (error as NatsErrorLike | undefined)?.api_error?.err_code === JS_STREAM_NOT_FOUND;
}

function apiFailure(api: NonNullable<NatsErrorLike['api_error']>, cluster: string, subject: string): StorageFailure {
  const text = `jetstream ${cluster} refused ${subject}: ${api.description ?? api.code} (${api.err_code ?? api.code})`;
  switch (api.err_code) {
    case JS_STREAM_STORE_FAILED:
    case JS_INSUFFICIENT_RESOURCES:
      // Nothing was stored and space comes back (purge, max_age, consumers acking a work queue):
      // retrying within the caller's deadline is safe and may succeed.
      return { code: 'THROTTLED', message: text, retriable: true };
    case JS_MESSAGE_SIZE_EXCEEDED:
      return { code: 'MESSAGE_TOO_LARGE', message: text, retriable: false };
    case JS_STREAM_NOT_FOUND:
    case JS_EXPECTED_STREAM_MISMATCH:
      return { code: 'TOPIC_NOT_FOUND', message: text, retriable: false };
    default:
      // 503: the stream has no leader (a cluster electing one), which passes.
      return { code: api.code === 503 ? 'UNAVAILABLE' : 'UNKNOWN', message: text, retriable: api.code === 503 };
  }
}

export function closedFailure(cluster: string): StorageFailure {
  return { code: 'CLOSED', message: `jetstream ${cluster} is closed`, retriable: true };
}

export function notStartedFailure(cluster: string): StorageFailure {
  return { code: 'UNAVAILABLE', message: `jetstream ${cluster} is not started`, retriable: true };
}

/** Nothing was sent: the connection is down, and reconnecting unless the client closed it for good. */
export function notConnectedFailure(cluster: string, closedForGood: boolean): StorageFailure {
  if (closedForGood) return connectionClosedFailure(cluster);
  return { code: 'UNAVAILABLE', message: `jetstream ${cluster} is not connected (reconnecting); nothing was sent`, retriable: true };
}

/**
 * The client closed the connection by itself (the server refused it the same way twice, e.g. an
 * authorization violation) and dials no more: not retriable, since no retry on this storage can
 * succeed; only a new storage (the proxy restarted, or the cluster's settings changed) connects again.
 * Not CLOSED, which tells the host the storage was replaced and a retry reaches the new one.
 */
function connectionClosedFailure(cluster: string): StorageFailure {
  return { code: 'UNAVAILABLE', message: `jetstream ${cluster}: the client closed its connection and does not reconnect; nothing was sent`, retriable: false };
}

/**
 * A failure whose message may be stored (TIMEOUT), on a stream whose duplicate window is shorter
 * than the plugin's duplicateWindowMs: a retry could outlive the window and store the message twice,
 * so it is not retried. Any other failure is returned as it is.
 */
export function notDeduplicated(failure: StorageFailure, stream: string, windowMs: number): StorageFailure {
  if (failure.code !== 'TIMEOUT') return failure;
  return { code: 'TIMEOUT', message: `${failure.message}; not retried: stream ${stream} deduplicates for only ${windowMs} ms`, retriable: false };
}

export function connectionLostFailure(cluster: string, subject: string): StorageFailure {
  return {
    code: 'TIMEOUT',
    message: `jetstream ${cluster}: connection lost before the ack for ${subject} (stored or not)`,
    retriable: true,
  };
}
