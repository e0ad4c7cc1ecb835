/**
 * RocketMQ as a plugin: clusters under DDMQ's `rocketmqConfigurationMap`, switched on by
 * `useRocketmq`. A cluster is spoken to over RocketMQ 4's remoting protocol (name servers and
 * brokers, DDMQ's own backend) or RocketMQ 5's gRPC (through its proxy), as rocketmqProtocol
 * decides from its settings; each client is loaded on the first cluster that uses it.
 */
import { PPROXY_VERSION } from '../../version';
import { STORAGE_PLUGIN_API_VERSION, type StoragePlugin } from '../plugin-api';
import { rocketmqClusterSchema, rocketmqProtocol, type RocketmqClusterConfig } from '../rocketmq/rocketmq-config';

type RocketMqStorageModule = typeof import('../rocketmq/rocketmq-storage');
type RocketMq4StorageModule = typeof import('../rocketmq4/rocketmq4-storage');

export const rocketmqStoragePlugin: StoragePlugin<RocketmqClusterConfig> = {
  apiVersion: STORAGE_PLUGIN_API_VERSION,
  kind: 'rocketmq',
  version: PPROXY_VERSION,
  switch: { enabledBy: 'useRocketmq', producers: 'rocketmqProducers' },
  configSchema: rocketmqClusterSchema,
  // remoting names its producer groups by the producer count: a changed count is a new storage
  rebuildKey: (config, context) => JSON.stringify([config, rocketmqProtocol(config) === 'remoting' ? context.producers : 1]),
  create: (config, context) => {
    if (rocketmqProtocol(config) === 'remoting') {
      const { RocketMq4Storage } = require('../rocketmq4/rocketmq4-storage') as RocketMq4StorageModule;
      return new RocketMq4Storage(context.cluster, config, context.producers, context.logger, context.timers, context.metrics);
    }
    // one gRPC client serves every send; the producer count is DDMQ's, checked as DDMQ checks it
    const { RocketMqStorage } = require('../rocketmq/rocketmq-storage') as RocketMqStorageModule;
    return new RocketMqStorage(context.cluster, config, context.logger);
  },
};
