import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { ProxyApp, type ProxyStatus } from '../../../src/app';
import { ProducerClient } from '../../../src/client/producer-client';
import { ConfigError } from '../../../src/config/load';
import { readPProxyNode } from '../../../src/config/zookeeper/node-reading';
import { silentLogger } from '../../../src/log';
import { loadNodeConfiguration, loadStorageRegistry } from '../../../src/node-configuration';
import { StoragePluginError } from '../../../src/storage/storage-registry';
import { localConfig, tempDir, writeConfig } from '../../helpers/config';
import { memoryPluginSource, memoryStored, writePlugin } from '../../helpers/plugin-files';
import { PROXY_SERVER, proxyEnv } from '../../helpers/proxy';

/** carrera.yaml in a fresh directory: topic "mem" on memory cluster M1, "test" on local storage. */
function memoryConfig(t: TestContext, extra: Record<string, unknown> = {}, cluster: Record<string, unknown> = {}): { dir: string; file: string } {
  const dir = tempDir(t);
  const config = localConfig({
    pluginClusters: { memoryConfigurationMap: { M1: cluster } },
    topics: [{ topic: 'mem', clusters: ['M1'] }, { topic: 'test', clusters: ['L_local'] }],
    extra,
  });
  return { dir, file: writeConfig(dir, config) };
}

async function startAndSend(t: TestContext, file: string): Promise<{ status: ProxyStatus; codes: number[]; dataDir: string }> {
  const node = loadNodeConfiguration(file);
  const statuses: ProxyStatus[] = [];
  const app = await ProxyApp.start(node, silentLogger(), { onStatus: (s) => statuses.push(s) });
  t.after(() => app.stop());
  const client = await ProducerClient.connect('127.0.0.1', app.address().port);
  t.after(() => client.close());
  const codes = [];
  for (const topic of ['mem', 'test']) codes.push((await client.sendSync({ topic, body: `to ${topic}`, key: 'k1' })).code);
  return { status: statuses.at(-1)!, codes, dataDir: node.settings.dataDir };
}

test('a plugin listed by path (relative to carrera.yaml) serves its topics beside the built-ins, and the status lists it', async (t) => {
  const { dir, file } = memoryConfig(t, { storagePlugins: ['./ext/memory.js'] });
  const pluginFile = writePlugin(dir, 'ext/memory.js', memoryPluginSource());
  const { status, codes, dataDir } = await startAndSend(t, file);
  assert.deepEqual(codes, [0, 0]);
  assert.deepEqual(memoryStored(dataDir, 'M1'), [{ topic: 'mem', body: Buffer.from('to mem').toString('base64'), key: 'k1' }]);
  assert.deepEqual(
    status.storagePlugins.map((p) => `${p.kind} ${p.source}`),
    ['kafka built-in', 'rocketmq built-in', 'local built-in', `memory ${pluginFile}`],
  );
  assert.equal(status.storagePlugins.find((p) => p.kind === 'memory')!.version, '0.0.1');
});

test('every plugin in plugins/ beside carrera.yaml is loaded without being listed: a file, and a package folder', async (t) => {
  const { dir, file } = memoryConfig(t);
  writePlugin(dir, 'plugins/memory/package.json', JSON.stringify({ name: 'memory', main: 'lib/main.js' }));
  const main = writePlugin(dir, 'plugins/memory/lib/main.js', memoryPluginSource());
  writePlugin(dir, 'plugins/other.js', memoryPluginSource({ kind: "'other'" }));
  writePlugin(dir, 'plugins/README.md', 'not a module');
  const { status, codes } = await startAndSend(t, file);
  assert.deepEqual(codes, [0, 0]);
  assert.deepEqual(status.storagePlugins.filter((p) => p.source !== 'built-in').map((p) => p.source), [main, path.join(dir, 'plugins/other.js')]);
});

test('a plugin listed by package name is resolved from carrera.yaml\'s directory', async (t) => {
  const { dir, file } = memoryConfig(t, { storagePlugins: ['pproxy-storage-memory'] });
  writePlugin(dir, 'node_modules/pproxy-storage-memory/package.json', JSON.stringify({ name: 'pproxy-storage-memory', main: 'index.js' }));
  writePlugin(dir, 'node_modules/pproxy-storage-memory/index.js', memoryPluginSource());
  const { codes } = await startAndSend(t, file);
  assert.deepEqual(codes, [0, 0]);
});

