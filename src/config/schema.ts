/**
 * Schemas of the proxy's configuration, with DDMQ's JSON field names, so a PProxyConfig or
 * TopicConfig moves between carrera.yaml and ZooKeeper unchanged. Their rules are those of DDMQ's
 * validate() methods (PProxyConfig, CarreraConfiguration, ThriftServerConfiguration,
 * BatchMQProducerConfiguration, TopicConfig, TopicConfiguration, and the adapters' cluster
 * settings; docs/ddmq/configuration.md), and the README lists what pproxy adds to them.
 *
 * Each schema is built in the two modes of ./strictness: strict for carrera.yaml, loose for
 * ZooKeeper. Besides unknown keys and required fields, the modes differ in one more way: DDMQ
 * validates a broker type's clusters and the autoBatch settings only while they are switched on
 * (useKafka, useRocketmq, useAutoBatch), and so does the loose mode; carrera.yaml's are checked
 * whole, so a mistake shows before the switch is turned on.
 *
 * DDMQ fields this proxy accepts but does not use are listed with `unused()` so that neither mode
 * refuses them.
 *
 * The cluster types are not known here: each is a storage plugin, described to the schema by a
 * ClusterType (its `<kind>ConfigurationMap`, its switch, its cluster schema), so the keys of
 * carreraConfiguration follow the plugins loaded.
 */
import { z } from 'zod';
import { DEFAULT_MAX_PROPERTIES_BYTES, DEFAULT_MAX_PROPERTIES_PER_MESSAGE } from '../core/property-limits';
import { isSenderEntry } from '../security/caller';
import { isIdentity } from '../security/identities';
import { parseSubnet } from '../security/networks';
import { secret } from './secret';
import { requiredByDdmq, withStrictness, type Strictness } from './strictness';
import { zkAuthProblem } from './zookeeper/zk-auth';

const positiveInt = () => z.number().int().positive();
const nonNegativeInt = () => z.number().int().nonnegative();
/** DDMQ's StringUtils.isNotEmpty. */
const nonEmptyString = () => z.string().min(1, 'must not be empty');
/** A DDMQ field that the proxy accepts and ignores. */
const unused = () => z.unknown().optional();
/** A client identity of a certificate (security/identities.ts): `CN:name`, `DNS:name`, `URI:uri`, `email:address`, `IP:address`. */
const identity = () => z.string().refine(isIdentity, 'must be CN:, DNS:, URI:, email: or IP: followed by the name');
/** A CIDR or a single address, IPv4 or IPv6. */
const subnet = () =>
  z.string().superRefine((text, ctx) => {
    const parsed = parseSubnet(text);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  });

/** What the configuration needs to know of a cluster type (a storage plugin). */
export interface ClusterType {
  readonly kind: string;
  /** carreraConfiguration key of its clusters: `<kind>ConfigurationMap`. */
  readonly mapName: string;
  /** DDMQ's switch and producer count keys, where the type has them (useKafka, kafkaProducers). */
  readonly switch: { readonly enabledBy: string; readonly producers: string } | undefined;
  /** Where the type comes from, added to its clusters' errors (a loaded plugin), or undefined (built in). */
  readonly origin: string | undefined;
  /** The schema of one cluster's settings, in a mode. */
  clusterSchema(mode: Strictness): z.ZodType;
}

const CLUSTER_MAP_SUFFIX = 'ConfigurationMap';

export function clusterMapName(kind: string): string {
  return `${kind}${CLUSTER_MAP_SUFFIX}`;
}

