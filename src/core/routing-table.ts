/**
 * The immutable snapshot of what this proxy serves: topic -> clusters and flags. A configuration
 * change builds a new table and swaps it in whole, so a request sees one consistent view. A table
 * is built in chunks of topics, yielding to the event loop between them: a configuration of tens
 * of thousands of topics takes tens of milliseconds to build, which other clients must not wait for.
 */
import type { PProxyConfig, TopicConfig, TopicUnit } from '../config/schema';
import type { ClusterStorage } from '../storage/storage';
import { SenderList } from '../security/caller';
import { DEFAULT_MAX_MESSAGE_SIZE } from './validate';
import { forEachInChunks } from '../util/concurrency';
import { addToGroup } from '../util/group-by';

/** One broker cluster of a topic. `storage` is undefined when the cluster has no producer (21). */
export interface ClusterRoute {
  readonly name: string;
  readonly storage: ClusterStorage | undefined;
  /** This proxy's share of the topic's limit on this cluster. */
  readonly maxTps: number;
}

export interface ServedTopic {
  readonly name: string;
  /** Sorted by name: DDMQ's cluster-choice rule indexes into this order. */
  readonly clusters: readonly ClusterRoute[];
  readonly delayTopic: boolean;
  readonly autoBatch: boolean;
  readonly strongOrder: boolean;
  readonly limiterFailureRetryInterval: number;
  /** The smallest body limit among the topic's clusters, or DDMQ's 2 MiB default. */
  readonly maxMessageSize: number;
  /** The client identities (mutual TLS) that may produce to it; undefined: every client. */
  readonly allowedProducers: ReadonlySet<string> | undefined;
}

export interface RoutingTable {
  readonly topics: ReadonlyMap<string, ServedTopic>;
  /** Delay inner-topic prefix (carreraConfiguration.delay); such topics cannot be produced to directly. */
  readonly innerTopicPrefix: string | undefined;
  /** How many inner topics (prefix + 0 .. innerTopicNum - 1) delay messages are spread over. */
  readonly innerTopicNum: number;
  /** Who may send `from_chronos` (delay.trustedSenders); undefined: everyone, as in DDMQ. */
  readonly chronosSenders: SenderList | undefined;
}

export interface Identity {
  /** host:port of this proxy. */
  readonly instance: string;
  /**
   * Whether a unit must list this instance in its `proxies` to be served. ZooKeeper mode: yes, as
   * in DDMQ. Local mode: no (DDMQ's local mode takes units as they are), unless a unit names proxies.
   */
  readonly requireBinding: boolean;
}

/** Topics handled between two yields to the event loop: about a millisecond of work. */
const TOPICS_PER_CHUNK = 500;

export async function buildRoutingTable(
  pproxy: PProxyConfig,
  topicConfigs: readonly TopicConfig[],
  storages: ReadonlyMap<string, ClusterStorage>,
  identity: Identity,
): Promise<RoutingTable> {
  const topics = new Map<string, ServedTopic>();
  await forEachInChunks(servedUnits(pproxy, topicConfigs, identity), TOPICS_PER_CHUNK, ([config, units]) => {
    const clusters = units.map((unit): ClusterRoute => ({ name: unit.brokerCluster, storage: storages.get(unit.brokerCluster), maxTps: unit.maxTps }));
    clusters.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const limits = clusters.map((c) => c.storage?.maxMessageSize).filter((n): n is number => n !== undefined);
    topics.set(config.topic, {
      name: config.topic,
      clusters,
      delayTopic: config.delayTopic,
      autoBatch: config.autoBatch,
      strongOrder: config.strongOrder,
      limiterFailureRetryInterval: config.limiterFailureRetryInterval,
      maxMessageSize: limits.length > 0 ? Math.min(...limits) : DEFAULT_MAX_MESSAGE_SIZE,
      allowedProducers: config.allowedProducers ? new Set(config.allowedProducers) : undefined,
    });
  });
  const delay = pproxy.carreraConfiguration.delay;
  return {
    topics,
    innerTopicPrefix: delay?.chronosInnerTopicPrefix,
    innerTopicNum: delay?.innerTopicNum ?? 0,
    chronosSenders: delay?.trustedSenders ? new SenderList(delay.trustedSenders) : undefined,
  };
}

/** The topics this proxy serves on each broker cluster (what a new cluster storage is warmed up for). */
export async function servedTopicsByCluster(
  pproxy: PProxyConfig,
  topicConfigs: readonly TopicConfig[],
  identity: Identity,
): Promise<Map<string, string[]>> {
  const byCluster = new Map<string, string[]>();
  await forEachInChunks(servedUnits(pproxy, topicConfigs, identity), TOPICS_PER_CHUNK, ([config, units]) => {
    for (const unit of units) addToGroup(byCluster, unit.brokerCluster, config.topic);
  });
  return byCluster;
}

/** Each topic this proxy serves, with its units on the node's broker clusters that are bound to it. */
function* servedUnits(pproxy: PProxyConfig, topicConfigs: readonly TopicConfig[], identity: Identity): Generator<[TopicConfig, TopicUnit[]]> {
  const listed = pproxy.topics ? new Set(pproxy.topics) : undefined;
  const brokerClusters = new Set(pproxy.brokerClusters);
  for (const config of topicConfigs) {
    if (listed && !listed.has(config.topic)) continue;
    const units = config.topicUnits.filter((unit) => brokerClusters.has(unit.brokerCluster) && isBound(unit.proxies, identity));
    if (units.length > 0) yield [config, units];
  }
}

function isBound(proxies: Readonly<Record<string, readonly string[]>>, identity: Identity): boolean {
  const groups = Object.values(proxies);
  if (!identity.requireBinding && groups.every((g) => g.length === 0)) return true;
  return groups.some((g) => g.includes(identity.instance));
}
