/**
 * The storage plugins a node runs with, built-in and loaded alike, and what the rest of the proxy
 * derives from them: the cluster types of the configuration schema, and for a configuration the
 * clusters to run, each with its factory and the key that says when it must be rebuilt. A cluster
 * without a storage answers FAIL_NO_PRODUCER_FOR_CLUSTER (21), as DDMQ does for a cluster with no
 * producer.
 */
import { z } from 'zod';
import type { CarreraConfiguration, ClusterType } from '../config/schema';
import { clusterMapName, configSchemas } from '../config/schema';
import { secretFingerprints } from '../config/secret';
import { withStrictness, type Strictness } from '../config/strictness';
import type { Logger } from '../log';
import { STORAGE_PLUGIN_API_VERSION, type StorageContext, type StoragePlugin } from './plugin-api';
import { guardStorage } from './guarded-storage';
import type { ClusterStorage } from './storage';
import { createStorageContext, schemaTools } from './storage-context';
import { StorageMetricSet } from './storage-metrics';

/** A plugin and where it came from: `built-in`, or the file it was loaded from. */
export interface RegisteredPlugin {
  readonly plugin: StoragePlugin;
  readonly source: string;
}

/** A plugin that cannot be used, or a cluster its plugin cannot make; the message names the plugin's file and the fault. */
export class StoragePluginError extends Error {
  override readonly name = 'StoragePluginError';
}

export interface ClusterSpec {
  readonly name: string;
  readonly kind: string;
  /** Equal keys mean the running storage can stay. */
  readonly key: string;
  /** A second storage of this cluster cannot run beside the first (see StoragePlugin.exclusiveResource). */
  readonly exclusive: boolean;
  create(): ClusterStorage;
}

/**
 * The guard's bounds on every storage (guarded-storage.ts). A send's caller is answered by its own
 * deadline (10 s at most past sendSync's timeout); this bound frees what a send that never settles
 * holds (budget bytes, a batch slot), above every built-in storage's own request bound (Kafka's
 * requestTimeout, 30 s by default). A start may recover a local log from disk; a close lets the
 * sends under way finish (Kafka gives them 10 s).
 */
const GUARD_BOUNDS = { sendTimeoutMs: 60_000, startTimeoutMs: 60_000, closeTimeoutMs: 15_000 };
/** The longest a storage's close may take before the proxy gives up on it (its clusters close at once). */
export const STORAGE_CLOSE_TIMEOUT_MS = GUARD_BOUNDS.closeTimeoutMs;

const KIND = /^[a-z][a-zA-Z0-9]*$/;
const CONFIG_KEY = /^[a-z][a-zA-Z0-9]*$/;

interface Entry extends RegisteredPlugin, ClusterType {}

export class StorageRegistry {
  /** The cluster types, one list for the registry's life: configSchemas builds its schemas once per list. */
  readonly types: readonly ClusterType[];

  private constructor(private readonly entries: readonly Entry[]) {
    this.types = entries;
  }

  /** Checks every descriptor as the contract states it; the first fault is thrown, naming its plugin. */
  static of(registered: readonly RegisteredPlugin[]): StorageRegistry {
    const entries: Entry[] = [];
    for (const { plugin, source } of registered) {
      const fault = descriptorFault(plugin);
      if (fault) throw new StoragePluginError(`storage plugin ${source}: ${fault}`);
      const other = entries.find((e) => e.plugin.kind === plugin.kind);
      if (other) throw new StoragePluginError(`storage plugin ${source}: kind "${plugin.kind}" is already provided by ${other.source}`);
      const schema = clusterSchemaOf(plugin, source);
      entries.push({
        plugin,
        source,
        kind: plugin.kind,
        mapName: clusterMapName(plugin.kind),
        switch: plugin.switch,
        origin: source === BUILT_IN ? undefined : `storage plugin ${plugin.kind} ${plugin.version}, ${source}`,
        clusterSchema: (mode: Strictness) => withStrictness(schema, mode),
      });
    }
    try {
      configSchemas(entries); // built now, so that keys two plugins claim stop the load
    } catch (error) {
      throw new StoragePluginError((error as Error).message, { cause: error });
    }
    return new StorageRegistry(entries);
  }

  get plugins(): readonly RegisteredPlugin[] {
    return this.entries;
  }

  /** Every cluster the configuration defines, of any type. */
  clusterNames(conf: CarreraConfiguration): string[] {
    return this.entries.flatMap((e) => Object.keys(clustersOf(conf, e)));
  }

