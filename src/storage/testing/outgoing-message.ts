/** OutgoingMessages for storage tests, with the defaults of a message no client set hints on. */
import type { OutgoingMessage } from '../storage';

/** DDMQ's partitionId for "any partition". */
const RANDOM_PARTITION = -2;

/** A message to `topic` with `body`; key, tags and properties unset, random partition, unordered, stamped now. */
export function outgoingMessage(fields: Partial<OutgoingMessage> & Pick<OutgoingMessage, 'topic' | 'body'>): OutgoingMessage {
  return {
    key: undefined,
    tags: undefined,
    properties: undefined,
    partitionId: RANDOM_PARTITION,
    hashId: 0n,
    ordered: false,
    timestamp: Date.now(),
    ...fields,
  };
}