function buildSchemas(mode: Strictness, types: readonly ClusterType[]) {
  const object = <T extends z.ZodRawShape>(shape: T) => withStrictness(z.object(shape), mode);

  const topicUnit = object({
    brokerCluster: nonEmptyString(),
    /** proxyCluster -> ["ip:port", ...] of the proxies that serve this unit. */
    proxies: z.record(z.string(), z.array(z.string())).default({}),
    totalMaxTps: z.number().positive().default(1024),
    /**
     * This proxy's share of totalMaxTps (the console writes ceil(total / proxies)). DDMQ does not
     * check it; a topic whose shares add up to 0 or less is refused by the limiter (15).
     */
    maxTps: z.number().default(1024),
  });

  const topicConfig = object({
    topic: nonEmptyString(),
    topicUnits: z.array(topicUnit).min(1, 'a topic needs at least one topicUnit'),
    delayTopic: z.boolean().default(false),
    autoBatch: z.boolean().default(false),
    strongOrder: z.boolean().default(false),
    /** -1: derive from the request timeout, 0: no deferred retry, other: wait that many ms (at once when negative). */
    limiterFailureRetryInterval: z.number().int().default(-1),
    alarmGroup: unused(),
    compressType: unused(),
    /**
     * pproxy: the client identities (mutual TLS) that may produce to the topic; others are answered
     * 13 as if it were not served. Absent: every client. DDMQ's console ignores the key.
     */
    allowedProducers: z.array(identity()).optional(),
  });

  const topicInfoConfiguration = object({ topics: z.array(topicConfig).default([]) });

  const thriftServer = object({
    port: unused(), // carrera.yaml's port always wins, as in DDMQ
    /** Largest frame accepted; a larger one closes its connection before it is buffered. */
    maxReadBufferBytes: requiredByDdmq(positiveInt().default(5_000_000)),
    backlog: requiredByDdmq(positiveInt().default(511)),
    /** Idle connection timeout in ms; 0 = never (DDMQ passes it to the socket, where it has no effect). */
    clientTimeout: nonNegativeInt().default(0),
    /** Requests in flight on one connection before the proxy stops reading from it. */
    maxInFlightPerConnection: positiveInt().default(1024),
    /**
     * Bytes of frames being received (at their full length) and requests not yet answered, over all
     * connections; past it no connection starts a new frame (TCP backpressure) until half of it is
     * answered.
     */
    maxInFlightBytes: positiveInt().default(64 * 1024 * 1024),
    /** Open connections at most; one more is closed at accept (counted and logged). */
    maxConnections: positiveInt().default(10_000),
    /** Open connections from one client address at most; one more is closed at accept. */
    maxConnectionsPerClient: positiveInt().default(1_000),
    /** A frame must arrive whole within this many ms of its first byte, or its connection is closed; 0 = no deadline. */
    frameTimeoutMs: nonNegativeInt().default(5_000),
    /**
     * A message's properties: entries, and bytes as RocketMQ serializes them (name, value, two
     * separators each). Past either the message is illegal (11) and the rest of its properties is
     * not decoded. The defaults refuse nothing RocketMQ's 32767-byte bound would take.
     */
    maxPropertiesPerMessage: positiveInt().default(DEFAULT_MAX_PROPERTIES_PER_MESSAGE),
    maxPropertiesBytes: positiveInt().default(DEFAULT_MAX_PROPERTIES_BYTES),
    // Thread-pool settings of the Java server, checked as DDMQ checks them though Node serves every
    // connection on one event loop; the defaults are the console's.
    selectorThreads: requiredByDdmq(positiveInt().default(8)),
    workerThreads: nonNegativeInt().default(0),
    workerQueueSize: nonNegativeInt().default(20_000),
    acceptQueueSizePerThread: requiredByDdmq(positiveInt().default(100)),
    timeoutCheckerThreads: requiredByDdmq(positiveInt().default(3)),
  });

  // DDMQ's autoBatch keys (maxBathBytes is DDMQ's spelling) with defaults that suit Kafka as well
  // as RocketMQ: DDMQ's 4 KiB / 32 messages were sized for its RocketMQ batch format.
  const autoBatch = object({
    /** Largest batch, bytes of bodies. */
    maxBathBytes: positiveInt().default(256 * 1024),
    /** Only messages smaller than this are batched. */
    doBatchThresholdBytes: nonNegativeInt().default(16 * 1024),
    maxBatchMessagesNumber: positiveInt().default(256),
    /** Linger: how long the first message of a batch may wait for others, ms. 0: none, batches form while earlier ones are in flight. */
    batchWaitMills: nonNegativeInt().default(0),
    /** pproxy: batches of one topic on one cluster in flight at once; 1 measured best (bench). */
    maxInFlightBatches: positiveInt().default(1),
    // DDMQ's encoder threads, checked as DDMQ checks them; Node encodes on its event loop.
    encodeWorkerThreads: positiveInt().default(4),
    maxEncodeWorkerForEachBroker: positiveInt().default(1),
    maxContinuouslyRunningMills: positiveInt().default(50),
  }).refine((b) => b.doBatchThresholdBytes < b.maxBathBytes, {
    message: 'doBatchThresholdBytes must be less than maxBathBytes',
    path: ['doBatchThresholdBytes'],
  });

  const delay = object({
    chronosInnerTopicPrefix: nonEmptyString(),
    innerTopicNum: positiveInt(),
    /**
     * pproxy: the clients whose `from_chronos` is honoured (CIDRs, addresses, or identities as in
     * allowedProducers); from anyone else a send to a delay topic is answered 19. Absent: everyone,
     * as in DDMQ.
     */
    trustedSenders: z.array(z.string().refine(isSenderEntry, 'must be a CIDR, an IP address, or an identity (CN:, DNS:, URI:, email:, IP:)')).optional(),
  });

  /** Java's 0 in a ZooKeeper node, pproxy's one producer in carrera.yaml; checked while the type is in use. */
  const producerCount = () => z.number().int().default(mode === 'strict' ? 1 : 0);

  const fixedFields = {
    retryDelays: requiredByDdmq(z.array(z.number().int()).min(1, 'must not be empty').default([200, 500, 1000, 5000, 10000])),
    thriftServer: requiredByDdmq(thriftServer.prefault({})),
    delay: delay.optional(),
    defaultTopicInfoConf: topicInfoConfiguration.optional(),
    useRequestLimiter: z.boolean().default(false),
    maxTps: z.number().positive().default(100_000),
    /** DDMQ refuses only <= 0; above 1 the limiter reads it as 1 (no warning part), where DDMQ's crashes. */
    tpsWarningRatio: z.number().gt(0).default(0.9),
    /** Requests that may wait for their deferred retry; 0 or less: none. */
    limiterFailureRetryQueueSize: z.number().int().default(1024),
    /**
     * pproxy: body bytes handed to one storage (cluster) and not yet returned by it; past it sends
     * wait, unsent, until bytes return or their caller is answered 12.
     */
    maxInFlightBytesPerStorage: positiveInt().default(16 * 1024 * 1024),
    useAutoBatch: z.boolean().default(false),
    /** Checked by checkSwitchedParts, as useAutoBatch says. */
    autoBatch: z.unknown().optional(),
    warmUpConnection: unused(),
    warmUpFetchTopicRouteInfo: unused(),
    rateLimit: unused(),
    paramLength: unused(),
  };

  // Each cluster type's map, and its switch and producer count where it has them; the maps are
  // checked by checkSwitchedParts, as the switches say.
  const typeFields: Record<string, z.ZodType> = {};
  const claim = (key: string, type: ClusterType, field: z.ZodType) => {
    if (Object.hasOwn(fixedFields, key) || Object.hasOwn(typeFields, key)) {
      throw new Error(`storage plugin ${type.origin ?? type.kind}: carreraConfiguration.${key} is already taken`);
    }
    typeFields[key] = field;
  };
  const clusterSchemas = new Map<ClusterType, z.ZodType>();
  for (const type of types) {
    claim(type.mapName, type, z.record(z.string(), z.unknown()).default({}));
    if (type.switch) {
      claim(type.switch.enabledBy, type, z.boolean().default(false));
      claim(type.switch.producers, type, producerCount());
    }
    clusterSchemas.set(type, type.clusterSchema(mode));
  }
  const carreraFields = object({ ...fixedFields, ...typeFields });

  /** The cluster types' fields are read by name (`<kind>ConfigurationMap`, switches). */
  type Fields = z.output<typeof carreraFields> & { readonly [key: string]: unknown };

  /**
   * The parts DDMQ's CarreraConfiguration.validate checks only while they are switched on: a broker
   * type's clusters with its producer count (useKafka, useRocketmq), and autoBatch (useAutoBatch).
   * A switched-off type's clusters in a ZooKeeper node are kept as they came: they have no producer
   * (their topics answer 21), so nothing reads them. A switched-off autoBatch that does not validate
   * reads as the defaults, which nothing uses either.
   */
  function checkSwitchedParts(fields: z.output<typeof carreraFields>, ctx: z.RefinementCtx) {
    const conf: Fields = fields;
    const checkAll = mode === 'strict';
    let refused = false;
    const refuse = (issue: Parameters<z.RefinementCtx['addIssue']>[0]) => {
      refused = true;
      ctx.addIssue(issue);
    };
    const check = <T>(schema: z.ZodType<T>, value: unknown, path: PropertyKey[], origin?: string): T | undefined => {
      const parsed = schema.safeParse(value);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) {
        refuse({ ...issue, path: [...path, ...issue.path], message: origin ? `${issue.message} (${origin})` : issue.message });
      }
      return undefined;
    };
    const clusterMaps: Record<string, Record<string, unknown>> = {};
    for (const type of types) {
      const map = conf[type.mapName] as Record<string, unknown>;
      const inUse = type.switch === undefined || conf[type.switch.enabledBy] === true;
      if (type.switch && inUse) {
        const { enabledBy, producers } = type.switch;
        if ((conf[producers] as number) <= 0) refuse({ code: 'custom', path: [producers], message: `must be > 0 when ${enabledBy} is true` });
        if (Object.keys(map).length === 0) refuse({ code: 'custom', path: [type.mapName], message: `must define a cluster when ${enabledBy} is true` });
      }
      if (!inUse && !checkAll) continue;
      const cluster = clusterSchemas.get(type)!;
      clusterMaps[type.mapName] = Object.fromEntries(Object.entries(map).map(([name, value]) => [name, check(cluster, value, [type.mapName, name], type.origin)]));
    }
    let batch: z.output<typeof autoBatch> | undefined;
    if (conf.autoBatch === undefined && conf.useAutoBatch && !checkAll) {
      refuse({ code: 'custom', path: ['autoBatch'], message: 'required when useAutoBatch is true' });
    } else if (conf.useAutoBatch || checkAll) {
      batch = check(autoBatch, conf.autoBatch ?? {}, ['autoBatch']);
    } else {
      const parsed = autoBatch.safeParse(conf.autoBatch ?? {});
      batch = parsed.success ? parsed.data : autoBatch.parse({});
    }
    if (refused || batch === undefined) return z.NEVER;
    const checked: Fields & { autoBatch: typeof batch } = { ...conf, ...clusterMaps, autoBatch: batch };
    return checked;
  }

  /**
   * A cluster map no loaded plugin provides: carrera.yaml names a plugin it does not load, or a
   * ZooKeeper node a cluster type this node cannot serve. Refused in both modes (an empty map in a
   * ZooKeeper node serves nothing and is let through), with the maps that are provided.
   */
  function refuseUnknownClusterMaps(raw: unknown, ctx: z.RefinementCtx) {
    if (raw === null || typeof raw !== 'object') return;
    for (const [key, map] of Object.entries(raw)) {
      if (!key.endsWith(CLUSTER_MAP_SUFFIX) || Object.hasOwn(typeFields, key)) continue;
      const names = map !== null && typeof map === 'object' && Object.keys(map).length > 0;
      if (mode === 'loose' && !names) continue;
      ctx.addIssue({ code: 'custom', path: [key], message: `no storage plugin provides ${key} (loaded: ${types.map((t) => t.mapName).join(', ')})` });
    }
  }

  const carreraConfiguration = z.unknown().superRefine(refuseUnknownClusterMaps).pipe(carreraFields.transform(checkSwitchedParts));

  const pproxyFields = object({
    /** ip:port of the proxy this config is for; in ZooKeeper it names the node. */
    instance: requiredByDdmq(nonEmptyString().optional()),
    proxyCluster: nonEmptyString(),
    brokerClusters: z.array(z.string()).min(1, 'must name at least one broker cluster'),
    /** Topics this proxy serves; in carrera.yaml, omitted means every topic defined there. */
    topics: z.array(z.string()).optional(),
    carreraConfiguration: requiredByDdmq(carreraConfiguration.prefault({})),
  });

  /**
   * carrera.yaml: a broker cluster of no type is a mistake. DDMQ accepts one, and so does a
   * ZooKeeper node: it has no producer and its topics answer 21.
   */
  const pproxyConfig =
    mode === 'strict'
      ? pproxyFields.superRefine((pproxy, ctx) => {
          pproxy.brokerClusters.forEach((cluster, i) => {
            // the maps as parsed, or as they came when carreraConfiguration itself was refused
            const defines = (type: ClusterType) => {
              const map = pproxy.carreraConfiguration?.[type.mapName];
              return map !== null && typeof map === 'object' && Object.hasOwn(map, cluster);
            };
            if (types.some(defines)) return;
            ctx.addIssue({
              code: 'custom',
              path: ['brokerClusters', i],
              message: `unknown cluster type: "${cluster}" has no entry in ${types.map((t) => t.mapName).join(', ')}`,
            });
          });
        })
      : pproxyFields;

  return { topicConfig, topicInfoConfiguration, pproxyConfig, carreraConfiguration };
}