  /** The clusters to run for a configuration: those of every type in use, counting into `metrics` (default: off). */
  clusterSpecs(conf: CarreraConfiguration, dataDir: string, logger: Logger, metrics = new StorageMetricSet(undefined)): ClusterSpec[] {
    const specs: ClusterSpec[] = [];
    const withoutProducer: string[] = [];
    for (const entry of this.entries) {
      const { plugin, source } = entry;
      const clusters = clustersOf(conf, entry);
      if (entry.switch && conf[entry.switch.enabledBy] !== true) {
        // DDMQ treats a cluster of a switched-off type as having no producer (21)
        for (const name of Object.keys(clusters)) withoutProducer.push(`${name} (${plugin.kind}, ${entry.switch.enabledBy} is false)`);
        continue;
      }
      const producers = entry.switch ? (conf[entry.switch.producers] as number) : 1;
      for (const [name, config] of Object.entries(clusters)) {
        const context = createStorageContext({ kind: plugin.kind, cluster: name, dataDir, logger, producers, metrics: metrics.forCluster(plugin.kind, name, logger.child({ storage: plugin.kind, cluster: name })) });
        specs.push({
          name,
          kind: plugin.kind,
          // a secret's new value rebuilds the cluster, whatever the plugin's own key says
          key: `${source}\n${rebuildKey(entry, config, context)}\n${secretFingerprints(config)}`,
          exclusive: plugin.exclusiveResource === true,
          create: () => {
            let storage: ClusterStorage;
            try {
              storage = plugin.create(config, context);
            } catch (error) {
              throw new StoragePluginError(`storage plugin ${source}: create() of cluster ${name} threw: ${(error as Error)?.message ?? String(error)}`, { cause: error });
            }
            if (storage === null || typeof storage !== 'object' || typeof storage.send !== 'function' || typeof storage.start !== 'function' || typeof storage.close !== 'function') {
              throw new StoragePluginError(`storage plugin ${source}: create() of cluster ${name} returned no storage (an object with start, send and close)`);
            }
            return guardStorage(storage, { plugin: `${plugin.kind} ${plugin.version} (${source})`, logger, ...GUARD_BOUNDS });
          },
        });
      }
    }
    if (withoutProducer.length > 0) {
      logger.warn({ clusters: withoutProducer }, 'clusters of a switched-off type have no producer; their topics answer 21');
    }
    return specs;
  }
}

/** The source of the storages pproxy ships. */
export const BUILT_IN = 'built-in';

function clustersOf(conf: CarreraConfiguration, type: ClusterType): Record<string, unknown> {
  return (conf[type.mapName] as Record<string, unknown> | undefined) ?? {};
}

function rebuildKey(entry: Entry, config: unknown, context: StorageContext): string {
  if (!entry.plugin.rebuildKey) return JSON.stringify([config, context.producers]);
  try {
    return String(entry.plugin.rebuildKey(config, context));
  } catch (error) {
    throw new StoragePluginError(`storage plugin ${entry.source}: rebuildKey() of cluster ${context.cluster} threw: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

function descriptorFault(plugin: unknown): string | undefined {
  if (plugin === null || typeof plugin !== 'object') return 'the descriptor is not an object';
  const p = plugin as Partial<Record<keyof StoragePlugin, unknown>>;
  if (p.apiVersion !== STORAGE_PLUGIN_API_VERSION) {
    return `written for storage plugin API ${String(p.apiVersion)}, this pproxy provides API ${STORAGE_PLUGIN_API_VERSION}`;
  }
  if (typeof p.kind !== 'string' || !KIND.test(p.kind)) return `kind must be a lower camel-case word, got ${JSON.stringify(p.kind)}`;
  if (typeof p.version !== 'string' || p.version === '') return 'version must be a non-empty string';
  if (typeof p.configSchema !== 'function') return 'configSchema must be a function';
  if (typeof p.create !== 'function') return 'create must be a function';
  if (p.rebuildKey !== undefined && typeof p.rebuildKey !== 'function') return 'rebuildKey must be a function when given';
  if (p.exclusiveResource !== undefined && typeof p.exclusiveResource !== 'boolean') return 'exclusiveResource must be a boolean when given';
  if (p.switch !== undefined) {
    const s = p.switch as Partial<Record<string, unknown>> | null;
    if (s === null || typeof s !== 'object') return 'switch must be an object when given';
    for (const key of ['enabledBy', 'producers']) {
      if (typeof s[key] !== 'string' || !CONFIG_KEY.test(s[key] as string)) return `switch.${key} must be a carreraConfiguration key (lower camel case)`;
    }
  }
  return undefined;
}

function clusterSchemaOf(plugin: StoragePlugin, source: string): z.ZodObject {
  let schema: unknown;
  try {
    schema = plugin.configSchema(schemaTools);
  } catch (error) {
    throw new StoragePluginError(`storage plugin ${source}: configSchema() threw: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  if (!(schema instanceof z.ZodObject)) {
    throw new StoragePluginError(`storage plugin ${source}: configSchema() must return a z.object built with the zod it is given`);
  }
  return schema;
}
