/**
 * What a failed XADD means for the message, as a StorageFailure. `retriable` is true only where
 * the command certainly did not execute, since a retry of an executed XADD stores a second entry:
 * not written (no connection), or refused by the server before executing (its error prefix says so).
 * A command written and then lost with its connection, or timed out, may have been stored: that
 * failure is final, and the caller decides whether to send again.
 */
import type { StorageFailure } from 'pproxy/storage';

/** Server refusals issued before the command runs, by the first word of the error reply. */
const REFUSED_BEFORE_EXECUTION: Readonly<Record<string, StorageFailure['code']>> = {
  // maxmemory reached with noeviction: the store is full until consumers trim or delete
  OOM: 'THROTTLED',
  LOADING: 'UNAVAILABLE',
  BUSY: 'UNAVAILABLE',
  MISCONF: 'UNAVAILABLE',
  READONLY: 'UNAVAILABLE',
  MASTERDOWN: 'UNAVAILABLE',
  TRYAGAIN: 'UNAVAILABLE',
};

/** Refusals that no retry can cure: the cluster's credentials or permissions are wrong. */
const MISCONFIGURED = new Set(['NOAUTH', 'NOPERM', 'WRONGPASS']);

export function notWritten(cluster: string, status: string): StorageFailure {
  return { code: 'UNAVAILABLE', message: `redis ${cluster}: not connected (${status}); not sent`, retriable: true };
}

export function streamMissing(stream: string): StorageFailure {
  return { code: 'TOPIC_NOT_FOUND', message: `redis stream ${stream} does not exist (requireExistingStreams)`, retriable: false };
}

export function failureOf(cluster: string, stream: string, error: unknown): StorageFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name === 'ReplyError') {
    const prefix = message.split(' ', 1)[0]!;
    const refused = REFUSED_BEFORE_EXECUTION[prefix];
    if (refused) return { code: refused, message: `redis ${cluster}: ${message}`, retriable: true };
    if (prefix === 'WRONGTYPE') {
      // the stream's key holds another type: this topic has no stream on this cluster
      return { code: 'TOPIC_NOT_FOUND', message: `redis ${cluster}: key ${stream} is not a stream: ${message}`, retriable: false };
    }
    if (MISCONFIGURED.has(prefix)) return { code: 'UNAVAILABLE', message: `redis ${cluster}: ${message}`, retriable: false };
    return { code: 'UNKNOWN', message: `redis ${cluster}: ${message}`, retriable: false };
  }
  // the client refuses to write while its socket is not writable (it queues nothing)
  if (message.startsWith("Stream isn't writeable")) return { code: 'UNAVAILABLE', message: `redis ${cluster}: ${message}; not sent`, retriable: true };
  // the client's other errors: the command was written and its reply did not come
  if (message === 'Command timed out') {
    return { code: 'TIMEOUT', message: `redis ${cluster}: no reply within the command timeout; the message may be stored`, retriable: false };
  }
  return { code: 'UNAVAILABLE', message: `redis ${cluster}: ${message}; the message may be stored`, retriable: false };
}