export type ConfigSchemas = ReturnType<typeof buildSchemas>;

const built = new WeakMap<readonly ClusterType[], { strict: ConfigSchemas; loose: ConfigSchemas; carreraYaml: ReturnType<typeof carreraYamlSchema> }>();

/**
 * The schemas of a configuration whose cluster types are `types` (the storage plugins loaded):
 * strict for carrera.yaml, loose for the ZooKeeper JSON. Built once per list.
 */
export function configSchemas(types: readonly ClusterType[]) {
  let schemas = built.get(types);
  if (!schemas) {
    const strict = buildSchemas('strict', types);
    schemas = { strict, loose: buildSchemas('loose', types), carreraYaml: carreraYamlSchema(strict) };
    built.set(types, schemas);
  }
  return schemas;
}

/** A topic's schema does not depend on the cluster types. */
export const topicSchemas = { strict: buildSchemas('strict', []).topicConfig, loose: buildSchemas('loose', []).topicConfig };

export type TopicConfig = z.output<ConfigSchemas['topicConfig']>;
export type TopicUnit = TopicConfig['topicUnits'][number];
export type PProxyConfig = z.output<ConfigSchemas['pproxyConfig']>;
export type CarreraConfiguration = z.output<ConfigSchemas['carreraConfiguration']>;