test('a plugin that cannot be used stops the start with an error naming its file and the fault', async (t) => {
  const cases: [string, string | undefined, RegExp][] = [
    ['not found', undefined, /storage plugin \S+ext\/memory\.js: not found/],
    ['no descriptor', "'use strict';\nexports.somethingElse = {};\n", /storage plugin \S+ext\/memory\.js: exports no storagePlugin/],
    ['a module that throws when loaded', "throw new Error('boom at load');\n", /storage plugin \S+ext\/memory\.js: cannot be loaded: boom at load/],
    ['another API version', memoryPluginSource({ apiVersion: '2' }), /storage plugin \S+ext\/memory\.js: written for storage plugin API 2, this pproxy provides API 1/],
    ['a bad kind', memoryPluginSource({ kind: "'Mem-Store'" }), /storage plugin \S+ext\/memory\.js: kind must be a lower camel-case word, got "Mem-Store"/],
    ['a kind that is taken', memoryPluginSource({ kind: "'kafka'" }), /storage plugin \S+ext\/memory\.js: kind "kafka" is already provided by built-in/],
    ['a switch key that is taken', memoryPluginSource({ switch: "{ enabledBy: 'useKafka', producers: 'memoryProducers' }" }), /storage plugin memory 0\.0\.1, \S+ext\/memory\.js: carreraConfiguration\.useKafka is already taken/],
    ['a schema that is not a z.object', memoryPluginSource({ configSchema: '({ z }) => z.string()' }), /storage plugin \S+ext\/memory\.js: configSchema\(\) must return a z\.object/],
  ];
  for (const [name, source, expected] of cases) {
    const { dir, file } = memoryConfig(t, { storagePlugins: ['./ext/memory.js'] });
    if (source !== undefined) writePlugin(dir, 'ext/memory.js', source);
    assert.throws(() => loadNodeConfiguration(file), (err: Error) => {
      assert.ok(err instanceof StoragePluginError, `${name}: ${err.name}`);
      assert.match(err.message, expected, name);
      return true;
    }, name);
  }
});

test("a cluster the plugin's schema refuses is a configuration error naming the field and the plugin", (t) => {
  const { dir, file } = memoryConfig(t, { storagePlugins: ['./ext/memory.js'] }, { partitions: 0, colour: 'red' });
  const pluginFile = writePlugin(dir, 'ext/memory.js', memoryPluginSource());
  assert.throws(() => loadNodeConfiguration(file), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    const origin = `(storage plugin memory 0.0.1, ${pluginFile})`;
    assert.ok(err.message.includes(`pproxy.carreraConfiguration.memoryConfigurationMap.M1.partitions: Too small: expected number to be >0 ${origin}`), err.message);
    assert.ok(err.message.includes(`pproxy.carreraConfiguration.memoryConfigurationMap.M1: Unrecognized key: "colour" ${origin}`), err.message);
    return true;
  });
});

test('carrera.yaml naming a cluster map no plugin provides is refused, naming the maps there are', (t) => {
  const { file } = memoryConfig(t);
  assert.throws(() => loadNodeConfiguration(file), /pproxy\.carreraConfiguration\.memoryConfigurationMap: no storage plugin provides memoryConfigurationMap \(loaded: kafkaConfigurationMap, rocketmqConfigurationMap, localConfigurationMap\)/);
});

test('a create() that throws stops the proxy process with exit 1 and the plugin file; one that works is served', (t) => {
  const { dir, file } = memoryConfig(t, { storagePlugins: ['./ext/memory.js'] });
  const pluginFile = writePlugin(dir, 'ext/memory.js', memoryPluginSource({ create: "() => { throw new Error('no memory left'); }" }));
  const run = spawnSync(PROXY_SERVER, [file, '--foreground'], { encoding: 'utf8', timeout: 20_000, env: proxyEnv() });
  assert.equal(run.status, 1, run.stderr);
  assert.ok(run.stderr.includes(`storage plugin ${pluginFile}: create() of cluster M1 threw: no memory left`), run.stderr);
});

