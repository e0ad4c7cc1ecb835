/**
 * Consistency rules across a PProxyConfig and its topics that a per-field schema cannot express.
 * Each problem names the field path and what is wrong.
 */
import type { ClusterType, PProxyConfig, TopicConfig } from './schema';

/**
 * DDMQ's checkProxyConfig (every cluster a map defines is listed in brokerClusters), plus: no cluster
 * is in two maps, since one name has one storage (DDMQ lets RocketMQ's replace Kafka's).
 */
export function pproxyConfigProblems(pproxy: PProxyConfig, path: string, types: readonly ClusterType[]): string[] {
  const problems: string[] = [];
  const conf = pproxy.carreraConfiguration;
  const typeOf = new Map<string, string>();
  for (const { mapName: map } of types) {
    for (const cluster of Object.keys((conf[map] as object | undefined) ?? {})) {
      const other = typeOf.get(cluster);
      if (other) problems.push(`${path}.carreraConfiguration: cluster "${cluster}" is in both ${other} and ${map}`);
      typeOf.set(cluster, map);
      if (!pproxy.brokerClusters.includes(cluster)) {
        problems.push(`${path}.carreraConfiguration.${map}.${cluster}: cluster is not listed in brokerClusters`);
      }
    }
  }
  return problems;
}

/** Topics defined by hand next to their PProxyConfig (local mode) must all be usable. */
export function localTopicProblems(pproxy: PProxyConfig, topics: readonly TopicConfig[], path: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  topics.forEach((topic, i) => {
    if (seen.has(topic.topic)) problems.push(`${path}[${i}].topic: "${topic.topic}" is defined twice`);
    seen.add(topic.topic);
    topic.topicUnits.forEach((unit, j) => {
      if (!pproxy.brokerClusters.includes(unit.brokerCluster)) {
        problems.push(
          `${path}[${i}].topicUnits[${j}].brokerCluster: "${unit.brokerCluster}" is not one of pproxy.brokerClusters`,
        );
      }
    });
  });
  (pproxy.topics ?? []).forEach((name, i) => {
    if (!seen.has(name)) problems.push(`pproxy.topics[${i}]: topic "${name}" has no config in ${path}`);
  });
  return problems;
}
