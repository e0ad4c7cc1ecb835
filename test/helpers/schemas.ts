/** The configuration schemas of a node with the built-in storage plugins only. */
import { configSchemas } from '../../src/config/schema';
import { loadStorageRegistry } from '../../src/node-configuration';

export const builtinStorages = loadStorageRegistry();
export const schemas = configSchemas(builtinStorages.types);
