/**
 * RocketMQ 5's request signature (the gRPC protocol's ACL): each request carries its time in
 * `x-mq-date-time` and an `authorization` header naming the access key and signing that time with
 * the secret key,
 *
 *   MQv2-HMAC-SHA1 Credential=<accessKey>, SignedHeaders=x-mq-date-time, Signature=<HEX>
 *
 * HEX being HMAC-SHA1(secretKey, the x-mq-date-time value) in upper-case hex, as Apache's clients
 * write it (the 5.3 proxy decodes the hex and compares it with its own HMAC of the date-time), and
 * `x-mq-session-token` with the security token when there is one.
 */
import { createHmac } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { Secret } from '../plugin-api';

const SIGNATURE_ALGORITHM = 'MQv2-HMAC-SHA1';

export interface RequestCredentials {
  readonly accessKey: string;
  readonly secretKey: Secret;
  readonly securityToken?: Secret | undefined;
}

/** The signature of `dateTime` (the x-mq-date-time value) with `secretKey`. */
export function signature(secretKey: string, dateTime: string): string {
  return createHmac('sha1', secretKey).update(dateTime, 'utf8').digest('hex').toUpperCase();
}

/** The `authorization` header of a request made at `dateTime`. */
export function authorization(accessKey: string, secretKey: string, dateTime: string): string {
  return `${SIGNATURE_ALGORITHM} Credential=${accessKey}, SignedHeaders=x-mq-date-time, Signature=${signature(secretKey, dateTime)}`;
}

/** Adds the signature headers to a request's metadata, given the x-mq-date-time it carries. */
export type RequestSigner = (metadata: grpc.Metadata, dateTime: string) => void;

/**
 * The cluster's signer: the one place its secret key and token are revealed, once. The date-time
 * changes once a second, so the header of the last one is kept for the calls made within it.
 */
export function requestSigner(credentials: RequestCredentials): RequestSigner {
  const secretKey = credentials.secretKey.reveal();
  const token = credentials.securityToken?.reveal();
  let signedAt = '';
  let header = '';
  return (metadata, dateTime) => {
    if (dateTime !== signedAt) {
      header = authorization(credentials.accessKey, secretKey, dateTime);
      signedAt = dateTime;
    }
    metadata.set('authorization', header);
    if (token !== undefined) metadata.set('x-mq-session-token', token);
  };
}
