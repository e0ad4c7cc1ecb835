/** The Redis Streams storage plugin: clusters of kind `redis`, under carrera.yaml's `redisConfigurationMap`. */
import type { StoragePlugin } from 'pproxy/storage';
import { redisConfigSchema, type RedisClusterConfig } from './config';
import { RedisStreamStorage } from './redis-storage';

// read at run time, so the stated version is always the installed package's
const { version } = require('../package.json') as { version: string };

export const storagePlugin: StoragePlugin<RedisClusterConfig> = {
  apiVersion: 1,
  kind: 'redis',
  version,
  configSchema: (tools) => redisConfigSchema(tools),
  create: (config, context) => new RedisStreamStorage(config, context),
};
