/**
 * The conformance kit itself: published as `pproxy/storage/testing`, it passes a storage that keeps
 * the contract, and fails exactly the guarantees a storage breaks (test/fixtures/memory-storage-conformance.ts).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../helpers/proxy';
import { run } from '../../helpers/run';

const FIXTURE = path.join(__dirname, '../../fixtures/memory-storage-conformance.js');

/** The kit's verdict on the in-memory storage: test name -> passed. */
async function verdicts(defects: boolean): Promise<Map<string, boolean>> {
  // without the runner's NODE_TEST_CONTEXT, which would make the child report to this runner instead of in TAP
  const { NODE_TEST_CONTEXT: _runner, ...env } = process.env;
  const result = await run(process.execPath, ['--test', '--test-reporter=tap', FIXTURE], {
    timeoutMs: 30_000,
    env: { ...env, MEMORY_STORAGE_DEFECTS: defects ? '1' : '0' },
  });
  const verdicts = new Map<string, boolean>();
  for (const m of result.stdout.matchAll(/^ {4}(not ok|ok) \d+ - (.+)$/gm)) verdicts.set(m[2]!, m[1] === 'ok');
  return verdicts;
}

test('the package exports the kit as pproxy/storage/testing', () => {
  const kit = require(require.resolve('pproxy/storage/testing', { paths: [REPO_ROOT] }));
  assert.equal(typeof kit.runStorageConformance, 'function');
  assert.equal(typeof kit.outgoingMessage, 'function');
});

test('a storage that keeps the contract passes every guarantee, the outage included', { timeout: 60_000 }, async () => {
  const results = await verdicts(false);
  assert.equal(results.size, 11, [...results.keys()].join('\n'));
  assert.deepEqual([...results].filter(([, passed]) => !passed), []);
});

test('a storage that breaks five guarantees fails those five and passes the others', { timeout: 60_000 }, async () => {
  const results = await verdicts(true);
  const failed = [...results].filter(([, passed]) => !passed).map(([name]) => name.split(/[:,]/, 1)[0]);
  assert.deepEqual(failed.sort(), [
    'after close() sends fail CLOSED',
    'an explicit partition that does not exist is a failure',
    'maxMessageSize',
    'send never rejects',
    'the descriptor',
  ]);
  assert.equal(results.size, 11);
});
