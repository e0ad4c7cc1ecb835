/**
 * The StorageContext the host gives each storage it creates, and the schema tools a plugin's
 * schema is built with.
 */
import path from 'node:path';
import { z } from 'zod';
import { secret } from '../config/secret';
import { pathInDataDir, requiredByDdmq } from '../config/strictness';
import { choosePartition } from '../routing/partition';
import { backgroundTimers } from '../time/timers';
import type { SchemaTools, StorageContext, StorageLogger, StorageMetrics, StorageTimers } from './plugin-api';
import { StorageMetricSet } from './storage-metrics';

export const schemaTools: SchemaTools = { z, requiredByDdmq, pathInDataDir, secret };

export interface ContextOptions {
  readonly kind: string;
  readonly cluster: string;
  /** The proxy's dataDir (carrera.yaml's, resolved). */
  readonly dataDir: string;
  readonly logger: StorageLogger;
  readonly producers: number;
  /** Default: real time, with timers that never keep the process alive. */
  readonly timers?: StorageTimers;
  /** Default: metrics off, declarations checked (StorageMetricSet.forCluster). */
  readonly metrics?: StorageMetrics;
}

/** A cluster's own directory, `<dataDir>/<kind>/<cluster>`, and paths an operator gives relative to dataDir. */
export function storagePaths(dataDir: string, kind: string, cluster: string): Pick<StorageContext, 'dataDir' | 'resolveDataPath'> {
  return { dataDir: path.resolve(dataDir, kind, pathSegment(cluster)), resolveDataPath: (relative) => path.resolve(dataDir, relative) };
}

/**
 * A cluster name as one path component: names come from ZooKeeper, and one like `../x` must not
 * take a storage's directory out of dataDir. Separators, NUL and a name of dots only are
 * %-encoded; every other name is kept as it is, so existing directories keep their names.
 */
function pathSegment(name: string): string {
  const encoded = name.replace(/[/\\\0]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return /^\.+$/.test(encoded) ? encoded.replace(/\./g, '%2E') : encoded;
}

export function createStorageContext({
  kind,
  cluster,
  dataDir,
  logger,
  producers,
  timers = backgroundTimers,
  metrics,
}: ContextOptions): StorageContext {
  const storageLogger = logger.child({ storage: kind, cluster });
  return {
    cluster,
    logger: storageLogger,
    ...storagePaths(dataDir, kind, cluster),
    producers,
    metrics: metrics ?? new StorageMetricSet(undefined).forCluster(kind, cluster, storageLogger),
    timers,
    choosePartition: (message, partitionCount) => choosePartition(message.partitionId, message.hashId, partitionCount),
  };
}
