/**
 * Partition choice from DDMQ's hints (docs/ddmq/routing.md), shared by every partitioned storage.
 *
 * Fixes over the original: the hashId is reduced exactly on its 64-bit value and never yields a
 * negative partition (the original Kafka path computes `(int)(hashId % n)` with no abs and fails on
 * negative hashIds), and an explicit partition beyond the partition count is refused instead of
 * being handed to a client that may drop it silently.
 *
 * hashId -> |hashId| mod n, the rule DDMQ applies to RocketMQ queues, so a hashId keeps the same
 * index whichever broker type the topic lives on. |-2^63| is taken as 2^63, not Java's overflow.
 */

export const PARTITION_BY_HASH = -1;

/** Returns the partition index, or undefined when an explicit partition does not exist. */
export function choosePartition(
  partitionId: number,
  hashId: bigint,
  partitionCount: number,
  random: () => number = Math.random,
): number | undefined {
  if (partitionId >= 0) return partitionId < partitionCount ? partitionId : undefined;
  if (partitionId === PARTITION_BY_HASH) return hashModulo(hashId, partitionCount);
  return Math.floor(random() * partitionCount);
}

/** |value| mod n on the exact 64-bit value. */
export function hashModulo(value: bigint, n: number): number {
  const magnitude = value < 0n ? -value : value;
  return Number(magnitude % BigInt(n));
}