test('a ZooKeeper node naming a cluster map no loaded plugin provides is refused; with the plugin loaded it is read', (t) => {
  const dir = tempDir(t);
  const withPlugin = writeConfig(dir, { port: 0, storagePlugins: ['./memory.js'] });
  writePlugin(dir, 'memory.js', memoryPluginSource());
  const node = JSON.stringify({
    instance: '127.0.0.1:9613',
    proxyCluster: 'P_m',
    brokerClusters: ['M1'],
    carreraConfiguration: {
      retryDelays: [100],
      thriftServer: { maxReadBufferBytes: 5000000, backlog: 100, selectorThreads: 2, acceptQueueSizePerThread: 100, timeoutCheckerThreads: 1 },
      memoryConfigurationMap: { M1: { partitions: 3 } },
    },
  });
  const refused = readPProxyNode('/carrera/v4/config/pproxy/127.0.0.1:9613', Buffer.from(node), loadStorageRegistry().types);
  assert.equal(refused.accepted, false);
  assert.match(refused.accepted ? '' : refused.problems.join('\n'), /carreraConfiguration\.memoryConfigurationMap: no storage plugin provides memoryConfigurationMap/);
  const read = readPProxyNode('/carrera/v4/config/pproxy/127.0.0.1:9613', Buffer.from(node), loadStorageRegistry(withPlugin).types);
  assert.ok(read.accepted, read.accepted ? '' : read.problems.join('\n'));
  assert.deepEqual(read.config.carreraConfiguration['memoryConfigurationMap'], { M1: { partitions: 3 } });
  assert.ok(fs.existsSync(withPlugin));
});

test('an unknown cluster map beside absent built-in ones is refused by name, in carrera.yaml and in a ZooKeeper node', (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, {
    port: 0,
    pproxy: { proxyCluster: 'P', brokerClusters: ['L1'], carreraConfiguration: { localConfigurationMap: { L1: {} }, fooConfigurationMap: { M: {} } } },
  });
  assert.throws(() => loadNodeConfiguration(file), (err: Error) => {
    assert.ok(err instanceof ConfigError, `${err.name}: ${err.message}`);
    assert.match(err.message, /pproxy\.carreraConfiguration\.fooConfigurationMap: no storage plugin provides fooConfigurationMap/);
    return true;
  });
  // what pproxy zk put-cluster writes on a host that loads a plugin: its map, empty, and no local map
  const node = JSON.stringify({
    instance: '127.0.0.1:9613',
    proxyCluster: 'P_k',
    brokerClusters: ['K1'],
    carreraConfiguration: {
      retryDelays: [100],
      thriftServer: { maxReadBufferBytes: 5000000, backlog: 100, selectorThreads: 2, acceptQueueSizePerThread: 100, timeoutCheckerThreads: 1 },
      useKafka: true,
      kafkaProducers: 1,
      kafkaConfigurationMap: { K1: { bootstrapServers: ['k:9092'], acks: 'all', retryBackoff: 100, clientId: 'c', metadataMaxAge: 1000, metadataFetchTimeout: 1000, ackTimeout: 1000, batchSize: 1, bufferMemory: 1 } },
      natsJetstreamConfigurationMap: {},
    },
  });
  const read = readPProxyNode('/carrera/v4/config/pproxy/127.0.0.1:9613', Buffer.from(node), loadStorageRegistry().types);
  assert.ok(read.accepted, read.accepted ? '' : read.problems.join('\n'));
});

test('a plugin dropped into plugins/ while the proxy runs is not loaded by a reload (its code runs only at start)', async (t) => {
  const { dir, file } = memoryConfig(t, { storagePlugins: ['./ext/memory.js'] });
  writePlugin(dir, 'ext/memory.js', memoryPluginSource());
  const app = await ProxyApp.start(loadNodeConfiguration(file), silentLogger());
  t.after(() => app.stop());
  const marker = path.join(dir, 'late-plugin-ran');
  writePlugin(dir, 'plugins/late.js', `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n${memoryPluginSource({ kind: "'late'" })}`);
  assert.equal(await app.reload(), true);
  assert.equal(fs.existsSync(marker), false);
});

test('a folder in plugins/ may be a symbolic link to where the plugin is installed', async (t) => {
  const { dir, file } = memoryConfig(t);
  const installed = tempDir(t);
  writePlugin(installed, 'memory/index.js', memoryPluginSource());
  fs.mkdirSync(path.join(dir, 'plugins'));
  fs.symlinkSync(path.join(installed, 'memory'), path.join(dir, 'plugins', 'memory'));
  const { codes, status } = await startAndSend(t, file);
  assert.deepEqual(codes, [0, 0]);
  assert.ok(status.storagePlugins.some((p) => p.kind === 'memory'), JSON.stringify(status.storagePlugins));
});
