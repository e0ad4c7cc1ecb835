/**
 * kafkajs failures as StorageErrors (docs/ddmq/pipeline.md, "Broker failures to codes", with properties the original lacks:
 * every error says whether it may be retried). kafkajs wraps the last failure of its retries, so the
 * cause chain is followed to the broker's own error.
 */
import { KafkaJSConnectionError, KafkaJSError, KafkaJSProtocolError, KafkaJSRequestTimeoutError, KafkaJSSASLAuthenticationError } from './kafkajs';
import { StorageError, type StorageErrorCode } from '../storage';

const PROTOCOL_ERRORS: Readonly<Record<string, StorageErrorCode>> = {
  UNKNOWN_TOPIC_OR_PARTITION: 'TOPIC_NOT_FOUND',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  RECORD_LIST_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  INVALID_RECORD: 'MESSAGE_ILLEGAL',
  CORRUPT_MESSAGE: 'MESSAGE_ILLEGAL',
  REQUEST_TIMED_OUT: 'TIMEOUT',
  THROTTLING_QUOTA_EXCEEDED: 'THROTTLED',
};

/**
 * Node's codes for a broker certificate that does not verify (unknown CA, wrong name, expired), and
 * OpenSSL's for the TLS alerts a broker sends when it refuses our client certificate (none, from a
 * CA it does not trust, expired): kafkajs calls every connection error retriable, but these fail
 * the same way until the configuration changes, and retrying them only turns a prompt answer into a
 * late timeout.
 */
const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
]);

/** A failure no retry can cure: the broker refused our credentials, or we refused its certificate. */
export function isSecurityFailure(error: unknown): boolean {
  const root = rootCause(error);
  return root instanceof KafkaJSSASLAuthenticationError || (root instanceof KafkaJSConnectionError && CERTIFICATE_ERRORS.has((root as { code?: string }).code ?? ''));
}

export function toStorageError(error: unknown, cluster: string): StorageError {
  if (error instanceof StorageError) return error;
  const root = rootCause(error);
  const message = `kafka ${cluster}: ${(root as Error)?.message ?? String(root)}`;
  if (root instanceof KafkaJSProtocolError) {
    const code = PROTOCOL_ERRORS[root.type] ?? 'UNKNOWN';
    // kafkajs calls an unknown topic retriable (it may be being created); DDMQ answers 14 at once,
    // and retrying until the deadline would turn that 14 into a late 12
    return new StorageError(code, message, code !== 'TOPIC_NOT_FOUND' && root.retriable, { cause: error });
  }
  if (isSecurityFailure(root)) return new StorageError('UNAVAILABLE', message, false, { cause: error });
  if (root instanceof KafkaJSRequestTimeoutError) return new StorageError('TIMEOUT', message, true, { cause: error });
  if (root instanceof KafkaJSError) return new StorageError('UNAVAILABLE', message, root.retriable, { cause: error });
  return new StorageError('UNKNOWN', message, false, { cause: error });
}

/** The innermost error: kafkajs keeps the last attempt's failure in `originalError` or `cause`. */
function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 10; depth++) {
    const next = (current as { originalError?: unknown; cause?: unknown } | undefined)?.originalError
      ?? (current as { cause?: unknown } | undefined)?.cause;
    if (next === undefined || next === current) return current;
    current = next;
  }
  return current;
}
