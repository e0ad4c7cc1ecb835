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
 * Base64 of HmacSHA1(secretKey, content), AclSigner.calSignature. The content is the ext fields'
 * values but the signature's, ordered by name as Java's TreeMap orders strings (UTF-16 code units,
 * as Array.sort compares them), each encoded in UTF-8 on its own as the broker decodes each value
 * before joining them, then the body. It is fed to the HMAC piece by piece: the body (up to a whole
 * batch) is not copied to be signed.
 */
export function aclSignature(extFields: Readonly<Record<string, string>>, body: Buffer | undefined, secretKey: string | Buffer): string {
  const hmac = createHmac('sha1', secretKey);
  for (const name of Object.keys(extFields).sort()) if (name !== AclField.SIGNATURE) hmac.update(extFields[name]!, 'utf8');
  if (body) hmac.update(body);
  return hmac.digest('base64');
}

/**
 * Signs every request with `credentials`. The credentials stay in the closure: the signer itself
 * prints as a function, never as its keys.
 */
export function requestSigner(credentials: AclCredentials): RequestSigner {
  const { accessKey, securityToken } = credentials;
  const secretKey = Buffer.from(credentials.secretKey, 'utf8');
  return (request) => {
    const extFields: Record<string, string> = { ...request.extFields, [AclField.ACCESS_KEY]: accessKey };
    if (securityToken !== undefined) extFields[AclField.SECURITY_TOKEN] = securityToken;
    extFields[AclField.SIGNATURE] = aclSignature(extFields, request.body, secretKey);
    return { ...request, extFields };
  };
}
