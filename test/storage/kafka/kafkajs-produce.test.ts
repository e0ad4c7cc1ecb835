/**
 * With pproxy's encoder installed, a Produce request whose codec this process has not loaded fails
 * with that reason: it never goes to kafkajs' encoder, which would encode it another way or, for
 * codecs kafkajs does not ship, fail with its own "not implemented".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import produceDefinitions from 'kafkajs/src/protocol/requests/produce';
import { installProduceEncoder } from '../../../src/storage/kafka/kafkajs-produce';
import type { ProduceRequestArgs } from '../../../src/storage/kafka/produce-request';
import { Compression, registerRecordCodec } from '../../../src/storage/kafka/record-codecs';

const request = (compression: ProduceRequestArgs['compression']): ProduceRequestArgs => ({
  acks: -1,
  timeout: 1000,
  compression,
  topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'v', timestamp: '1763800000000' }] }] }],
});

test('a codec no cluster loaded fails the request with that reason, for every version pproxy encodes', async () => {
  installProduceEncoder();
  for (const version of [3, 7]) {
    await assert.rejects(produceDefinitions.protocol({ version })(request(Compression.LZ4)).request.encode(), /no codec loaded for Kafka compression 3/);
  }
});

test("a codec registered for pproxy's encoder is used by it, not looked up in kafkajs' table", async () => {
  installProduceEncoder();
  const marker = Buffer.from('compressed by the registered codec');
  registerRecordCodec(Compression.ZSTD, { compress: async () => marker, decompress: async () => Buffer.alloc(0) });
  const encoded = (await produceDefinitions.protocol({ version: 7 })(request(Compression.ZSTD)).request.encode()).buffer;
  assert.ok(encoded.subarray(encoded.length - marker.length).equals(marker), 'the batch ends with what the codec returned');
});
