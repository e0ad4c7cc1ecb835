/**
 * The real brokers of one bench run, Apache Kafka 4 (one KRaft node), Apache RocketMQ 5 (name
 * server, proxy in local mode) and Apache RocketMQ 4 (name server, one master broker): each starts the first time a system needs it, serves every later
 * run of that system with the bench topic created once, and stops when the bench ends. A JVM takes
 * longer to start on 2 cores than a measured run lasts, and its RSS is not what a row reports.
 */
import { Kafka, logLevel } from '../src/storage/kafka/kafkajs';
import { KafkaBroker } from './peers/kafka-broker';
import { peerJars, PeerJarsMissing, REPO_ROOT } from './peers/peer-jars';
import { RocketMqLocal } from './peers/rocketmq-server';
import { RocketMq4Cluster } from './peers/rocketmq4-server';
import { Teardown } from './teardown';

export type BrokerPeer = 'kafka-4' | 'rocketmq-5' | 'rocketmq-4';

const PEER_NAMES: Record<BrokerPeer, string> = { 'kafka-4': 'Kafka 4', 'rocketmq-5': 'Apache RocketMQ 5', 'rocketmq-4': 'Apache RocketMQ 4' };

export class RunBrokers {
  private readonly teardown = new Teardown();
  private kafka: Promise<KafkaBroker> | undefined;
  private rocketmq: Promise<RocketMqLocal> | undefined;
  private rocketmqV4: Promise<RocketMq4Cluster> | undefined;

  constructor(
    private readonly topic: string,
    private readonly partitions: number,
  ) {}

  /** Kafka 4's bootstrap servers, with the topic there. */
  async kafka4(): Promise<string[]> {
    this.kafka ??= this.starting('Kafka 4', async () => {
      const broker = await KafkaBroker.start(this.teardown, { version: 4 });
      await broker.createTopic(this.topic, this.partitions);
      await primeKafka(broker.bootstraps, this.topic);
      return broker;
    });
    return (await this.kafka).bootstraps;
  }

  /** The RocketMQ 5 proxy's gRPC endpoint, with the topic there (NORMAL). */
  async rocketmq5(): Promise<string> {
    this.rocketmq ??= this.starting('RocketMQ 5', () => RocketMqLocal.start(this.teardown, { [this.topic]: 'NORMAL' }));
    return (await this.rocketmq).address;
  }

  /** The RocketMQ 4 name server's address, the topic on its broker with a queue per partition. */
  async rocketmq4(): Promise<string> {
    this.rocketmqV4 ??= this.starting('RocketMQ 4', () => RocketMq4Cluster.start(this.teardown, { brokers: 1, topics: { [this.topic]: { queues: this.partitions } } }));
    return (await this.rocketmqV4).namesrvAddress;
  }

  /** Kills every broker started; idempotent. */
  stop(): Promise<void> {
    return this.teardown.run();
  }

  private starting<T>(what: string, start: () => Promise<T>): Promise<T> {
    process.stderr.write(`bench: starting ${what} (once for this run)\n`);
    return start();
  }
}

/**
 * A fresh broker JVM serves its first seconds of load slower (its code not yet compiled), which the
 * first measured system would pay and the baseline's run after it would not: measured on one
 * build against itself, the first run got 0.76x and 0.90x the second's msgs/s. So the broker gets
 * this much load, unmeasured, before any system runs.
 */
const PRIME_MS = 10_000;

async function primeKafka(bootstraps: string[], topic: string): Promise<void> {
  const producer = new Kafka({ brokers: bootstraps, logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    const messages = Array.from({ length: 50 }, () => ({ value: Buffer.alloc(200, 0x61) }));
    const until = Date.now() + PRIME_MS;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < until) await producer.send({ topic, messages });
      }),
    );
  } finally {
    await producer.disconnect();
  }
}

/** A peer whose jars are not fetched: which selected systems need it, and what to run. */
export interface MissingPeer {
  systems: string[];
  message: string;
}

/** The peers of `needs` (peer -> systems) whose jars are not fetched; empty when all are there. */
export function missingPeers(needs: Partial<Record<BrokerPeer, string[]>>, root = REPO_ROOT): MissingPeer[] {
  return (Object.entries(needs) as [BrokerPeer, string[]][]).flatMap(([peer, systems]) => {
    try {
      peerJars(peer, PEER_NAMES[peer], root);
      return [];
    } catch (err) {
      if (!(err instanceof PeerJarsMissing)) throw err;
      return [{ systems, message: `${err.message} (for systems ${systems.join(',')})` }];
    }
  });
}