/** carrera.yaml: DDMQ's keys (zookeeperAddr, host, port, defaultTopicInfoConf) and pproxy's own. */
function carreraYamlSchema(strict: ConfigSchemas) {
  return z.strictObject({
  /** ZooKeeper connect string; absent = local mode, configured entirely by this file. */
  zookeeperAddr: z.string().min(1).optional(),
  /**
   * ZooKeeper digest credentials, `user:password`: a secret, best given as `${file:/path}` (a file
   * only the proxy's user reads) or `${env:NAME}`. Absent: none.
   */
  zookeeperAuth: secret(z.string().superRefine((text, ctx) => {
    const problem = zkAuthProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })).optional(),
  /** ZooKeeper mode: how long the start waits for ZooKeeper before serving its cached config. */
  zookeeperConnectTimeoutMs: positiveInt().default(5000),
  /** IP half of the proxy's identity (host:port); blank = first non-loopback IPv4 of this machine. */
  host: z.string().optional(),
  /** Thrift port; 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65535),
  /** Address the Thrift server listens on. DDMQ listens on every interface. */
  bindAddress: z.string().min(1).default('0.0.0.0'),
  /** The Thrift listener's TLS and client allow-list (listenerSchema); absent: plain TCP from anywhere, as DDMQ. */
  thriftServer: listenerSchema.prefault({}),
  /** The admin HTTP listener (/metrics, /health, /ready, /status); 0 = off, and no metrics are counted. */
  adminPort: z.number().int().min(0).max(65535).default(0),
  /** Address the admin listener listens on. */
  adminBindAddress: z.string().min(1).default('127.0.0.1'),
  defaultTopicInfoConf: strict.topicInfoConfiguration.optional(),
  /** Local mode: the PProxyConfig that ZooKeeper's /pproxy/<host:port> holds in ZooKeeper mode. */
  pproxy: strict.pproxyConfig.optional(),
  /** Where local storage and other state live; relative to this file's directory. */
  dataDir: z.string().min(1).default('data'),
  /** Where pproxy.log goes; relative to this file's directory. With --foreground, logs go to stdout. */
  logDir: z.string().min(1).default('logs'),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  /** On SIGTERM, how long to wait for requests already received to be answered. */
  drainTimeoutMs: nonNegativeInt().default(20_000),
  /** On SIGTERM, how long the proxy keeps accepting with /ready at 503, so load balancers drain it first; 0 = stop accepting at once. */
  drainDelayMs: nonNegativeInt().default(3000),
  /** Storage plugins to load besides those in plugins/ beside this file; read before the rest (readStoragePluginList). */
  storagePlugins: storagePluginsSchema,
  });
}

