/**
 * What each configured broker cluster needs: its storage factory, and a key that changes exactly
 * when its client must be rebuilt. A cluster without a storage answers FAIL_NO_PRODUCER_FOR_CLUSTER
 * (21), as DDMQ does for a cluster with no producer.
 */
import type { CarreraConfiguration } from '../config/schema';
import type { Logger } from '../log';
import { KafkaStorage } from './kafka/kafka-storage';
import { localClusterDir } from './local/layout';
import { LocalStorage } from './local/local-storage';
import { RocketMqStorage } from './rocketmq/rocketmq-storage';
import type { ClusterStorage, StorageKind } from './storage';

export interface ClusterSpec {
  readonly name: string;
  readonly kind: StorageKind;
  /** Equal keys mean the running storage can stay. */
  readonly key: string;
  create(): ClusterStorage;
}

export function clusterSpecs(conf: CarreraConfiguration, dataDir: string, logger: Logger): ClusterSpec[] {
  const specs: ClusterSpec[] = [];
  for (const [name, local] of Object.entries(conf.localConfigurationMap)) {
    const options = {
      dataDir: localClusterDir(dataDir, name, local),
      partitions: local.partitions,
      flushPolicy: local.flushPolicy,
      flushIntervalMs: local.flushIntervalMs,
      segmentBytes: local.segmentBytes,
      retentionBytes: local.retentionBytes,
      maxMessageSize: local.maxMessageSize,
    };
    specs.push({ name, kind: 'local', key: JSON.stringify(options), create: () => new LocalStorage(name, options, logger) });
  }
  if (conf.useKafka) {
    for (const [name, kafka] of Object.entries(conf.kafkaConfigurationMap)) {
      specs.push({
        name,
        kind: 'kafka',
        key: JSON.stringify([kafka, conf.kafkaProducers]),
        create: () => new KafkaStorage(name, kafka, conf.kafkaProducers, logger),
      });
    }
  }
  if (conf.useRocketmq) {
    for (const [name, rocketmq] of Object.entries(conf.rocketmqConfigurationMap)) {
      specs.push({
        name,
        kind: 'rocketmq',
        key: JSON.stringify(rocketmq),
        create: () => new RocketMqStorage(name, rocketmq, logger),
      });
    }
  }
  // DDMQ treats a cluster of a switched-off type as having no producer (21).
  const withoutProducer = [
    ...(conf.useKafka ? [] : Object.keys(conf.kafkaConfigurationMap).map((c) => `${c} (kafka, useKafka is false)`)),
    ...(conf.useRocketmq ? [] : Object.keys(conf.rocketmqConfigurationMap).map((c) => `${c} (rocketmq, useRocketmq is false)`)),
  ];
  if (withoutProducer.length > 0) {
    logger.warn({ clusters: withoutProducer }, 'clusters of a switched-off type have no producer; their topics answer 21');
  }
  return specs;
}
