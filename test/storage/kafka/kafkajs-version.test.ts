/**
 * pproxy's replacements inside kafkajs hold for kafkajs 2.2.4 only: any other release stops the
 * process, and no module reaches kafkajs except through src/storage/kafka/kafkajs.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../helpers/proxy';

const KAFKAJS_TS = path.resolve(__dirname, '../../../src/storage/kafka/kafkajs.js');

test('kafkajs of another version than 2.2.4 stops the process with the reason, before kafkajs is patched', async () => {
  const script = `require('kafkajs/package.json').version = '2.3.0'; require(${JSON.stringify(KAFKAJS_TS)})`;
  const run = promisify(execFile)(process.execPath, ['-e', script], { cwd: REPO_ROOT });
  await assert.rejects(run, (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /pproxy replaces parts of kafkajs 2\.2\.4 and cannot run on kafkajs 2\.3\.0 \(.*node_modules\/kafkajs\/package\.json\): install kafkajs@2\.2\.4 exactly/);
    return true;
  });
  const installed = await promisify(execFile)(process.execPath, ['-e', `require(${JSON.stringify(KAFKAJS_TS)}); console.log(require('kafkajs/package.json').version)`], { cwd: REPO_ROOT });
  assert.equal(installed.stdout.trim(), '2.2.4', 'the installed kafkajs loads');
});

/** Modules of kafkajs.ts' own making: the version guard, the Produce encoder it installs and the codec table's registration. */
const PATCH_MODULES = ['src/storage/kafka/kafkajs-version.ts', 'src/storage/kafka/kafkajs-produce.ts', 'src/storage/kafka/kafkajs-codecs.ts'];

test('no module under src/ imports kafkajs except src/storage/kafka/kafkajs.ts and the patch modules it loads', () => {
  const sources = fs.readdirSync(path.join(REPO_ROOT, 'src'), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.[jt]s$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => path.join('src', f));
  assert.ok(sources.length > 50, 'the sources were found');
  const importers = (specifier: RegExp) =>
    sources.filter((f) => {
      const text = fs.readFileSync(path.join(REPO_ROOT, f), 'utf8');
      const literal = String.raw`['"]` + specifier.source + String.raw`['"]`;
      return new RegExp(String.raw`(\bfrom\s+|\bimport\s+|\bimport\s*\(\s*|\brequire(\.resolve)?\s*\(\s*)` + literal).test(text);
    });
  assert.deepEqual(importers(/kafkajs(\/[^'"]*)?/).sort(), ['src/storage/kafka/kafkajs.ts', ...PATCH_MODULES].sort());
  for (const patch of PATCH_MODULES) {
    const name = path.basename(patch, '.ts');
    assert.deepEqual(importers(new RegExp(String.raw`\./${name}`)), ['src/storage/kafka/kafkajs.ts'], `${name} is loaded by kafkajs.ts alone`);
  }
});
