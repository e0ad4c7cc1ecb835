/**
 * Kafka as a plugin: clusters under DDMQ's `kafkaConfigurationMap`, switched on by `useKafka`. The
 * client is loaded on the first cluster's creation: a node without Kafka clusters (and the CLI)
 * never loads kafkajs.
 */
import { PPROXY_VERSION } from '../../version';
import { kafkaClusterSchema, type KafkaClusterConfig } from '../kafka/kafka-config';
import { STORAGE_PLUGIN_API_VERSION, type StoragePlugin } from '../plugin-api';

type KafkaStorageModule = typeof import('../kafka/kafka-storage');

export const kafkaStoragePlugin: StoragePlugin<KafkaClusterConfig> = {
  apiVersion: STORAGE_PLUGIN_API_VERSION,
  kind: 'kafka',
  version: PPROXY_VERSION,
  switch: { enabledBy: 'useKafka', producers: 'kafkaProducers' },
  configSchema: kafkaClusterSchema,
  create: (config, context) => {
    const { KafkaStorage } = require('../kafka/kafka-storage') as KafkaStorageModule;
    return new KafkaStorage(context.cluster, config, context.producers, context.logger, Math.random, require, context.metrics);
  },
};
