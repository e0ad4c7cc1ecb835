/** The storages pproxy ships, registered as any loaded plugin is (StorageRegistry.of). */
import { BUILT_IN, type RegisteredPlugin } from '../storage-registry';
import { kafkaStoragePlugin } from './kafka';
import { localStoragePlugin } from './local';
import { rocketmqStoragePlugin } from './rocketmq';

export const BUILTIN_STORAGE_PLUGINS: readonly RegisteredPlugin[] = [kafkaStoragePlugin, rocketmqStoragePlugin, localStoragePlugin].map(
  (plugin) => ({ plugin, source: BUILT_IN }),
);
