/**
 * The conformance kit against the built-in RocketMQ plugin and the RocketMQ 5 proxy stand-in. Topics are normal ones
 * (a FIFO topic refuses the kit's unordered messages) with as many queues as the kit asks
 * partitions, partition n being the n-th queue of the route; the outage is the stand-in stopped and
 * a new one started on the same port, the proxy restarted.
 */
import { after, before } from 'node:test';
import { rocketmqStoragePlugin } from '../../../src/storage/builtin/rocketmq';
import { runStorageConformance } from '../../../src/storage/testing/conformance';
import { RocketMqStandIn, type StandInOptions } from '../../helpers/rocketmq-standin';

const PARTITIONS = 3;

/** Shared by the stand-ins: one started after an outage serves the same topics. */
const options: StandInOptions = { brokers: { 'broker-a': 2, 'broker-b': 1 }, topics: {} };
/** Every stand-in started, the current one last: what each stored is read back. */
const standIns: RocketMqStandIn[] = [];
let port = 0;
let topics = 0;

async function startStandIn(): Promise<void> {
  const standIn = new RocketMqStandIn(options);
  const address = await standIn.start(port);
  port = Number(address.split(':')[1]);
  standIns.push(standIn);
}

before(startStandIn);
after(() => standIns.at(-1)!.stop());

runStorageConformance(
  {
    plugin: rocketmqStoragePlugin,
    partitionsBeyondCount: 'wrapped',
    config: () => ({
      namesrvAddrs: [standIns.at(-1)!.address],
      protocol: 'grpc',
      groupPrefix: 'pproxy-conformance',
      sendMsgTimeout: 2000,
      maxMessageSize: 256 * 1024,
      compressMsgBodyOverHowmuch: 4096,
      clientCallbackExecutorThreads: 4,
      pollNameServerInterval: 2000,
      heartbeatBrokerInterval: 10_000,
      persistConsumerOffsetInterval: 5000,
    }),
    createTopic: async (partitions) => {
      if (partitions > PARTITIONS) throw new Error(`the stand-in has ${PARTITIONS} queues per topic, ${partitions} asked`);
      const name = `conformance_${++topics}`;
      options.topics[name] = { type: 'NORMAL' };
      return name;
    },
    readBack: async (topic, partition) => {
      const queue = standIns.at(-1)!.writeQueues(topic)[partition];
      if (queue === undefined) return [];
      return standIns
        .flatMap((standIn) => standIn.stored)
        .filter((entry) => entry.topic === topic && entry.broker === queue.broker && entry.queueId === queue.id)
        .map((entry) => entry.body);
    },
    outage: { begin: () => standIns.at(-1)!.stop(), end: startStandIn },
  },
  { outageBoundMs: 10_000 },
);
