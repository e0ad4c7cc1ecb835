/**
 * Makes a configured codec available to both encoders of the process: pproxy's Produce encoder
 * (record-codecs.ts) and kafkajs' codec table (exported as CompressionCodecs), which any other
 * kafkajs path that compresses or decompresses a batch looks up (older Produce versions, a
 * consumer in the tests). Loaded by kafkajs.ts, which re-exports installCompressionCodec.
 */
import { loadCodec, type LibraryLoader } from './codec-libraries';
import type { KafkaClusterConfig } from './kafka-config';
import kafkajsCompression from 'kafkajs/src/protocol/message/compression';
import { Compression, registerRecordCodec, type CompressionCode } from './record-codecs';

/** Loads and registers `name`'s codec; returns its Kafka code. gzip is always there. */
export function installCompressionCodec(name: KafkaClusterConfig['compression'], load?: LibraryLoader): CompressionCode {
  if (name === 'none') return Compression.None;
  if (name === 'gzip') return Compression.GZIP;
  const { code, codec } = loadCodec(name, load);
  registerRecordCodec(code, codec);
  kafkajsCompression.Codecs[code] = () => ({
    compress: (encoder) => codec.compress(encoder.buffer),
    decompress: (payload) => codec.decompress(payload),
  });
  return code;
}