/**
 * carrera.yaml's own `thriftServer` section: the security of this node's Thrift listener. Never
 * read from ZooKeeper: whoever may write there must not be able to turn it off or point it at
 * other files.
 */
const listenerTls = z
  .strictObject({
    /** PEM files, relative to carrera.yaml: the server's certificate (with its chain) and key. */
    cert: z.string().min(1),
    key: z.string().min(1),
    /** PEM file of the CAs client certificates must chain to: mutual TLS. Absent: no client certificate asked for. */
    clientCa: z.string().min(1).optional(),
    /** With clientCa: the certificate identities accepted; another client's connection is closed after its handshake. */
    allowedSubjects: z.array(identity()).min(1).optional(),
    /** A handshake not finished within this long closes its connection. */
    handshakeTimeoutMs: positiveInt().default(10_000),
  })
  .refine((tls) => tls.allowedSubjects === undefined || tls.clientCa !== undefined, {
    message: 'needs clientCa: without mutual TLS a client presents no certificate',
    path: ['allowedSubjects'],
  });

export const listenerSchema = z.strictObject({
  tls: listenerTls.optional(),
  /** Client networks (CIDRs or addresses, IPv4 and IPv6) that may connect; others are closed at accept. Absent: all. */
  allowedClients: z.array(subnet()).optional(),
});

/** Module paths (relative to carrera.yaml) or package names. */
export const storagePluginsSchema = z.array(z.string().min(1, 'must not be empty')).default([]);

