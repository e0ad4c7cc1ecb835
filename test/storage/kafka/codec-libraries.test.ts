/**
 * The codec libraries: each round-trips records, snappy also reads the xerial framing Kafka's Java
 * producer writes, and a library that cannot be loaded fails the start of a cluster configuring
 * it, naming the package, while a cluster with another codec starts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log';
import { CODEC_LIBRARIES, CodecUnavailableError, loadCodec, type LibraryCodecName } from '../../../src/storage/kafka/codec-libraries';
import { kafkaClusterSchema } from '../../../src/storage/kafka/kafka-config';
import { KafkaStorage } from '../../../src/storage/kafka/kafka-storage';
import { schemaTools } from '../../../src/storage/storage-context';

const NAMES = Object.keys(CODEC_LIBRARIES) as LibraryCodecName[];

for (const name of NAMES) {
  test(`${name} round-trips a batch's records`, async () => {
    const records = Buffer.concat([Buffer.from('{"order":1,"items":[]}'.repeat(200)), randomBytes(70_000)]);
    const { codec } = loadCodec(name);
    const compressed = await codec.compress(records);
    assert.ok(compressed.length < records.length, `${compressed.length} < ${records.length}`);
    assert.deepEqual(await codec.decompress(compressed), records);
  });
}

test("snappy reads xerial's framing (Kafka's Java producer) as well as raw snappy", async () => {
  const snappy = require('snappy') as typeof import('snappy');
  const parts = [Buffer.from('first block '.repeat(50)), Buffer.from('second block '.repeat(40))];
  // magic, version 1, compatible version 1; then per block its INT32 size and raw snappy
  const framed: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
  for (const part of parts) {
    const block = await snappy.compress(part);
    const size = Buffer.alloc(4);
    size.writeInt32BE(block.length);
    framed.push(size, block);
  }
  const { codec } = loadCodec('snappy');
  assert.deepEqual(await codec.decompress(Buffer.concat(framed)), Buffer.concat(parts));
  assert.deepEqual(await codec.decompress(await snappy.compress(parts[0]!)), parts[0]);
});

test('a codec whose library cannot be loaded names the package', () => {
  const missing = (pkg: string) => {
    throw new Error(`Cannot find module '${pkg}'\nRequire stack:\n- somewhere`);
  };
  for (const name of NAMES) {
    const pkg = CODEC_LIBRARIES[name].packageName;
    assert.throws(
      () => loadCodec(name, missing),
      (error: unknown) => error instanceof CodecUnavailableError && error.message === `compression ${name} needs the npm package ${pkg}, which cannot be loaded here: Cannot find module '${pkg}'`,
    );
  }
});

test("a Kafka cluster whose codec's library is missing fails its start; one with another codec starts", async (t) => {
  const asked: string[] = [];
  const withoutZstd = (pkg: string) => {
    asked.push(pkg);
    if (pkg === '@mongodb-js/zstd') throw new Error(`Cannot find module '${pkg}'`);
    return require(pkg) as unknown;
  };
  const storage = (compression: string) =>
    new KafkaStorage('K1', kafkaClusterSchema(schemaTools).parse({ bootstrapServers: ['127.0.0.1:1'], compression }), 1, silentLogger(), Math.random, withoutZstd);
  const zstd = storage('zstd');
  const lz4 = storage('lz4');
  t.after(() => Promise.all([zstd.close(), lz4.close()]));
  await assert.rejects(zstd.start(), /^CodecUnavailableError: compression zstd needs the npm package @mongodb-js\/zstd, which cannot be loaded here/);
  await lz4.start();
  assert.deepEqual(asked, ['@mongodb-js/zstd', 'lz4-napi'], 'each cluster loads its own codec only');
});
