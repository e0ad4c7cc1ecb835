/**
 * What DDMQ's console does to ZooKeeper when it binds proxies and topics (its TopicService and
 * ZKV4ConfigService; docs/ddmq/configuration.md, "The console's writes"), without the console: its MySQL tables are replaced by one node per proxy cluster,
 * `/pproxy_cluster/<cluster>` = `{carreraConfiguration, proxies}`, which the proxies never read.
 *
 * Rules kept from the console:
 * - the proxy cluster of cluster C is named `P_C`; its broker clusters are those its
 *   carreraConfiguration defines;
 * - binding a proxy adds it to every unit, on one of those broker clusters, of every topic;
 * - a unit's `maxTps` is this proxy's share: ceil(totalMaxTps / number of proxies of the unit);
 * - `/pproxy/<ip:port>` is rebuilt for every proxy of the cluster, listing every topic that has a
 *   unit on its broker clusters.
 * Node data is JSON with keys in alphabetical order, as fastjson writes it.
 */
import { CARRERA_ROOT, type ZkClient } from '../config/zookeeper/zk-client';
import { pproxyConfigProblems } from '../config/problems';
import { configSchemas, topicSchemas, type CarreraConfiguration, type ClusterType, type PProxyConfig, type TopicConfig } from '../config/schema';
import { describeIssues } from '../config/load';
import { secretsIn } from '../config/secret';

export interface ClusterDefinition {
  carreraConfiguration: CarreraConfiguration;
  /** ip:port of the proxies bound to the cluster. */
  proxies: string[];
}

/** The parent nodes the console's initZkPath creates, each with the data "default". */
const CONSOLE_PATHS = ['/topic', '/group', '/pproxy', '/cproxy', '/broker', '/monitor/host', '/monitor/assigned', '/pproxy_cluster'];
const DEFAULT_PORT = 9613;

export class BindingError extends Error {
  override readonly name = 'BindingError';
}

export class ConsoleBinding {
  private readonly schemas: ReturnType<typeof configSchemas>;

  /** `types`: the cluster types (storage plugins) a cluster's carreraConfiguration may use. */
  constructor(
    private readonly zk: ZkClient,
    private readonly types: readonly ClusterType[],
  ) {
    this.schemas = configSchemas(types);
  }

  async init(): Promise<void> {
    for (const path of CONSOLE_PATHS) await this.zk.ensure(path, 'default');
  }

