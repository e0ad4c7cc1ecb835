/**
 * The local storage's own metrics (exported as pproxy_storage_local_*), declared once per storage
 * and resolved per partition when the partition is opened: at start for every partition on disk,
 * else at its first message (the proxy routes only the topics it is configured with).
 */
import { NO_COUNT } from '../../metrics/families';
import type { StorageCounter, StorageGauge, StorageHistogram, StorageMetrics } from '../plugin-api';

/** Seconds, 0.1 ms to 1 s: an fdatasync on a local disk. */
const FSYNC_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/** What one partition's log counts into. */
export interface PartitionMetrics {
  /** Bytes of the partition's segment files. */
  readonly bytes: StorageGauge;
  readonly segments: StorageGauge;
  /** Seconds each fdatasync of a segment took. */
  readonly fsync: StorageHistogram;
  /** Torn tails cut off the last segment when the partition was opened. */
  readonly truncations: StorageCounter;
}

export interface LocalMetrics {
  partition(topic: string, partition: number): PartitionMetrics;
}

export const NO_PARTITION_METRICS: PartitionMetrics = { bytes: NO_COUNT, segments: NO_COUNT, fsync: NO_COUNT, truncations: NO_COUNT };

export const NO_LOCAL_METRICS: LocalMetrics = { partition: () => NO_PARTITION_METRICS };

export function localMetrics(metrics: StorageMetrics): LocalMetrics {
  const bytes = metrics.gauge('partition_bytes', 'Bytes of a partition\'s segment files, by topic and partition.', ['topic', 'partition']);
  const segments = metrics.gauge('partition_segments', 'Segment files of a partition, by topic and partition.', ['topic', 'partition']);
  const fsync = metrics.histogram('fsync_duration_seconds', 'Time an fdatasync of a segment took.', FSYNC_BUCKETS).labels();
  const truncations = metrics
    .counter('truncations_total', 'Torn tails (an incomplete or corrupt last record, left by a crash) cut off a partition when it was opened.')
    .labels();
  return {
    partition: (topic, partition) => {
      const labels = { topic, partition: String(partition) };
      return { bytes: bytes.labels(labels), segments: segments.labels(labels), fsync, truncations };
    },
  };
}
