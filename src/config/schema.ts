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
 */
import { z } from 'zod';
import { DEFAULT_MAX_PROPERTIES_BYTES, DEFAULT_MAX_PROPERTIES_PER_MESSAGE } from '../core/property-limits';
import { kafkaClusterSchema } from '../storage/kafka/kafka-config';
import { rocketmqClusterSchema } from '../storage/rocketmq/rocketmq-config';
import { CLUSTER_MAPS } from './problems';
import { requiredByDdmq, withStrictness, type Strictness } from './strictness';

const positiveInt = () => z.number().int().positive();
const nonNegativeInt = () => z.number().int().nonnegative();
/** DDMQ's StringUtils.isNotEmpty. */
const nonEmptyString = () => z.string().min(1, 'must not be empty');
/** A DDMQ field that the proxy accepts and ignores. */
const unused = () => z.unknown().optional();

export function buildSchemas(mode: Strictness) {
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

  const localCluster = object({
    /** Directory of this cluster's logs; relative paths are relative to carrera.yaml's dataDir. */
    dir: z.string().min(1).optional(),
    partitions: z.number().int().min(1).max(1024).default(4),
    /**
     * write: acknowledge once written to the OS (survives a proxy crash, not a power loss);
     * fsync: acknowledge after fdatasync (group commit); interval: fdatasync every flushIntervalMs.
     */
    flushPolicy: z.enum(['write', 'fsync', 'interval']).default('write'),
    flushIntervalMs: positiveInt().default(1000),
    segmentBytes: positiveInt().default(64 * 1024 * 1024),
    /** Per partition; the oldest segments are deleted beyond it. 0 keeps everything. */
    retentionBytes: nonNegativeInt().default(1024 * 1024 * 1024),
    maxMessageSize: positiveInt().optional(),
  });

  // Broker cluster settings keep DDMQ's field names; each adapter owns its schema, the host its mode.
  const kafkaCluster = withStrictness(kafkaClusterSchema, mode);
  const rocketmqCluster = withStrictness(rocketmqClusterSchema, mode);

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
  });

  /** Java's 0 in a ZooKeeper node, pproxy's one producer in carrera.yaml; checked while the type is in use. */
  const producerCount = () => z.number().int().default(mode === 'strict' ? 1 : 0);

  const carreraFields = object({
    retryDelays: requiredByDdmq(z.array(z.number().int()).min(1, 'must not be empty').default([200, 500, 1000, 5000, 10000])),
    useKafka: z.boolean().default(false),
    useRocketmq: z.boolean().default(false),
    kafkaProducers: producerCount(),
    rocketmqProducers: producerCount(),
    /** Checked by checkSwitchedParts, as their switches say. */
    kafkaConfigurationMap: z.record(z.string(), z.unknown()).default({}),
    rocketmqConfigurationMap: z.record(z.string(), z.unknown()).default({}),
    /** pproxy's embedded storage: a cluster type of its own, next to DDMQ's two. */
    localConfigurationMap: z.record(z.string(), localCluster).default({}),
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
  });

  type Fields = z.output<typeof carreraFields>;

  /**
   * The parts DDMQ's CarreraConfiguration.validate checks only while they are switched on: a broker
   * type's clusters with its producer count (useKafka, useRocketmq), and autoBatch (useAutoBatch).
   * A switched-off type's clusters in a ZooKeeper node are kept as they came: they have no producer
   * (their topics answer 21), so nothing reads them. A switched-off autoBatch that does not validate
   * reads as the defaults, which nothing uses either.
   */
  function checkSwitchedParts(conf: Fields, ctx: z.RefinementCtx) {
    const checkAll = mode === 'strict';
    let refused = false;
    const refuse = (issue: Parameters<z.RefinementCtx['addIssue']>[0]) => {
      refused = true;
      ctx.addIssue(issue);
    };
    const check = <T>(schema: z.ZodType<T>, value: unknown, path: PropertyKey[]): T | undefined => {
      const parsed = schema.safeParse(value);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) refuse({ ...issue, path: [...path, ...issue.path] });
      return undefined;
    };
    const brokerType = <T>(
      inUse: boolean,
      switchName: string,
      producers: number,
      producersKey: keyof Fields,
      mapKey: keyof Fields,
      map: Record<string, unknown>,
      cluster: z.ZodType<T>,
    ): Record<string, T> => {
      if (inUse && producers <= 0) refuse({ code: 'custom', path: [producersKey], message: `must be > 0 when ${switchName} is true` });
      if (inUse && Object.keys(map).length === 0) {
        refuse({ code: 'custom', path: [mapKey], message: `must define a cluster when ${switchName} is true` });
      }
      if (!inUse && !checkAll) return map as Record<string, T>;
      return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, check(cluster, value, [mapKey, name]) as T]));
    };

    const kafkaConfigurationMap = brokerType(
      conf.useKafka, 'useKafka', conf.kafkaProducers, 'kafkaProducers', 'kafkaConfigurationMap', conf.kafkaConfigurationMap, kafkaCluster,
    );
    const rocketmqConfigurationMap = brokerType(
      conf.useRocketmq, 'useRocketmq', conf.rocketmqProducers, 'rocketmqProducers', 'rocketmqConfigurationMap', conf.rocketmqConfigurationMap, rocketmqCluster,
    );
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
    return { ...conf, kafkaConfigurationMap, rocketmqConfigurationMap, autoBatch: batch };
  }

  const carreraConfiguration = carreraFields.transform(checkSwitchedParts);

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
            if (CLUSTER_MAPS.some((map) => Object.hasOwn(pproxy.carreraConfiguration[map], cluster))) return;
            ctx.addIssue({
              code: 'custom',
              path: ['brokerClusters', i],
              message: `unknown cluster type: "${cluster}" has no entry in ${CLUSTER_MAPS.join(', ')}`,
            });
          });
        })
      : pproxyFields;

  return { topicConfig, topicInfoConfiguration, pproxyConfig, carreraConfiguration };
}

const strict = buildSchemas('strict');
const loose = buildSchemas('loose');

/** Schemas used inside carrera.yaml (strict) and for the ZooKeeper JSON (loose). */
export const schemas = { strict, loose };

export type TopicConfig = z.output<typeof strict.topicConfig>;
export type TopicUnit = TopicConfig['topicUnits'][number];
export type PProxyConfig = z.output<typeof strict.pproxyConfig>;
export type CarreraConfiguration = z.output<typeof strict.carreraConfiguration>;
export type LocalClusterConfig = CarreraConfiguration['localConfigurationMap'][string];

/** carrera.yaml: DDMQ's keys (zookeeperAddr, host, port, defaultTopicInfoConf) and pproxy's own. */
export const carreraYamlSchema = z.strictObject({
  /** ZooKeeper connect string; absent = local mode, configured entirely by this file. */
  zookeeperAddr: z.string().min(1).optional(),
  /** ZooKeeper mode: how long the start waits for ZooKeeper before serving its cached config. */
  zookeeperConnectTimeoutMs: positiveInt().default(5000),
  /** IP half of the proxy's identity (host:port); blank = first non-loopback IPv4 of this machine. */
  host: z.string().optional(),
  /** Thrift port; 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65535),
  /** Address the Thrift server listens on. DDMQ listens on every interface. */
  bindAddress: z.string().min(1).default('0.0.0.0'),
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
});

export type CarreraYaml = z.output<typeof carreraYamlSchema>;
