/**
 * The bench's check before it starts: a selected system whose real broker's jars are not fetched is
 * named, with the script that fetches them, instead of a stack trace minutes into the run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { missingPeers } from '../../bench/brokers';

function checkout(t: test.TestContext, fetched: string[]): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-bench-peers-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  for (const peer of fetched) {
    const lib = path.join(root, 'test/peers', peer, 'target/lib');
    fs.mkdirSync(lib, { recursive: true });
    fs.writeFileSync(path.join(lib, '.fetched'), '');
  }
  return root;
}

test('a peer whose jars are not fetched is named with its systems and scripts/fetch-test-peers.sh', (t) => {
  const root = checkout(t, ['rocketmq-5']);
  const missing = missingPeers({ 'kafka-4': ['g', 'h'], 'rocketmq-5': ['j'] }, root);
  assert.deepEqual(missing.map((m) => m.systems), [['g', 'h']]);
  assert.match(missing[0]!.message, /^Kafka 4's jars are missing from .*test\/peers\/kafka-4\/target\/lib: run scripts\/fetch-test-peers\.sh \(for systems g,h\)$/);
});

test('a half-done fetch (jars without the .fetched mark) counts as missing', (t) => {
  const root = checkout(t, []);
  fs.mkdirSync(path.join(root, 'test/peers/rocketmq-5/target/lib'), { recursive: true });
  fs.writeFileSync(path.join(root, 'test/peers/rocketmq-5/target/lib/rocketmq-proxy-5.3.3.jar'), '');
  assert.equal(missingPeers({ 'rocketmq-5': ['j'] }, root).length, 1);
});

test('nothing is missing when every needed peer is fetched, or none is needed', (t) => {
  const root = checkout(t, ['kafka-4', 'rocketmq-5']);
  assert.deepEqual(missingPeers({ 'kafka-4': ['g'], 'rocketmq-5': ['j'] }, root), []);
  assert.deepEqual(missingPeers({}, checkout(t, [])), []);
});
