/**
 * RocketMQ 5 as a plugin: clusters under DDMQ's `rocketmqConfigurationMap`, switched on by
 * `useRocketmq`. The gRPC client is loaded on the first cluster's creation.
 */
import { PPROXY_VERSION } from '../../version';
import { STORAGE_PLUGIN_API_VERSION, type StoragePlugin } from '../plugin-api';
import { rocketmqClusterSchema, type RocketmqClusterConfig } from '../rocketmq/rocketmq-config';

type RocketMqStorageModule = typeof import('../rocketmq/rocketmq-storage');

/** The producer count is DDMQ's, checked as DDMQ checks it; one gRPC client serves every send here. */
export const rocketmqStoragePlugin: StoragePlugin<RocketmqClusterConfig> = {
  apiVersion: STORAGE_PLUGIN_API_VERSION,
  kind: 'rocketmq',
  version: PPROXY_VERSION,
  switch: { enabledBy: 'useRocketmq', producers: 'rocketmqProducers' },
  configSchema: rocketmqClusterSchema,
  rebuildKey: (config) => JSON.stringify(config),
  create: (config, context) => {
    const { RocketMqStorage } = require('../rocketmq/rocketmq-storage') as RocketMqStorageModule;
    return new RocketMqStorage(context.cluster, config, context.logger);
  },
};
