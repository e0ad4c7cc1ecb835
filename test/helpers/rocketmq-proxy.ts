/** A proxy in front of a RocketMQ 5 endpoint (the stand-in or the real server) for the e2e tests. */
import type { TestContext } from 'node:test';
import type { ProducerClient } from '../../src/client/producer-client';
import type { LocalConfigOptions } from './config';
import { startProxy } from './proxy';
import { RocketMqStandIn, type StandInOptions } from './rocketmq-standin';

export const BROKERS = { 'broker-a': 4, 'broker-b': 4 };

/** The stand-in with BROKERS (two of 4 queues) and topics normal and fifo, stopped when the test ends. */
export async function standIn(t: TestContext, options: Partial<StandInOptions> = {}): Promise<RocketMqStandIn> {
  const s = new RocketMqStandIn({ brokers: BROKERS, topics: { normal: { type: 'NORMAL' }, fifo: { type: 'FIFO' } }, ...options });
  await s.start();
  t.after(() => s.stop());
  return s;
}

/** A local-mode config whose topics live on RocketMQ cluster R1 at `endpoint`. */
export function rmqConfig(endpoint: { address: string }, topics: LocalConfigOptions['topics'], extra: Partial<LocalConfigOptions> = {}): LocalConfigOptions {
  return {
    clusters: {},
    rocketmqClusters: { R1: { namesrvAddrs: [endpoint.address], protocol: 'grpc', sendMsgTimeout: 1000 } },
    carreraConfiguration: { useRocketmq: true },
    topics,
    ...extra,
  };
}

export async function rmqProxy(t: TestContext, endpoint: { address: string }, topics: LocalConfigOptions['topics'], extra: Partial<LocalConfigOptions> = {}): Promise<ProducerClient> {
  const proxy = await startProxy(t, rmqConfig(endpoint, topics, extra));
  return proxy.client();
}
