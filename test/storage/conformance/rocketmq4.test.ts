/**
 * The conformance kit against the built-in RocketMQ plugin over the remoting protocol and the real
 * Apache RocketMQ 4: one name server, one master broker. A topic has as many queues as the kit asks
 * partitions, partition n being the n-th write queue of the route (the broker's queue n, with one
 * broker); bodies are read back with mqadmin. The outage is the broker killed (SIGKILL) and started
 * again on the same store; the name server keeps serving its route meanwhile, so a send reaches for
 * the dead broker's address and fails on the connection, as in production.
 */
import { before } from 'node:test';
import { RocketMq4Cluster } from '../../../bench/peers/rocketmq4-server';
import { rocketmqStoragePlugin } from '../../../src/storage/builtin/rocketmq';
import { runStorageConformance } from '../../../src/storage/testing/conformance';
import { fileScope } from '../../helpers/processes';

const BROKER = 'broker-a';
/** The storage's body limit, under the broker's (MAX_MESSAGE_SIZE): the storage refuses a body over it itself. */
const MAX_MESSAGE_SIZE = 32 * 1024;

const scope = fileScope();
let cluster: RocketMq4Cluster;
before(async () => {
  cluster = await RocketMq4Cluster.start(scope, { brokers: 1, topics: {} });
}, { timeout: 120_000 });
let topics = 0;

runStorageConformance(
  {
    plugin: rocketmqStoragePlugin,
    // DDMQ's rule: an explicit partitionId goes to queue partitionId % n
    partitionsBeyondCount: 'wrapped',
    config: () => ({
      namesrvAddrs: [cluster.namesrvAddress],
      protocol: 'remoting',
      groupPrefix: 'pproxy-conformance',
      sendMsgTimeout: 3000,
      maxMessageSize: MAX_MESSAGE_SIZE,
      compressMsgBodyOverHowmuch: 4096,
      retryTimesWhenSendFailed: 1,
      clientCallbackExecutorThreads: 4,
      pollNameServerInterval: 2000,
      heartbeatBrokerInterval: 10_000,
      persistConsumerOffsetInterval: 5000,
    }),
    createTopic: async (partitions) => {
      const name = `conformance_${++topics}`;
      await cluster.createTopic(name, { queues: partitions });
      return name;
    },
    readBack: async (topic, partition) => (await cluster.readQueue(topic, BROKER, partition)).map((m) => m.body),
    outage: { begin: () => cluster.kill(BROKER), end: () => cluster.restart(BROKER) },
  },
  { outageBoundMs: 10_000 },
);
