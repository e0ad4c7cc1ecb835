/**
 * Test configurations: a carrera.yaml in a fresh temp directory, removed when the test ends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import YAML from 'yaml';

export function tempDir(t: TestContext, prefix = 'pproxy-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => {
    killProxyOf(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * A proxy control.sh started with its run dir here must not outlive the directory (and the test):
 * its pid file would be gone and nothing could stop it any more.
 */
function killProxyOf(dir: string): void {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dir, 'run', 'pproxy.pid'), 'utf8'));
  } catch {
    return;
  }
  try {
    if (Number.isInteger(pid) && pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface LocalConfigOptions {
  topics?: { topic: string; delayTopic?: boolean; strongOrder?: boolean; autoBatch?: boolean; clusters?: string[]; allowedProducers?: string[] }[];
  clusters?: Record<string, Record<string, unknown>>;
  /** Kafka clusters, added to brokerClusters (useKafka stays false unless set in carreraConfiguration). */
  kafkaClusters?: Record<string, Record<string, unknown>>;
  /** RocketMQ clusters, likewise (useRocketmq stays false unless set). */
  rocketmqClusters?: Record<string, Record<string, unknown>>;
  /** Clusters of plugin types, by map (`<kind>ConfigurationMap`), likewise added to brokerClusters. */
  pluginClusters?: Record<string, Record<string, Record<string, unknown>>>;
  carreraConfiguration?: Record<string, unknown>;
  thriftServer?: Record<string, unknown>;
  port?: number;
  extra?: Record<string, unknown>;
}

/** A local-mode carrera.yaml object: by default cluster L_local with topics "test" and "other". */
export function localConfig(options: LocalConfigOptions = {}): Record<string, unknown> {
  const clusters = options.clusters ?? { L_local: { partitions: 4 } };
  const kafkaClusters = options.kafkaClusters ?? {};
  const rocketmqClusters = options.rocketmqClusters ?? {};
  const pluginClusters = options.pluginClusters ?? {};
  const allClusters = [
    ...Object.keys(clusters),
    ...Object.keys(kafkaClusters),
    ...Object.keys(rocketmqClusters),
    ...Object.values(pluginClusters).flatMap((map) => Object.keys(map)),
  ];
  const topics = options.topics ?? [{ topic: 'test' }, { topic: 'other' }];
  return {
    host: '127.0.0.1',
    port: options.port ?? 0,
    bindAddress: '127.0.0.1',
    logLevel: 'warn',
    // a stop with the admin listener on would otherwise keep accepting for 3 s first
    drainDelayMs: 0,
    pproxy: {
      proxyCluster: 'P_test',
      brokerClusters: allClusters,
      carreraConfiguration: {
        localConfigurationMap: clusters,
        kafkaConfigurationMap: kafkaClusters,
        rocketmqConfigurationMap: rocketmqClusters,
        ...pluginClusters,
        thriftServer: options.thriftServer ?? {},
        delay: { chronosInnerTopicPrefix: 'R_test_chronos_inner_', innerTopicNum: 1 },
        ...options.carreraConfiguration,
      },
    },
    defaultTopicInfoConf: {
      topics: topics.map((t) => ({
        topic: t.topic,
        delayTopic: t.delayTopic ?? false,
        strongOrder: t.strongOrder ?? false,
        autoBatch: t.autoBatch ?? false,
        topicUnits: (t.clusters ?? allClusters).map((c) => ({ brokerCluster: c })),
        ...(t.allowedProducers ? { allowedProducers: t.allowedProducers } : {}),
      })),
    },
    ...options.extra,
  };
}

export function writeConfig(dir: string, config: unknown, name = 'carrera.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof config === 'string' ? config : YAML.stringify(config));
  return file;
}