  /**
   * Creates or replaces a cluster's carreraConfiguration (its proxies stay), then re-pushes its
   * proxies. The file is read as carrera.yaml is, so what it leaves out gets the defaults and the
   * nodes written pass DDMQ's validate.
   */
  async putCluster(cluster: string, carreraConfiguration: unknown): Promise<void> {
    const parsed = this.schemas.strict.carreraConfiguration.safeParse(carreraConfiguration);
    if (!parsed.success) {
      throw new BindingError(`carreraConfiguration of ${cluster}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const literal = literalSecrets(parsed.data);
    if (literal.length > 0) {
      throw new BindingError(
        `carreraConfiguration of ${cluster}: ${literal.join(', ')}: a secret goes into ZooKeeper only as a \${env:NAME} or \${file:/path} reference, resolved by each proxy (anyone may read the nodes)`,
      );
    }
    const existing = await this.readCluster(cluster);
    const definition: ClusterDefinition = { carreraConfiguration: parsed.data, proxies: existing?.proxies ?? [] };
    if (this.brokerClustersOf(definition).length === 0) {
      throw new BindingError(`carreraConfiguration of ${cluster} defines no broker cluster (${this.types.map((t) => t.mapName).join(', ')})`);
    }
    const problems = pproxyConfigProblems(this.pproxyConfig(cluster, definition, '', []), 'carreraConfiguration', this.types);
    if (problems.length > 0) throw new BindingError(problems.join('; '));
    await this.zk.put(`/pproxy_cluster/${cluster}`, fastjson(definition));
    await this.pushCluster(cluster);
  }

  /**
   * Creates or replaces a topic. Units that name no proxies for a cluster's proxy group are bound
   * to all of that cluster's proxies, as the console does for a new topic.
   */
  async putTopic(topic: unknown): Promise<TopicConfig> {
    const parsed = topicSchemas.loose.safeParse(topic);
    if (!parsed.success) {
      throw new BindingError(`topic: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    const config = parsed.data;
    const clusters = await this.readClusters();
    for (const unit of config.topicUnits) {
      for (const [cluster, definition] of clusters) {
        if (!this.brokerClustersOf(definition).includes(unit.brokerCluster)) continue;
        unit.proxies[proxyCluster(cluster)] ??= [...definition.proxies];
      }
    }
    await this.writeTopic(config);
    for (const cluster of clusters.keys()) await this.pushCluster(cluster);
    return config;
  }

  /** The console's addPProxy: binds `host` to the cluster and to every topic on its broker clusters. */
  async addPProxy(cluster: string, host: string): Promise<void> {
    const instance = normalizeHost(host);
    const definition = await this.requireCluster(cluster);
    if (!definition.proxies.includes(instance)) definition.proxies.push(instance);
    await this.zk.put(`/pproxy_cluster/${cluster}`, fastjson(definition));
    await this.updateUnits(definition, (proxies) => (proxies.includes(instance) ? proxies : [...proxies, instance]), cluster);
    await this.pushCluster(cluster);
  }

  /** The console's removePProxy: unbinds `host` everywhere and deletes its node. */
  async removePProxy(cluster: string, host: string): Promise<void> {
    const instance = normalizeHost(host);
    const definition = await this.requireCluster(cluster);
    definition.proxies = definition.proxies.filter((p) => p !== instance);
    await this.zk.put(`/pproxy_cluster/${cluster}`, fastjson(definition));
    await this.updateUnits(definition, (proxies) => proxies.filter((p) => p !== instance), cluster);
    await this.zk.remove(`/pproxy/${instance}`);
    await this.pushCluster(cluster);
  }

  /** Binds one topic to one proxy of the cluster (the console's addPProxyByTopic) or unbinds it. */
  async setTopicBinding(topicName: string, host: string, bound: boolean): Promise<void> {
    const instance = normalizeHost(host);
    const topic = await this.readTopic(topicName);
    if (!topic) throw new BindingError(`no topic ${topicName} in ZooKeeper`);
    const clusters = await this.readClusters();
    const owner = [...clusters].find(([, d]) => d.proxies.includes(instance));
    if (!owner) throw new BindingError(`${instance} is not a proxy of any cluster (add-pproxy first)`);
    const [cluster, definition] = owner;
    const group = proxyCluster(cluster);
    let touched = false;
    for (const unit of topic.topicUnits) {
      if (!this.brokerClustersOf(definition).includes(unit.brokerCluster)) continue;
      const proxies = unit.proxies[group] ?? [];
      unit.proxies[group] = bound ? [...new Set([...proxies, instance])] : proxies.filter((p) => p !== instance);
      touched = true;
    }
    if (!touched) throw new BindingError(`topic ${topicName} has no unit on the broker clusters of ${cluster}`);
    await this.writeTopic(topic);
  }

  /** Everything this command manages, for `show`. */
  async show(): Promise<{ clusters: Record<string, ClusterDefinition>; topics: TopicConfig[]; pproxies: Record<string, unknown> }> {
    const clusters = Object.fromEntries(await this.readClusters());
    const topics = (await Promise.all((await this.zk.children('/topic')).map((t) => this.readTopic(t)))).filter(
      (t): t is TopicConfig => t !== undefined,
    );
    const pproxies: Record<string, unknown> = {};
    for (const id of await this.zk.children('/pproxy')) {
      const data = await this.zk.getData(`/pproxy/${id}`);
      if (data) pproxies[id] = JSON.parse(data.toString('utf8'));
    }
    return { clusters, topics, pproxies };
  }

  /** Rewrites /pproxy/<id> of every proxy of the cluster. */
  private async pushCluster(cluster: string): Promise<void> {
    const definition = await this.requireCluster(cluster);
    const brokers = this.brokerClustersOf(definition);
    const topics = (await Promise.all((await this.zk.children('/topic')).map((t) => this.readTopic(t))))
      .filter((t): t is TopicConfig => t !== undefined && t.topicUnits.some((u) => brokers.includes(u.brokerCluster)))
      .map((t) => t.topic)
      .sort();
    for (const instance of definition.proxies) {
      await this.zk.put(`/pproxy/${instance}`, fastjson(this.pproxyConfig(cluster, definition, instance, topics)));
    }
  }

  private pproxyConfig(cluster: string, definition: ClusterDefinition, instance: string, topics: string[]): PProxyConfig {
    return {
      instance,
      proxyCluster: proxyCluster(cluster),
      brokerClusters: this.brokerClustersOf(definition),
      topics,
      carreraConfiguration: definition.carreraConfiguration,
    };
  }

  /** Applies `change` to the proxy group of `cluster` in every unit on its broker clusters. */
  private async updateUnits(definition: ClusterDefinition, change: (proxies: string[]) => string[], cluster: string): Promise<void> {
    const brokers = this.brokerClustersOf(definition);
    const group = proxyCluster(cluster);
    for (const name of await this.zk.children('/topic')) {
      const topic = await this.readTopic(name);
      if (!topic || !topic.topicUnits.some((u) => brokers.includes(u.brokerCluster))) continue;
      for (const unit of topic.topicUnits) {
        if (brokers.includes(unit.brokerCluster)) unit.proxies[group] = change(unit.proxies[group] ?? []);
      }
      await this.writeTopic(topic);
    }
  }

  /** Writes a topic with each unit's maxTps recomputed as this proxy's share. */
  private async writeTopic(topic: TopicConfig): Promise<void> {
    for (const unit of topic.topicUnits) {
      const proxies = Object.values(unit.proxies).reduce((n, group) => n + group.length, 0);
      if (proxies > 0) unit.maxTps = Math.ceil(unit.totalMaxTps / proxies);
    }
    await this.zk.put(`/topic/${topic.topic}`, fastjson(topic));
  }

  private brokerClustersOf(definition: ClusterDefinition): string[] {
    return this.types.flatMap((type) => Object.keys((definition.carreraConfiguration[type.mapName] as object | undefined) ?? {})).sort();
  }

  private async readTopic(name: string): Promise<TopicConfig | undefined> {
    const data = await this.zk.getData(`/topic/${name}`);
    if (!data || data.toString() === 'default') return undefined;
    const parsed = topicSchemas.loose.safeParse(JSON.parse(data.toString('utf8')));
    if (!parsed.success) throw new BindingError(`${CARRERA_ROOT}/topic/${name} does not validate: ${parsed.error.message}`);
    return parsed.data;
  }

  private async readCluster(cluster: string): Promise<ClusterDefinition | undefined> {
    const data = await this.zk.getData(`/pproxy_cluster/${cluster}`);
    if (!data || data.toString() === 'default') return undefined;
    const path = `/pproxy_cluster/${cluster}`;
    let raw: { carreraConfiguration: unknown; proxies?: string[] };
    try {
      raw = JSON.parse(data.toString('utf8')) as typeof raw;
    } catch {
      throw new BindingError(`${path} is not JSON; write it again with put-cluster`);
    }
    // written by put-cluster, with every default filled in; one an older release wrote may lack some
    const parsed = this.schemas.strict.carreraConfiguration.safeParse(raw.carreraConfiguration);
    if (!parsed.success) {
      throw new BindingError(`${path} does not validate (write it again with put-cluster): ${describeIssues(`${path}.carreraConfiguration`, parsed.error.issues)}`);
    }
    return { carreraConfiguration: parsed.data, proxies: raw.proxies ?? [] };
  }

  private async requireCluster(cluster: string): Promise<ClusterDefinition> {
    const definition = await this.readCluster(cluster);
    if (!definition) throw new BindingError(`no cluster ${cluster} (put-cluster first)`);
    return definition;
  }

  private async readClusters(): Promise<Map<string, ClusterDefinition>> {
    const clusters = new Map<string, ClusterDefinition>();
    for (const name of await this.zk.children('/pproxy_cluster')) {
      const definition = await this.readCluster(name);
      if (definition) clusters.set(name, definition);
    }
    return clusters;
  }
}

export function proxyCluster(cluster: string): string {
  return `P_${cluster}`;
}

/** ip or ip:port -> ip:port (the console assumes 9613). */
export function normalizeHost(host: string): string {
  if (!/^[^:\s]+(:\d{1,5})?$/.test(host)) throw new BindingError(`host must be ip[:port], got "${host}"`);
  return host.includes(':') ? host : `${host}:${DEFAULT_PORT}`;
}


/** JSON with object keys in alphabetical order and undefined values left out, as fastjson writes it. */
/** The paths of the secrets given as values, not references: their JSON is `[secret]`, not something to store. */
function literalSecrets(value: unknown): string[] {
  return secretsIn(value).flatMap(([at, found]) => (found.reference === undefined ? [at] : []));
}

export function fastjson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
