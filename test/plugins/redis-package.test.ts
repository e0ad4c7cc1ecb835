/**
 * The Redis plugin (plugins/redis) as a package on its own, copied out of this repository with only
 * its own dependencies beside it: what it states and what it needs must come from its folder.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import ts from 'typescript';
import type { StoragePlugin } from '../../src/storage/plugin-api';
import { tempDir } from '../helpers/config';

const repo = path.resolve(__dirname, '../../..');
const pluginDir = path.join(repo, 'plugins/redis');

/** A copy of the plugin's folder (these entries of it) in a temp dir, its node_modules linked, not copied. */
function copyOfPlugin(t: TestContext, entries: readonly string[]): string {
  const dir = path.join(tempDir(t, 'pproxy-redis-package-'), 'pproxy-storage-redis');
  for (const entry of entries) fs.cpSync(path.join(pluginDir, entry), path.join(dir, entry), { recursive: true });
  fs.symlinkSync(path.join(pluginDir, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

test('the descriptor states the version of the package.json beside it', (t) => {
  const dir = copyOfPlugin(t, ['dist', 'package.json']);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string };
  manifest.version = '7.3.1-copy';
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest));
  const plugin = createRequire(__filename)(dir).storagePlugin as StoragePlugin;
  assert.equal(plugin.version, '7.3.1-copy');
});

test('its sources type-check with only its own dependencies and the host contract types (pproxy/storage)', (t) => {
  const dir = copyOfPlugin(t, ['src', 'tsconfig.json']);
  assert.throws(() => createRequire(path.join(dir, 'src', 'index.ts')).resolve('zod'), 'the copy cannot reach the repository node_modules');
  const { config, error } = ts.readConfigFile(path.join(dir, 'tsconfig.json'), ts.sys.readFile);
  assert.equal(error, undefined);
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, dir);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    // what an installed host gives a plugin: its contract's declarations, and Node's types for the build
    paths: { 'pproxy/storage': [path.join(repo, 'dist/src/storage/plugin-api.d.ts')] },
    typeRoots: [path.join(repo, 'node_modules/@types')],
  };
  const program = ts.createProgram(parsed.fileNames, options);
  const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.ok(parsed.fileNames.length > 1, 'the sources were found');
  assert.deepEqual(diagnostics, []);
});
