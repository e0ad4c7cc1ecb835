import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import type { LocalClusterConfig } from '../../src/storage/builtin/local';
import { ConfigError } from '../../src/config/load';
import { loadNodeConfiguration } from '../../src/node-configuration';

const loadSettings = (file: string) => loadNodeConfiguration(file).settings;
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { PROXY_SERVER, REPO_ROOT, proxyEnv } from '../helpers/proxy';

test('the shipped carrera.yaml is a valid local-mode config serving "test" on local storage', () => {
  const settings = loadSettings(path.join(REPO_ROOT, 'carrera.yaml'));
  assert.equal(settings.zookeeperAddr, undefined);
  assert.equal(settings.port, 9613);
  assert.equal(settings.adminPort, 9614, 'the admin listener next to the Thrift port');
  assert.equal(settings.host, '127.0.0.1');
  assert.equal(settings.dataDir, path.join(REPO_ROOT, 'data'));
  assert.deepEqual(settings.local!.pproxy.topics, ['test']);
  assert.deepEqual(Object.keys(settings.local!.pproxy.carreraConfiguration['localConfigurationMap'] as object), ['L_local']);
  assert.deepEqual(settings.local!.topics.map((t) => t.topic), ['test']);
});

test('defaults fill what a minimal file leaves out; paths are relative to the file', (t) => {
  const dir = tempDir(t);
  const file = writeConfig(dir, localConfig({ port: 1234 }));
  const s = loadSettings(file);
  assert.equal(s.port, 1234);
  assert.equal(s.dataDir, path.join(dir, 'data'));
  assert.equal(s.logDir, path.join(dir, 'logs'));
  const conf = s.local!.pproxy.carreraConfiguration;
  assert.equal(conf.thriftServer.maxReadBufferBytes, 5_000_000);
  assert.equal((conf['localConfigurationMap'] as Record<string, LocalClusterConfig>)['L_local']!.flushPolicy, 'write');
  assert.equal(s.local!.topics[0]!.topicUnits[0]!.maxTps, 1024);
  assert.equal(s.local!.topics[0]!.limiterFailureRetryInterval, -1);
});

test('DDMQ console fields the proxy does not use are accepted', (t) => {
  const config = localConfig();
  const pproxy = config['pproxy'] as Record<string, Record<string, unknown>>;
  Object.assign(pproxy['carreraConfiguration']!, {
    retryDelays: [200, 500], rateLimit: { a: 1 }, paramLength: 10, useAutoBatch: true,
    thriftServer: { selectorThreads: 8, workerThreads: 0, workerQueueSize: 20000, acceptQueueSizePerThread: 100, timeoutCheckerThreads: 3, port: 9613 },
  });
  const topics = (config['defaultTopicInfoConf'] as { topics: Record<string, unknown>[] }).topics;
  Object.assign(topics[0]!, { alarmGroup: ['ops'], compressType: 'PRIMORDIAL' });
  assert.doesNotThrow(() => loadSettings(writeConfig(tempDir(t), config)));
});

