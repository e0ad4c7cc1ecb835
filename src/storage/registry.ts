/**
 * Creates one ClusterStorage per configured broker cluster. A cluster without a storage answers
 * FAIL_NO_PRODUCER_FOR_CLUSTER (21), as DDMQ does for a cluster with no producer.
 */
import path from 'node:path';
import type { CarreraConfiguration, LocalClusterConfig } from '../config/schema';
import type { Logger } from '../log';
import { LocalStorage } from './local/local-storage';
import type { ClusterStorage } from './storage';

export function createStorages(
  conf: CarreraConfiguration,
  dataDir: string,
  logger: Logger,
): Map<string, ClusterStorage> {
  const storages = new Map<string, ClusterStorage>();
  for (const [cluster, local] of Object.entries(conf.localConfigurationMap)) {
    const dir = localClusterDir(dataDir, cluster, local);
    storages.set(
      cluster,
      new LocalStorage(
        cluster,
        {
          dataDir: dir,
          partitions: local.partitions,
          flushPolicy: local.flushPolicy,
          flushIntervalMs: local.flushIntervalMs,
          segmentBytes: local.segmentBytes,
          retentionBytes: local.retentionBytes,
          maxMessageSize: local.maxMessageSize,
        },
        logger.child({ cluster }),
      ),
    );
  }
  // DDMQ treats a cluster of a switched-off type as having no producer; so does this build for the
  // Kafka and RocketMQ types, whose adapters are not in it yet.
  const withoutProducer = [
    ...Object.keys(conf.kafkaConfigurationMap).map((c) => `${c} (kafka${conf.useKafka ? '' : ', useKafka is false'})`),
    ...Object.keys(conf.rocketmqConfigurationMap).map((c) => `${c} (rocketmq${conf.useRocketmq ? '' : ', useRocketmq is false'})`),
  ];
  if (withoutProducer.length > 0) {
    logger.warn({ clusters: withoutProducer }, 'clusters without a producer; their topics answer 21');
  }
  return storages;
}

/** Where a local cluster keeps its logs: its `dir`, relative to dataDir, or dataDir/local/<cluster>. */
export function localClusterDir(dataDir: string, cluster: string, config: LocalClusterConfig): string {
  return path.resolve(dataDir, config.dir ?? path.join('local', cluster));
}
