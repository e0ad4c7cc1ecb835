/**
 * The Nats-Msg-Id of each message, made on its first send and kept for the same OutgoingMessage
 * object, which the host passes again on every retry. Kept for the module, not per storage: after a
 * configuration change the host resends a message to the cluster's replacement storage, and that
 * resend must carry the id the server may already have stored it under.
 */
import { randomUUID } from 'node:crypto';
import type { OutgoingMessage } from 'pproxy/storage';

/** The length of every message id (a UUID), for sizing a message before its id exists. */
export const MSG_ID_LENGTH = 36;

const ids = new WeakMap<OutgoingMessage, string>();

export function messageId(message: OutgoingMessage): string {
  let id = ids.get(message);
  if (id === undefined) {
    id = randomUUID();
    ids.set(message, id);
  }
  return id;
}
