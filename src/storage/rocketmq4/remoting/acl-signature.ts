/**
 * RocketMQ 4's ACL signature (the 4.x client's AclClientRPCHook, checked by the broker's
 * PlainAccessValidator): a request carries its signer's `AccessKey` (and `SecurityToken`, when one
 * is given) as ext fields, and `Signature`, the Base64 of HmacSHA1 under the secret key over the
 * values of every other ext field in the order of their names, then the body.
 *
 * The broker recomputes the content from the ext fields it decoded, so the signature covers exactly
 * what is sent: our requests have no header object of their own to encode first (the Java client's
 * makeCustomHeaderToNet, which leaves null fields out), their ext fields are what goes on the wire.
 */
import { createHmac } from 'node:crypto';
import type { RemotingCommand } from './remoting-command';

export const AclField = { ACCESS_KEY: 'AccessKey', SECURITY_TOKEN: 'SecurityToken', SIGNATURE: 'Signature' } as const;

export interface AclCredentials {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly securityToken?: string | undefined;
}

/** A request as it is to be sent: the same command with the signer's fields added. */
export type RequestSigner = (request: RemotingCommand) => RemotingCommand;

/**
 * What is signed: the ext fields' values but the signature's, ordered by name as Java's TreeMap
 * orders strings (UTF-16 code units, as Array.sort compares them), then the body. Each value is
 * encoded on its own, as the broker decodes each value to a string before joining them.
 */
export function signedContent(extFields: Readonly<Record<string, string>>, body: Buffer | undefined): Buffer {
  const names = Object.keys(extFields)
    .filter((name) => name !== AclField.SIGNATURE)
    .sort();
  const parts: Buffer[] = names.map((name) => Buffer.from(extFields[name]!, 'utf8'));
  if (body) parts.push(body);
  return Buffer.concat(parts);
}

/** Base64 of HmacSHA1(secretKey, content): AclSigner.calSignature. */
export function aclSignature(content: Buffer, secretKey: string): string {
  return createHmac('sha1', Buffer.from(secretKey, 'utf8')).update(content).digest('base64');
}

/**
 * Signs every request with `credentials`. The credentials stay in the closure: the signer itself
 * prints as a function, never as its keys.
 */
export function requestSigner(credentials: AclCredentials): RequestSigner {
  const { accessKey, secretKey, securityToken } = credentials;
  return (request) => {
    const extFields: Record<string, string> = { ...request.extFields, [AclField.ACCESS_KEY]: accessKey };
    if (securityToken !== undefined) extFields[AclField.SECURITY_TOKEN] = securityToken;
    extFields[AclField.SIGNATURE] = aclSignature(signedContent(extFields, request.body), secretKey);
    return { ...request, extFields };
  };
}
