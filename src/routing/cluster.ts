/**
 * Cluster choice for a topic served by several broker clusters, as DDMQ's TopicConfigManager makes
 * it (docs/ddmq/routing.md): clusters sorted by name; index from partitionId if >= 0, else hashId if
 * partitionId == -1, else Java's String.hashCode of the key, else random; cluster = |index| mod n.
 * The original casts to int before the modulo and can index negatively; here it is exact.
 */
import { javaStringHashCode } from '../core/java-string';
import { hashModulo } from './partition';

export interface RoutingHints {
  readonly partitionId: number;
  readonly hashId: bigint;
  readonly key: string | undefined;
}

/** `sortedClusters` must be sorted by name and non-empty. */
export function chooseCluster<T>(sortedClusters: readonly T[], hints: RoutingHints, random: () => number = Math.random): T {
  const n = sortedClusters.length;
  if (n === 1) return sortedClusters[0]!;
  let index: bigint;
  if (hints.partitionId >= 0) index = BigInt(hints.partitionId);
  else if (hints.partitionId === -1) index = hints.hashId;
  else if (hints.key !== undefined) index = BigInt(javaStringHashCode(hints.key));
  else return sortedClusters[Math.floor(random() * n)]!;
  return sortedClusters[hashModulo(index, n)]!;
}
