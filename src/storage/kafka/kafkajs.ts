/**
 * kafkajs as pproxy loads it: every module of src/ imports kafkajs from here, never directly, so that
 * both of pproxy's replacements inside kafkajs are in place before any client exists: the Produce
 * encoder (kafkajs-produce.ts) and the grouping of a send's messages by partition (below). A
 * cluster's codec goes into kafkajs' codec table through installCompressionCodec (kafkajs-codecs.ts).
 *
 * kafkajs' producer groups a send's messages by partition with `[...current, message]` and
 * `Object.assign` per message: quadratic in the messages of one partition, and since pproxy's
 * batches put all their random-partition messages on one partition (kafka-storage.ts), it was a
 * quarter of the proxy's allocations at 50k msg/s (265 KB of garbage for a batch of 256). The
 * grouping lives in its own module, which kafkajs' sendMessages binds when it loads; this module
 * puts a linear grouping with the same result (messages in input order under each partition) in
 * that module's place first. kafkajs 2.2.4 is pinned exactly in package.json, and any other release
 * stops the process when this module loads (kafkajs-version.ts).
 */
import './kafkajs-version'; // first: before any of kafkajs loads
import type { Message, PartitionMetadata } from 'kafkajs';
import { installProduceEncoder } from './kafkajs-produce';
import { groupBy } from '../../util/group-by';

type Partitioner = (args: { topic: string; partitionMetadata: PartitionMetadata[]; message: Message }) => number;
type GroupArgs = { topic: string; partitionMetadata: PartitionMetadata[]; messages: Message[]; partitioner: Partitioner };

/** kafkajs' groupMessagesPerPartition, linear: `{ [partition]: messages in input order }`. */
export function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, Message[]> {
  if (partitionMetadata.length === 0) return {};
  return Object.fromEntries(groupBy(messages, (message) => partitioner({ topic, partitionMetadata, message })));
}

const groupingModule = require.resolve('kafkajs/src/producer/groupMessagesPerPartition');
if (require.cache[require.resolve('kafkajs/src/producer/sendMessages')]) {
  // too late: the producer already holds kafkajs' own grouping
  throw new Error('kafkajs was loaded before src/storage/kafka/kafkajs.ts could patch it: import kafkajs through that module');
}
require(groupingModule);
require.cache[groupingModule]!.exports = groupMessagesPerPartition;
installProduceEncoder();

export { installCompressionCodec } from './kafkajs-codecs';
export * from 'kafkajs';
