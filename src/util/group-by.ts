/**
 * Group-by, in linear time and keeping input order within each group: the proxy groups the messages
 * of one write by storage, topic, partition or FIFO group on every send.
 */

/** Appends `value` to the group of `key`, which is made on first use. */
export function addToGroup<K, V>(groups: Map<K, V[]>, key: K, value: V): void {
  const group = groups.get(key);
  if (group) group.push(value);
  else groups.set(key, [value]);
}

/** The values by `keyOf(value, index)`, groups in order of first appearance, values in input order. */
export function groupBy<K, V>(values: Iterable<V>, keyOf: (value: V, index: number) => K): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  let index = 0;
  for (const value of values) addToGroup(groups, keyOf(value, index++), value);
  return groups;
}
