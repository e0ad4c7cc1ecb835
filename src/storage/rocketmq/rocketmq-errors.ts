/**
 * RocketMQ 5 status codes and gRPC failures as StorageErrors (result codes: TOPIC_NOT_FOUND 14,
 * illegal or too large 11 (also the broker's size refusal the proxy relays as INTERNAL_SERVER_ERROR),
 * deadline 12, the rest 10; throttling and unavailability retriable). Refused credentials and a
 * certificate that does not verify are not retriable: they fail the same way until the
 * configuration changes.
 */
import * as grpc from '@grpc/grpc-js';
import { StorageError, type StorageErrorCode } from '../storage';

/** apache.rocketmq.v2.Code values this adapter tells apart. */
export const RmqCode = {
  OK: 20000,
  UNAUTHORIZED: 40100,
  FORBIDDEN: 40300,
  TOPIC_NOT_FOUND: 40402,
  TOO_MANY_REQUESTS: 42900,
  MESSAGE_BODY_TOO_LARGE: 41301,
  MESSAGE_PROPERTIES_TOO_LARGE: 43101,
  PROXY_TIMEOUT: 50400,
  MASTER_PERSISTENCE_TIMEOUT: 50401,
  SLAVE_PERSISTENCE_TIMEOUT: 50402,
  INTERNAL_SERVER_ERROR: 50001,
  HA_NOT_AVAILABLE: 50002,
} as const;

export function statusError(code: number, message: string, cluster: string): StorageError {
  const text = `rocketmq ${cluster}: ${code} ${message}`;
  const [kind, retriable] = classify(code, message);
  return new StorageError(kind, text, retriable);
}

/**
 * The Apache RocketMQ 5 proxy (5.3.3) answers a body or properties over the broker's limit (the
 * broker's MESSAGE_ILLEGAL) with INTERNAL_SERVER_ERROR and this text, not MESSAGE_BODY_TOO_LARGE.
 */
const BROKER_MESSAGE_ILLEGAL = /the message is illegal, maybe msg body or properties length not matched/i;

/**
 * The server refused this client: UNAUTHORIZED (the 5.3 proxy's answer to an unknown access key, a
 * wrong signature, a request with no signature, and to a denied ACL too) or FORBIDDEN.
 */
export function isRefusal(code: number): boolean {
  return code === RmqCode.UNAUTHORIZED || code === RmqCode.FORBIDDEN;
}

/**
 * How grpc-js reports, in an UNAVAILABLE call's details, a TLS connection that failed on the
 * certificate (Node's `unable to verify the first certificate`, `self-signed certificate`,
 * `certificate has expired`, `Hostname/IP does not match certificate's altnames`) or on the
 * handshake (`SSL routines:...:wrong version number`: TLS to a plaintext port).
 */
const TLS_FAILURE = /certificate|altnames|SSL routines/i;

/** A gRPC failure no retry can cure: the TLS connection failed on the certificate or the handshake. */
export function isTlsFailure(error: grpc.ServiceError): boolean {
  return error.code === grpc.status.UNAVAILABLE && TLS_FAILURE.test(error.details ?? error.message);
}

function classify(code: number, message: string): [StorageErrorCode, boolean] {
  if (isRefusal(code)) return ['UNAVAILABLE', false];
  if (code === RmqCode.TOPIC_NOT_FOUND) return ['TOPIC_NOT_FOUND', false];
  if (code === RmqCode.INTERNAL_SERVER_ERROR && BROKER_MESSAGE_ILLEGAL.test(message)) return ['MESSAGE_TOO_LARGE', false];
  if (code === RmqCode.MESSAGE_BODY_TOO_LARGE || code === RmqCode.MESSAGE_PROPERTIES_TOO_LARGE) return ['MESSAGE_TOO_LARGE', false];
  // 40001-40020: ILLEGAL_TOPIC, ILLEGAL_MESSAGE_TAG/KEY/GROUP/PROPERTY_KEY, MESSAGE_CORRUPTED...; but a
  // type conflict (40014) is a configuration fault, not a bad message
  if (code > 40000 && code < 40100 && code !== 40014) return ['MESSAGE_ILLEGAL', false];
  if (code === RmqCode.TOO_MANY_REQUESTS) return ['THROTTLED', true];
  if (code === RmqCode.PROXY_TIMEOUT || code === RmqCode.MASTER_PERSISTENCE_TIMEOUT || code === RmqCode.SLAVE_PERSISTENCE_TIMEOUT) {
    return ['TIMEOUT', true];
  }
  if (code === RmqCode.INTERNAL_SERVER_ERROR || code === RmqCode.HA_NOT_AVAILABLE) return ['UNAVAILABLE', true];
  return ['UNKNOWN', false];
}

/** A failed gRPC call (no RocketMQ status): the endpoint is unreachable or too slow. */
export function grpcError(error: grpc.ServiceError, cluster: string): StorageError {
  const text = `rocketmq ${cluster}: ${error.message}`;
  if (isTlsFailure(error)) return new StorageError('UNAVAILABLE', text, false, { cause: error });
  if (error.code === grpc.status.DEADLINE_EXCEEDED) return new StorageError('TIMEOUT', text, true, { cause: error });
  if (error.code === grpc.status.UNAVAILABLE || error.code === grpc.status.CANCELLED) {
    return new StorageError('UNAVAILABLE', text, true, { cause: error });
  }
  return new StorageError('UNKNOWN', text, false, { cause: error });
}
