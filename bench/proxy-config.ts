/**
 * The carrera.yaml of a benchmarked proxy (local mode): one topic on the embedded local storage, a
 * Kafka cluster, a RocketMQ 5 proxy or RocketMQ 4 name servers. The shape is test/helpers/config.ts localConfig()'s, with the
 * DDMQ flags the send pipeline reads for auto-batching and rate limiting.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ConfigError } from '../src/config/load';
import { loadNodeConfiguration } from '../src/node-configuration';
import type { RocketmqProtocol } from '../src/storage/rocketmq/rocketmq-config';

export interface ProxyOptions {
  /** Kafka bootstrap servers; absent, and no `rocketmq` either: the topic lives on local storage. */
  kafka?: string[];
  /** The cluster's `namesrvAddrs`: RocketMQ 5 proxies' gRPC endpoints, or RocketMQ 4 name servers (remoting). */
  rocketmq?: { protocol: RocketmqProtocol; addresses: string[] };
  /** DDMQ's auto-batching: the topic's `autoBatch` and carreraConfiguration's `useAutoBatch`. */
  autoBatch?: boolean;
  /** DDMQ's request limiter: `useRequestLimiter` and this `maxTps` on the topic's unit. */
  maxTps?: number;
  /** thriftServer.maxInFlightBytes, the proxy's budget of request bytes received and not answered. */
  maxInFlightBytes?: number;
  /** The proxy's metrics on (`--metrics`): its admin listener on this port; absent, off (adminPort 0). */
  adminPort?: number;
  /** TLS on the Thrift port (`--tls`): carrera.yaml's `thriftServer.tls`, these PEM files. */
  tls?: { cert: string; key: string };
}

export const PARTITIONS = 8;

/**
 * Writes the file and checks it with the proxy's own loader. A proxy that does not know
 * `maxInFlightBytes` yet runs without it, and the returned note says so.
 */
export function writeProxyConfig(dir: string, topic: string, options: ProxyOptions): { file: string; notes: string[] } {
  const file = path.join(dir, 'carrera.yaml');
  fs.writeFileSync(file, YAML.stringify(proxyConfig(topic, options)));
  try {
    loadNodeConfiguration(file);
    return { file, notes: [] };
  } catch (err) {
    if (!(err instanceof ConfigError && options.maxInFlightBytes && /maxInFlightBytes/.test(err.message))) throw err;
    const { maxInFlightBytes: _refused, ...rest } = options;
    fs.writeFileSync(file, YAML.stringify(proxyConfig(topic, rest)));
    return { file, notes: ['this pproxy does not accept thriftServer.maxInFlightBytes: ran with its defaults'] };
  }
}

function proxyConfig(topic: string, options: ProxyOptions): Record<string, unknown> {
  const cluster = options.kafka ? 'K1' : options.rocketmq ? 'R1' : 'L1';
  return {
    host: '127.0.0.1',
    port: 0,
    bindAddress: '127.0.0.1',
    logLevel: 'warn',
    ...(options.adminPort ? { adminPort: options.adminPort } : {}),
    ...(options.tls ? { thriftServer: { tls: options.tls } } : {}),
    pproxy: {
      proxyCluster: 'P_bench',
      brokerClusters: [cluster],
      carreraConfiguration: {
        ...(options.kafka
          ? { useKafka: true, kafkaConfigurationMap: { K1: { bootstrapServers: options.kafka } } }
          : options.rocketmq
            ? { useRocketmq: true, rocketmqConfigurationMap: { R1: { namesrvAddrs: options.rocketmq.addresses, protocol: options.rocketmq.protocol } } }
            : { localConfigurationMap: { L1: { partitions: PARTITIONS } } }),
        ...(options.autoBatch ? { useAutoBatch: true } : {}),
        ...(options.maxTps ? { useRequestLimiter: true } : {}),
        ...(options.maxInFlightBytes ? { thriftServer: { maxInFlightBytes: options.maxInFlightBytes } } : {}),
      },
    },
    defaultTopicInfoConf: {
      topics: [
        {
          topic,
          ...(options.autoBatch ? { autoBatch: true } : {}),
          topicUnits: [{ brokerCluster: cluster, ...(options.maxTps ? { maxTps: options.maxTps, totalMaxTps: options.maxTps } : {}) }],
        },
      ],
    },
  };
}
