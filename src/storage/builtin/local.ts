/**
 * pproxy's embedded storage as a plugin: clusters under `localConfigurationMap`, always in use (DDMQ
 * has no such type, so no switch), each holding its directory's lock.
 */
import type { z } from 'zod';
import { PPROXY_VERSION } from '../../version';
import type { LocalStorageOptions } from '../local/local-storage';
import { STORAGE_PLUGIN_API_VERSION, type SchemaTools, type StorageContext, type StoragePlugin } from '../plugin-api';

export function localClusterSchema({ z, pathInDataDir }: SchemaTools) {
  return z.object({
    /**
     * Directory of this cluster's logs; relative paths are relative to carrera.yaml's dataDir. From
     * ZooKeeper only a path inside dataDir is accepted.
     */
    dir: pathInDataDir(z.string().min(1).optional()),
    partitions: z.number().int().min(1).max(1024).default(4),
    /**
     * write: acknowledge once written to the OS (survives a proxy crash, not a power loss);
     * fsync: acknowledge after fdatasync (group commit); interval: fdatasync every flushIntervalMs.
     */
    flushPolicy: z.enum(['write', 'fsync', 'interval']).default('write'),
    flushIntervalMs: z.number().int().positive().default(1000),
    segmentBytes: z.number().int().positive().default(64 * 1024 * 1024),
    /** Per partition; the oldest segments are deleted beyond it. 0 keeps everything. */
    retentionBytes: z.number().int().nonnegative().default(1024 * 1024 * 1024),
    maxMessageSize: z.number().int().positive().optional(),
  });
}

export type LocalClusterConfig = z.output<ReturnType<typeof localClusterSchema>>;

/** Where a local cluster keeps its logs: its `dir`, relative to dataDir, or dataDir/local/<cluster>. */
export function localStorageOptions(config: LocalClusterConfig, context: Pick<StorageContext, 'dataDir' | 'resolveDataPath'>): LocalStorageOptions {
  return {
    dataDir: config.dir === undefined ? context.dataDir : context.resolveDataPath(config.dir),
    partitions: config.partitions,
    flushPolicy: config.flushPolicy,
    flushIntervalMs: config.flushIntervalMs,
    segmentBytes: config.segmentBytes,
    retentionBytes: config.retentionBytes,
    maxMessageSize: config.maxMessageSize,
  };
}

export const localStoragePlugin: StoragePlugin<LocalClusterConfig> = {
  apiVersion: STORAGE_PLUGIN_API_VERSION,
  kind: 'local',
  version: PPROXY_VERSION,
  exclusiveResource: true,
  configSchema: localClusterSchema,
  rebuildKey: (config, context) => JSON.stringify(localStorageOptions(config, context)),
  create: (config, context) => {
    const { LocalStorage } = require('../local/local-storage') as LocalStorageModule;
    const { localMetrics } = require('../local/local-metrics') as LocalMetricsModule;
    return new LocalStorage(context.cluster, localStorageOptions(config, context), context.logger, undefined, localMetrics(context.metrics));
  },
};

/** Loaded on the first cluster's creation, as the other built-ins' clients are. */
type LocalStorageModule = typeof import('../local/local-storage');
type LocalMetricsModule = typeof import('../local/local-metrics');
