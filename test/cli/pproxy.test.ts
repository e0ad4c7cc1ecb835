/**
 * The command line as a process: each command loads only the modules it needs, and `tail` piped
 * into a reader that stops early ends quietly.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { silentLogger } from '../../src/log';
import { LocalStorage } from '../../src/storage/local/local-storage';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { CLI_JS } from '../helpers/proxy';
import { run } from '../helpers/run';

/** Packages a command that reads local files has no use for: Thrift, broker clients, ZooKeeper, the proxy's logger. */
const SERVER_PACKAGES = ['kafkajs', '@grpc/grpc-js', 'rocketmq-client-nodejs', 'thrift', 'node-zookeeper-client', 'pino'];

/** A local-mode config whose topic "test" holds `count` messages on one partition. */
async function configWithMessages(t: TestContext, count: number): Promise<string> {
  const dir = tempDir(t);
  const file = writeConfig(dir, localConfig({ clusters: { L_local: { partitions: 1 } } }));
  const storage = new LocalStorage(
    'L_local',
    { dataDir: path.join(dir, 'data/local/L_local'), partitions: 1, flushPolicy: 'write', flushIntervalMs: 1000, segmentBytes: 1 << 20, retentionBytes: 0, maxMessageSize: undefined },
    silentLogger(),
  );
  await storage.start();
  const messages = Array.from({ length: count }, (_, i) => ({
    topic: 'test', key: `key-${i}`, tags: undefined, body: Buffer.from(`message number ${i} `.repeat(4)), properties: undefined,
    partitionId: 0, hashId: 0n, ordered: false, timestamp: 1_700_000_000_000 + i,
  }));
  for (const outcome of await storage.send(messages)) assert.equal(outcome.ok, true);
  await storage.close();
  return file;
}

/** Runs the CLI with `args` in a node process and reports the node_modules packages it loaded. */
async function packagesLoadedBy(args: string[]): Promise<{ status: number | null; stdout: string; packages: string[] }> {
  const script = `
    process.argv = [process.execPath, ${JSON.stringify(CLI_JS)}, ...${JSON.stringify(args)}];
    process.on('exit', () => {
      const packages = new Set(Object.keys(require.cache).map((f) => /node_modules\\/((@[^/]+\\/)?[^/]+)\\//.exec(f)?.[1]).filter(Boolean));
      process.stderr.write('\\nloaded ' + JSON.stringify([...packages]));
    });
    require(${JSON.stringify(CLI_JS)});`;
  const r = await run(process.execPath, ['-e', script]);
  const m = /\nloaded (.*)$/.exec(r.stderr);
  assert.ok(m, `no module report: ${r.stderr}`);
  return { status: r.status, stdout: r.stdout, packages: JSON.parse(m[1]!) as string[] };
}

test('pproxy tail loads neither Thrift nor a broker client nor ZooKeeper; send loads Thrift and no broker client', { timeout: 30_000 }, async (t) => {
  const config = await configWithMessages(t, 3);
  const tail = await packagesLoadedBy(['tail', '-c', config, '-t', 'test', '-n', '1']);
  assert.equal(tail.status, 0);
  assert.match(tail.stdout, /^test\/0@2 .* key="key-2" /);
  assert.deepEqual(SERVER_PACKAGES.filter((p) => tail.packages.includes(p)), [], `tail loaded ${tail.packages.join(', ')}`);

  const send = await packagesLoadedBy(['send', '-t', 'test', '-b', 'x', '-p', '1', '--timeout', '100']);
  assert.equal(send.status, 1, 'nothing listens on port 1');
  assert.ok(send.packages.includes('thrift'));
  assert.deepEqual(SERVER_PACKAGES.filter((p) => p !== 'thrift' && send.packages.includes(p)), [], `send loaded ${send.packages.join(', ')}`);
});

test('pproxy tail | head -1 prints one line and exits 0, with nothing on stderr', { timeout: 30_000 }, async (t) => {
  const config = await configWithMessages(t, 5000);
  const r = await run('/bin/bash', ['-c', 'set -o pipefail; "$0" "$1" tail -c "$2" -t test -n 5000 | head -1', process.execPath, CLI_JS, config]);
  assert.equal(r.stderr, '');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^test\/0@0 .* key="key-0" .*\n$/);
});
