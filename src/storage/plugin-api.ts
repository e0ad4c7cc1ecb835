/**
 * The storage plugin contract, the one module a plugin author reads (published as `pproxy/storage`;
 * docs/extending.md walks through it). A plugin is a module whose export `storagePlugin` (or
 * default export) is a StoragePlugin: it names a cluster type, gives the schema of one cluster's
 * settings, and creates one ClusterStorage per configured cluster. The built-in storages (local,
 * Kafka, RocketMQ) are plugins on this same contract.
 *
 * A plugin needs nothing of the host at run time: its schema is built with the host's zod (handed
 * to `configSchema`), its failures are plain StorageFailure objects, and what else it needs (a
 * logger, a directory, DDMQ's partition rule) comes in its StorageContext. A plugin that imports
 * this module's types only (StorageError is the one value it exports, for the built-ins) works
 * wherever it is installed.
 */
import type { z } from 'zod';
import type { ClusterStorage, OutgoingMessage } from './storage';

export type { ClusterStorage, OutgoingMessage, SendOutcome, StorageErrorCode, StorageFailure } from './storage';
export { StorageError, STORAGE_ERROR_CODES } from './storage';

/** The contract's version. A plugin states the version it was written for; the host loads only this one. */
export const STORAGE_PLUGIN_API_VERSION = 1;

/** What a plugin's schema is written with: the host's zod, so the host can apply its modes to it. */
export interface SchemaTools {
  readonly z: typeof z;
  /**
   * Marks a field carrera.yaml may leave out (it has a default, or is optional) as one a ZooKeeper
   * node must have: DDMQ's console always writes it and DDMQ refuses a node without it.
   */
  requiredByDdmq<T extends z.ZodDefault | z.ZodPrefault | z.ZodOptional>(field: T): T;
  /**
   * Marks a path the storage writes under (resolved with StorageContext.resolveDataPath): carrera.yaml
   * may name any path, a ZooKeeper node only one inside dataDir (relative, not climbing out).
   */
  pathInDataDir<T extends z.ZodType<string | undefined>>(field: T): T;
  /**
   * A secret setting (a password, a key): a string given literally or as `${env:NAME}` or
   * `${file:/path}`, resolved when the configuration is read (a reference that cannot be resolved
   * refuses it, naming the field). Its value is a Secret, which never prints; the resolved string
   * must pass `field` (default: not empty).
   */
  secret(field?: z.ZodType<string>): z.ZodType<Secret, string>;
}

/**
 * A secret setting's value. It prints as `[secret]` (toString, JSON, util.inspect), so it never
 * reaches a log line, /status or an error message; JSON keeps a reference (`${env:NAME}`) as it was
 * given. Hand `reveal()` to the client library only.
 */
export interface Secret {
  reveal(): string;
  /** The `${env:..}` or `${file:..}` it was given as; undefined for a literal. */
  readonly reference: string | undefined;
}

/** DDMQ's way of turning a broker type on: a boolean switch and a producer count beside the cluster map. */
export interface StorageSwitch {
  /** carreraConfiguration key of the switch, e.g. `useKafka`; the type's clusters are used only while it is true. */
  readonly enabledBy: string;
  /** carreraConfiguration key of the producer count, e.g. `kafkaProducers`; must be > 0 while switched on. */
  readonly producers: string;
}

export interface StoragePlugin<Config = any> {
  /** STORAGE_PLUGIN_API_VERSION of the contract the plugin was written for. */
  readonly apiVersion: number;
  /**
   * The cluster type, a lower camel-case word (`kafka`, `natsJetstream`). Its clusters are configured
   * under carreraConfiguration's `<kind>ConfigurationMap`, cluster name -> settings.
   */
  readonly kind: string;
  /** The plugin's own version, listed at start and by `control.sh status`. */
  readonly version: string;
  /** Only where DDMQ has one (Kafka, RocketMQ): without it, a type's clusters are always in use. */
  readonly switch?: StorageSwitch;
  /**
   * True when a storage holds a resource on this machine that a second storage of the same cluster
   * cannot share (a directory lock): a changed cluster is then closed before its replacement starts,
   * instead of after.
   */
  readonly exclusiveResource?: boolean;
  /**
   * The settings of one cluster, as a plain `z.object`. The host makes it strict in carrera.yaml
   * (an unknown key is a typo) and loose in ZooKeeper (the console writes fields a plugin ignores).
   */
  configSchema(tools: SchemaTools): z.ZodObject;
  /**
   * A string that changes exactly when a running cluster's storage must be rebuilt for new settings.
   * Absent: the settings and producer count, as JSON.
   */
  rebuildKey?(config: Config, context: StorageContext): string;
  /** A storage for one cluster, not started yet; the host calls start() before routing to it. */
  create(config: Config, context: StorageContext): ClusterStorage;
}

