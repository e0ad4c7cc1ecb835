/**
 * Which write queue of a topic a message goes to, by DDMQ's rule for RocketMQ (its RmqSender's
 * selector), over the topic's write queues in the RocketMQ 4 client's order:
 *
 * - partitionId >= 0: queue `partitionId % n` (DDMQ logs a partitionId past n and wraps it);
 * - partitionId -1: queue `|hashId| % n`, on the exact 64-bit value (DDMQ's Math.abs of
 *   Long.MIN_VALUE stays negative and fails the send; here it is 2^63 % n);
 * - otherwise a random queue.
 *
 * A retry of a message that is not ordered goes to a queue of another broker than its last attempt's
 * when the topic has one: from a random queue on, the first one of another broker. An ordered
 * message is never sent elsewhere: moving it would let a later message of its queue overtake it.
 */
import { hashModulo } from '../../routing/partition';

export interface WriteQueue {
  readonly brokerName: string;
  readonly queueId: number;
}

/** DDMQ's partition hint for "by hashId". */
const BY_HASH_ID = -1;

export function firstQueue<Q extends WriteQueue>(queues: readonly Q[], partitionId: number, hashId: bigint, random: () => number): Q {
  const n = queues.length;
  if (partitionId >= 0) return queues[partitionId % n]!;
  if (partitionId === BY_HASH_ID) return queues[hashModulo(hashId, n)]!;
  return queues[Math.floor(random() * n)]!;
}

/** The queue for another attempt of a message whose last one went to `lastBroker`. */
export function retryQueue<Q extends WriteQueue>(queues: readonly Q[], lastBroker: string, random: () => number): Q {
  const n = queues.length;
  const start = Math.floor(random() * n);
  for (let i = 0; i < n; i++) {
    const queue = queues[(start + i) % n]!;
    if (queue.brokerName !== lastBroker) return queue;
  }
  return queues[start]!;
}
