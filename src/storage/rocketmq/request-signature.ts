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

export const SIGNATURE_ALGORITHM = 'MQv2-HMAC-SHA1';

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

/**
 * Adds the signature headers to `metadata`, whose x-mq-date-time is already set: the one place the
 * secret key and the token are revealed.
 */
export function signRequest(metadata: grpc.Metadata, credentials: RequestCredentials): void {
  const dateTime = metadata.get('x-mq-date-time')[0];
  if (typeof dateTime !== 'string') throw new Error('a request is signed after its x-mq-date-time is set');
  metadata.set('authorization', authorization(credentials.accessKey, credentials.secretKey.reveal(), dateTime));
  if (credentials.securityToken) metadata.set('x-mq-session-token', credentials.securityToken.reveal());
}