/** What the host hands each storage it creates (InLong's sink context, RocketMQ-Connect's task config). */
export interface StorageContext {
  /** The cluster's name, as in brokerClusters and the topics' units. */
  readonly cluster: string;
  /** A child of the proxy's logger, bound to the plugin and the cluster. */
  readonly logger: StorageLogger;
  /** A directory of this cluster's own (`<dataDir>/<kind>/<cluster>`), created on first use by the plugin. */
  readonly dataDir: string;
  /** A path from the configuration, resolved against the proxy's dataDir. */
  resolveDataPath(relative: string): string;
  /** DDMQ's `<kind>Producers` when the plugin has a switch, else 1. */
  readonly producers: number;
  /** The storage's own metrics, exported with the proxy's (`pproxy_storage_<kind>_*`). */
  readonly metrics: StorageMetrics;
  /**
   * The clock and timers to use instead of Date.now and setTimeout: a pending timer never keeps a
   * stopping proxy alive, and tests can move time by hand.
   */
  readonly timers: StorageTimers;
  /**
   * DDMQ's partition hints applied to a destination with `partitionCount` partitions: an explicit
   * partition (undefined when it does not exist), |hashId| mod count, or random. Storages that use it
   * place a hashId where every other storage does.
   */
  choosePartition(message: OutgoingMessage, partitionCount: number): number | undefined;
}

type LogFn = {
  (fields: object, message?: string): void;
  (message: string): void;
};

/** The logger a storage gets: pino's interface, of which plugins need this much. */
export interface StorageLogger {
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  isLevelEnabled(level: string): boolean;
  child(bindings: Record<string, unknown>): StorageLogger;
}

export interface StorageTimers {
  now(): number;
  /** Calls `callback` once after `ms`; the handle is for clear(). */
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/**
 * The storage's own metrics, exported with the proxy's. A metric `<name>` is exported as
 * `pproxy_storage_<kind>_<name>` (the kind in snake case) with a `cluster` label on every series;
 * the families are shared by every storage of the kind, so a storage rebuilt by a configuration
 * change declares them again and goes on counting where the one it replaced was. With the admin
 * listener off everything here counts nothing.
 *
 * Declare once (in create() or start()), resolve the children once, and count with them: a child
 * counts with a field increment, so it belongs on the per-message path. Names are lower snake case
 * in base units (seconds, bytes), without `pproxy_`; a counter's ends with `_total`. A declaration
 * that breaks these rules, that differs from the kind's first one of the same name (type, help,
 * labels, buckets), or that would export a series name the proxy or another of the kind's metrics
 * exports, throws, with metrics on or off. Labels must have few values (a code, a topic the proxy
 * routed here), never one per message.
 */
export interface StorageMetrics {
  counter<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): StorageMetricFamily<L, StorageCounter>;
  gauge<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): StorageMetricFamily<L, StorageGauge>;
  /** `buckets`: increasing upper bounds (the +Inf bucket is added). */
  histogram<L extends string = never>(name: string, help: string, buckets: readonly number[], labelNames?: readonly L[]): StorageMetricFamily<L, StorageHistogram>;
  /**
   * The simple form, for rare events: adds `by` (default 1) to the counter `name`, declared on first
   * use with these labels' names. Looks the series up on every call. Never throws: the name is
   * spelled by the rules (camelCase split with `_`, lower case, any other character `_`, `_total`
   * appended when missing: `sendFailures` counts `send_failures_total`); a call that still breaks
   * one (other label names than the first call's, an amount below 0) counts nothing and is logged,
   * at most one line a minute per metric.
   */
  increment(name: string, by?: number, labels?: Readonly<Record<string, string>>): void;
  /**
   * The simple form of a histogram: one value, into buckets of 0.5 ms to 10 s (made for seconds).
   * Looks the series up on every call, spells the name and never throws, as `increment` does.
   */
  observe(name: string, value: number, labels?: Readonly<Record<string, string>>): void;
}

/** A declared metric of a storage. */
export interface StorageMetricFamily<L extends string, C> {
  /**
   * The series of these label values (all of the declared ones, no other) and the storage's
   * cluster: made on the first call, the same object after. Call it once per series and keep it.
   */
  labels(...values: [L] extends [never] ? [] : [Readonly<Record<L, string>>]): C;
}

export interface StorageCounter {
  inc(by?: number): void;
}

export interface StorageGauge {
  set(value: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
}

export interface StorageHistogram {
  observe(value: number): void;
}
