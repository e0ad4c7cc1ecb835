/**
 * The conformance kit against the built-in Kafka plugin and librdkafka's mock cluster. Read back with kcat; the outage is the mock
 * frozen (SIGSTOP): a broker that keeps its connections and answers nothing. Timeouts are set short
 * so that a frozen broker's sends are answered within seconds.
 */
import { before } from 'node:test';
import { kafkaStoragePlugin } from '../../../src/storage/builtin/kafka';
import { runStorageConformance } from '../../../src/storage/testing/conformance';
import { consumeAll, MockKafka } from '../../helpers/kafka';
import { fileScope } from '../../helpers/processes';

/** The mock's own cleanup (thaw, then kill) runs when the file's tests are done. */
let mock: MockKafka;
const scope = fileScope();
before(async () => {
  mock = await MockKafka.start(scope);
});
let topics = 0;

runStorageConformance(
  {
    plugin: kafkaStoragePlugin,
    config: () => ({
      bootstrapServers: mock.bootstraps,
      acks: 'all',
      retries: 1,
      retryBackoff: 100,
      clientId: 'pproxy-conformance',
      metadataMaxAge: 300_000,
      metadataFetchTimeout: 2000,
      ackTimeout: 2000,
      requestTimeout: 2000,
      batchSize: 16_384,
      bufferMemory: 33_554_432,
    }),
    createTopic: async (partitions) => {
      const name = `conformance_${++topics}`;
      await mock.createTopic(name, partitions);
      return name;
    },
    readBack: async (topic, partition) => (await consumeAll(mock.bootstraps, topic)).filter((r) => r.partition === partition).map((r) => r.value),
    outage: { begin: () => mock.pause(), end: async () => mock.resume() },
  },
  { outageBoundMs: 10_000 },
);