/** Loads `mutate(localConfig())` and returns the error message. */
function problem(t: import('node:test').TestContext, mutate: (c: Record<string, any>) => unknown): string {
  const config = localConfig();
  const replaced = mutate(config);
  const file = writeConfig(tempDir(t), replaced === undefined ? config : replaced);
  try {
    loadSettings(file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    assert.ok(err.message.startsWith(file), 'the message names the file');
    return err.message;
  }
  assert.fail('the config was accepted');
}

test('bad configurations are refused with the field and the fault', (t) => {
  const cases: [string, (c: Record<string, any>) => unknown, RegExp][] = [
    ['missing port', (c) => void delete c.port, /: port: Invalid input: expected number, received undefined/],
    ['port of the wrong type', (c) => void (c.port = 'ninety'), /: port: Invalid input: expected number, received string/],
    ['port out of range', (c) => void (c.port = 70000), /: port: Too big: expected number to be <=65535/],
    ['a typo at the top level', (c) => void (c.prot = 9613), /: \(top level\): Unrecognized key: "prot"/],
    ['unknown cluster type (a map pproxy does not know)', (c) => void (c.pproxy.carreraConfiguration.memcacheConfigurationMap = { M: {} }), /: pproxy\.carreraConfiguration\.memcacheConfigurationMap: no storage plugin provides memcacheConfigurationMap \(loaded: kafkaConfigurationMap, rocketmqConfigurationMap, localConfigurationMap\)/],
    ['unknown cluster type (a cluster in no map)', (c) => void c.pproxy.brokerClusters.push('X_mystery'), /: pproxy\.brokerClusters\[1\]: unknown cluster type: "X_mystery" has no entry in kafkaConfigurationMap, rocketmqConfigurationMap, localConfigurationMap/],
    ['a cluster in two maps', (c) => void (c.pproxy.carreraConfiguration.kafkaConfigurationMap = { L_local: { bootstrapServers: ['127.0.0.1:9092'] } }), /cluster "L_local" is in both kafkaConfigurationMap and localConfigurationMap/],
    ['a configured cluster missing from brokerClusters', (c) => void (c.pproxy.carreraConfiguration.localConfigurationMap.L_other = {}), /pproxy\.carreraConfiguration\.localConfigurationMap\.L_other: cluster is not listed in brokerClusters/],
    ['a wrong nested type', (c) => void (c.pproxy.carreraConfiguration.localConfigurationMap.L_local.partitions = 'four'), /: pproxy\.carreraConfiguration\.localConfigurationMap\.L_local\.partitions: Invalid input: expected number, received string/],
    ['a bad enum value', (c) => void (c.pproxy.carreraConfiguration.localConfigurationMap.L_local.flushPolicy = 'sometimes'), /localConfigurationMap\.L_local\.flushPolicy: Invalid option: expected one of "write"\|"fsync"\|"interval"/],
    ['a zero warning ratio', (c) => void (c.pproxy.carreraConfiguration.tpsWarningRatio = 0), /pproxy\.carreraConfiguration\.tpsWarningRatio: Too small: expected number to be >0/],
    ['a unit on an unlisted cluster', (c) => void (c.defaultTopicInfoConf.topics[0].topicUnits[0].brokerCluster = 'R_nope'), /defaultTopicInfoConf\.topics\[0\]\.topicUnits\[0\]\.brokerCluster: "R_nope" is not one of pproxy\.brokerClusters/],
    ['a topic without units', (c) => void (c.defaultTopicInfoConf.topics[0].topicUnits = []), /defaultTopicInfoConf\.topics\[0\]\.topicUnits: a topic needs at least one topicUnit/],
    ['an empty topic name', (c) => void (c.defaultTopicInfoConf.topics[0].topic = ''), /defaultTopicInfoConf\.topics\[0\]\.topic: must not be empty/],
    ['a topic defined twice', (c) => void c.defaultTopicInfoConf.topics.push(c.defaultTopicInfoConf.topics[0]), /"test" is defined twice/],
    ['a listed topic without config', (c) => void (c.pproxy.topics = ['test', 'ghost']), /pproxy\.topics\[1\]: topic "ghost" has no config/],
    ['no pproxy in local mode', (c) => void delete c.pproxy, /pproxy: required in local mode/],
    ['empty brokerClusters', (c) => void (c.pproxy.brokerClusters = []), /pproxy\.brokerClusters: must name at least one broker cluster/],
    ['a kafka cluster without brokers', (c) => { c.pproxy.brokerClusters.push('K1'); c.pproxy.carreraConfiguration.kafkaConfigurationMap = { K1: { acks: 'all' } }; }, /pproxy\.carreraConfiguration\.kafkaConfigurationMap\.K1\.bootstrapServers: Invalid input: expected array, received undefined/],
    ['a bad kafka acks', (c) => { c.pproxy.brokerClusters.push('K1'); c.pproxy.carreraConfiguration.kafkaConfigurationMap = { K1: { bootstrapServers: ['h:1'], acks: 'some' } }; }, /kafkaConfigurationMap\.K1\.acks: Invalid option: expected one of "0"\|"1"\|"all"\|"-1"/],
    ['not YAML', () => 'port: [1, 2\n', /not valid YAML/],
  ];
  for (const [name, mutate, expected] of cases) {
    assert.match(problem(t, mutate), expected, name);
  }
});

test('a typo under a Kafka or RocketMQ cluster is refused with its path, whether the type is switched on or not', (t) => {
  const refused = (options: Parameters<typeof localConfig>[0]) => {
    const file = writeConfig(tempDir(t), localConfig(options));
    assert.throws(() => loadSettings(file), ConfigError);
    try {
      loadSettings(file);
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };
  const kafka = { bootstrapServers: ['127.0.0.1:9092'] };
  const rocketmq = { namesrvAddrs: ['127.0.0.1:8081'] };
  assert.match(
    refused({ kafkaClusters: { K1: { ...kafka, compresion: 'gzip' } }, carreraConfiguration: { useKafka: true } }),
    /carrera\.yaml: pproxy\.carreraConfiguration\.kafkaConfigurationMap\.K1: Unrecognized key: "compresion"/,
  );
  assert.match(
    refused({ kafkaClusters: { K1: { ...kafka, ackz: '0' } }, carreraConfiguration: { useKafka: false } }),
    /pproxy\.carreraConfiguration\.kafkaConfigurationMap\.K1: Unrecognized key: "ackz"/,
  );
  assert.match(
    refused({ rocketmqClusters: { R1: { ...rocketmq, sendMsgTimout: 100 } }, carreraConfiguration: { useRocketmq: true } }),
    /pproxy\.carreraConfiguration\.rocketmqConfigurationMap\.R1: Unrecognized key: "sendMsgTimout"/,
  );
});

test('a Kafka-only file with rocketmqProducers 0, and a RocketMQ-only one with kafkaProducers 0, are accepted', (t) => {
  const kafkaOnly = localConfig({
    kafkaClusters: { K1: { bootstrapServers: ['127.0.0.1:9092'] } },
    carreraConfiguration: { useKafka: true, kafkaProducers: 2, rocketmqProducers: 0 },
  });
  assert.equal(loadSettings(writeConfig(tempDir(t), kafkaOnly)).local!.pproxy.carreraConfiguration.kafkaProducers, 2);
  const rocketmqOnly = localConfig({
    rocketmqClusters: { R1: { namesrvAddrs: ['127.0.0.1:8081'] } },
    carreraConfiguration: { useRocketmq: true, kafkaProducers: 0 },
  });
  assert.equal(loadSettings(writeConfig(tempDir(t), rocketmqOnly)).local!.pproxy.carreraConfiguration.rocketmqProducers, 1);
  const noProducers = localConfig({
    kafkaClusters: { K1: { bootstrapServers: ['127.0.0.1:9092'] } },
    carreraConfiguration: { useKafka: true, kafkaProducers: 0 },
  });
  assert.throws(() => loadSettings(writeConfig(tempDir(t), noProducers)), /pproxy\.carreraConfiguration\.kafkaProducers: must be > 0 when useKafka is true/);
});

test('a missing file is a ConfigError naming the file', () => {
  assert.throws(() => loadSettings('/nonexistent/carrera.yaml'), /\/nonexistent\/carrera\.yaml: cannot read/);
});

test('the entry point exits 1 with the message on a bad configuration', (t) => {
  const config = localConfig();
  delete config['port'];
  const file = writeConfig(tempDir(t), YAML.stringify(config));
  const run = spawnSync(PROXY_SERVER, [file], { encoding: 'utf8', timeout: 10_000, env: proxyEnv() });
  assert.equal(run.status, 1);
  assert.match(run.stderr, /pproxy: invalid configuration/);
  assert.match(run.stderr, /: port: Invalid input: expected number, received undefined/);
});
