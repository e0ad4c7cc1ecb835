/**
 * Schemas of the proxy's configuration, with DDMQ's JSON field names (reference section 4), so a
 * PProxyConfig or TopicConfig moves between carrera.yaml and ZooKeeper unchanged.
 *
 * Two strictness modes: carrera.yaml is written by hand, so an unknown key there is a typo and is
 * refused; ZooKeeper JSON comes from DDMQ's console, which writes fields this proxy does not use,
 * so there unknown keys are accepted (and reported once by the loader).
 *
 * DDMQ fields this proxy accepts but does not use are listed with `unused()` so that neither mode
 * refuses them.
 */
import { z } from 'zod';
import { kafkaClusterSchema } from '../storage/kafka/kafka-config';
import { rocketmqClusterSchema } from '../storage/rocketmq/rocketmq-config';

export type Strictness = 'strict' | 'loose';

const TOPIC_NAME = /^[%|a-zA-Z0-9_-]{1,255}$/;

const positiveInt = () => z.number().int().positive();
const nonNegativeInt = () => z.number().int().nonnegative();
const nonEmptyString = () => z.string().trim().min(1, 'must not be empty');
/** A DDMQ field that the proxy accepts and ignores. */
const unused = () => z.unknown().optional();

export function buildSchemas(mode: Strictness) {
  const object = <T extends z.ZodRawShape>(shape: T) => (mode === 'strict' ? z.strictObject(shape) : z.looseObject(shape));

  const topicUnit = object({
    brokerCluster: nonEmptyString(),
    /** proxyCluster -> ["ip:port", ...] of the proxies that serve this unit. */
    proxies: z.record(z.string(), z.array(z.string())).default({}),
    totalMaxTps: z.number().positive().default(1024),
    /** This proxy's share of totalMaxTps (the console writes ceil(total / proxies)). */
    maxTps: z.number().positive().default(1024),
  });

  const topicConfig = object({
    topic: z.string().regex(TOPIC_NAME, 'must match ^[%|a-zA-Z0-9_-]{1,255}$'),
    topicUnits: z.array(topicUnit).min(1, 'a topic needs at least one topicUnit'),
    delayTopic: z.boolean().default(false),
    autoBatch: z.boolean().default(false),
    strongOrder: z.boolean().default(false),
    /** -1: derive from the request timeout, 0: no deferred retry, > 0: fixed wait in ms. */
    limiterFailureRetryInterval: z.number().int().min(-1).default(-1),
    alarmGroup: unused(),
    compressType: unused(),
  });

  const thriftServer = object({
    port: unused(), // carrera.yaml's port always wins, as in DDMQ
    /** Largest frame accepted; a larger one closes its connection before it is buffered. */
    maxReadBufferBytes: positiveInt().default(5_000_000),
    backlog: positiveInt().default(511),
    /** Idle connection timeout in ms; 0 = never (DDMQ passes it to the socket, where it has no effect). */
    clientTimeout: nonNegativeInt().default(0),
    /** Requests in flight on one connection before the proxy stops reading from it. */
    maxInFlightPerConnection: positiveInt().default(1024),
    /**
     * Bytes of requests received and not yet answered, over all connections; past it the proxy
     * stops reading from every client (TCP backpressure) until half of it is answered.
     */
    maxInFlightBytes: positiveInt().default(64 * 1024 * 1024),
    // Thread-pool settings of the Java server: Node serves every connection on one event loop.
    selectorThreads: unused(),
    workerThreads: unused(),
    workerQueueSize: unused(),
    acceptQueueSizePerThread: unused(),
    timeoutCheckerThreads: unused(),
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

  // Broker cluster settings keep DDMQ's field names; each adapter owns its schema.
  const kafkaCluster = kafkaClusterSchema;
  const rocketmqCluster = rocketmqClusterSchema;

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
    encodeWorkerThreads: unused(),
    maxEncodeWorkerForEachBroker: unused(),
    maxContinuouslyRunningMills: unused(),
  }).refine((b) => b.doBatchThresholdBytes < b.maxBathBytes, {
    message: 'doBatchThresholdBytes must be less than maxBathBytes',
    path: ['doBatchThresholdBytes'],
  });

  const delay = object({
    chronosInnerTopicPrefix: nonEmptyString(),
    innerTopicNum: positiveInt(),
  });

  const carreraConfiguration = object({
    useKafka: z.boolean().default(false),
    useRocketmq: z.boolean().default(false),
    kafkaProducers: positiveInt().default(1),
    rocketmqProducers: positiveInt().default(1),
    kafkaConfigurationMap: z.record(z.string(), kafkaCluster).default({}),
    rocketmqConfigurationMap: z.record(z.string(), rocketmqCluster).default({}),
    /** pproxy's embedded storage: a cluster type of its own, next to DDMQ's two. */
    localConfigurationMap: z.record(z.string(), localCluster).default({}),
    thriftServer: thriftServer.prefault({}),
    delay: delay.optional(),
    defaultTopicInfoConf: object({ topics: z.array(topicConfig).default([]) }).optional(),
    useRequestLimiter: z.boolean().default(false),
    maxTps: z.number().positive().default(100_000),
    tpsWarningRatio: z.number().gt(0).lte(1).default(0.9),
    limiterFailureRetryQueueSize: nonNegativeInt().default(1024),
    useAutoBatch: z.boolean().default(false),
    autoBatch: autoBatch.prefault({}),
    retryDelays: unused(),
    warmUpConnection: unused(),
    warmUpFetchTopicRouteInfo: unused(),
    rateLimit: unused(),
    paramLength: unused(),
  });

  const pproxyConfig = object({
    /** ip:port of the proxy this config is for; in ZooKeeper it names the node. */
    instance: z.string().optional(),
    proxyCluster: nonEmptyString(),
    brokerClusters: z.array(nonEmptyString()).min(1, 'must name at least one broker cluster'),
    /** Topics this proxy serves; in carrera.yaml, omitted means every topic defined there. */
    topics: z.array(z.string()).optional(),
    carreraConfiguration: carreraConfiguration.prefault({}),
  });

  return { topicConfig, pproxyConfig, carreraConfiguration };
}

const strict = buildSchemas('strict');
const loose = buildSchemas('loose');

/** Schemas used for the ZooKeeper JSON (tolerant) and inside carrera.yaml (strict). */
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
  defaultTopicInfoConf: strict.carreraConfiguration.shape.defaultTopicInfoConf,
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
