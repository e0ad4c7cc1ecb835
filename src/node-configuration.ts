/**
 * What a node starts from: carrera.yaml, read with the storage plugins it names loaded beside the
 * built-in ones. The plugins come first because the file's cluster maps are theirs.
 */
import { loadSettings, readStoragePluginList, type ProxySettings } from './config/load';
import { BUILTIN_STORAGE_PLUGINS } from './storage/builtin';
import { loadStoragePlugins } from './storage/plugin-loader';
import { StorageRegistry } from './storage/storage-registry';

export interface NodeConfiguration {
  readonly settings: ProxySettings;
  readonly storages: StorageRegistry;
}

/** Throws ConfigError (the file) or StoragePluginError (a plugin); both name the file and the fault. */
export function loadNodeConfiguration(configPath: string): NodeConfiguration {
  const storages = loadStorageRegistry(configPath);
  return { settings: loadSettings(configPath, storages.types), storages };
}

/** The built-in storage plugins, and those `configPath` names (none without a file). */
export function loadStorageRegistry(configPath?: string): StorageRegistry {
  if (configPath === undefined) return StorageRegistry.of(BUILTIN_STORAGE_PLUGINS);
  const list = readStoragePluginList(configPath);
  return StorageRegistry.of([...BUILTIN_STORAGE_PLUGINS, ...loadStoragePlugins(list.configPath, list.modules)]);
}
