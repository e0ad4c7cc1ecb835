/**
 * Finds and loads storage plugins: the modules carrera.yaml lists in `storagePlugins` (a path,
 * relative to the file, or a package name, resolved from the file's directory), then every plugin in
 * the `plugins/` directory beside carrera.yaml (a folder with a package.json or an index.js, or a
 * .js/.cjs/.mjs file), eKuiper's convention. Only carrera.yaml names plugins, never ZooKeeper: which
 * code runs is a deployment decision.
 *
 * A module's descriptor is its `storagePlugin` export, or its default export. Anything that keeps
 * a plugin from loading is a StoragePluginError naming the plugin's file and the fault, and stops
 * the start.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { StoragePlugin } from './plugin-api';
import { StoragePluginError, type RegisteredPlugin } from './storage-registry';

/** The folder beside carrera.yaml whose plugins are loaded without being listed. */
export const PLUGIN_DIRECTORY = 'plugins';

const MODULE_FILE = /\.(c|m)?js$/;

export function loadStoragePlugins(configPath: string, listed: readonly string[]): RegisteredPlugin[] {
  return resolveStoragePlugins(configPath, listed).map((file) => ({ plugin: descriptorOf(file), source: file }));
}

/** The files of the plugins carrera.yaml names and plugins/ holds, each once; nothing is loaded. */
export function resolveStoragePlugins(configPath: string, listed: readonly string[]): string[] {
  const baseDir = path.dirname(configPath);
  const files = [...listed.map((module) => resolveListed(module, baseDir)), ...pluginDirectoryModules(path.join(baseDir, PLUGIN_DIRECTORY))];
  return [...new Set(files)];
}

function resolveListed(module: string, baseDir: string): string {
  const isPath = module.startsWith('.') || path.isAbsolute(module);
  const target = isPath ? path.resolve(baseDir, module) : module;
  try {
    return require.resolve(target, { paths: [baseDir] });
  } catch (error) {
    const where = isPath ? target : `package ${module} (from ${baseDir})`;
    throw new StoragePluginError(`storage plugin ${where}: not found${notBuilt(target)}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
}

function pluginDirectoryModules(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StoragePluginError(`storage plugin directory ${dir}: cannot be read: ${(error as Error).message}`, { cause: error });
  }
  const modules: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    // a deployment may link a plugin's folder in from where it is installed
    if (entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(full))) {
      try {
        modules.push(require.resolve(full));
      } catch (error) {
        throw new StoragePluginError(`storage plugin ${full}: no module to load${notBuilt(full)}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
      }
    } else if (MODULE_FILE.test(entry.name)) {
      modules.push(full);
    }
  }
  return modules;
}

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/** A folder whose package.json names a main file that is not there has not been built. */
function notBuilt(folder: string): string {
  try {
    const main = (JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')) as { main?: string }).main;
    if (main && !fs.existsSync(path.resolve(folder, main))) return ` (its main file ${main} is missing: build the plugin first)`;
  } catch {
    // not a package folder
  }
  return '';
}

function descriptorOf(file: string): StoragePlugin {
  let exported: unknown;
  try {
    // require() loads ES modules as well (Node 20.19+), as long as they have no top-level await
    exported = require(file);
  } catch (error) {
    throw new StoragePluginError(`storage plugin ${file}: cannot be loaded: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  const module = (exported ?? {}) as Record<string, unknown>;
  const descriptor = module['storagePlugin'] ?? module['default'];
  if (descriptor === undefined) throw new StoragePluginError(`storage plugin ${file}: exports no storagePlugin (nor a default export)`);
  return descriptor as StoragePlugin;
}
