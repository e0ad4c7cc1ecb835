/**
 * The record-batch compression codecs of this process, by Kafka's code (a batch's attributes' low
 * three bits). gzip is Node's zlib, always there; snappy, lz4 and zstd come from native libraries a
 * cluster loads when it configures them (codec-libraries.ts), so an encoder asked for a codec no
 * cluster loaded refuses instead of sending something else.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';

export const Compression = { None: 0, GZIP: 1, Snappy: 2, LZ4: 3, ZSTD: 4 } as const;
export type CompressionCode = (typeof Compression)[keyof typeof Compression];

/** A codec as Kafka's record batches need it: the records' bytes in, the batch's payload out. */
export interface RecordCodec {
  compress(records: Buffer): Promise<Buffer>;
  decompress(payload: Buffer): Promise<Buffer>;
}

const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip);
/** The same calls as kafkajs' own gzip codec, so both encoders write the same bytes. */
const gzipCodec: RecordCodec = { compress: (records) => gzip(records), decompress: (payload) => unzip(payload) };

const codecs = new Map<CompressionCode, RecordCodec>([[Compression.GZIP, gzipCodec]]);

export function registerRecordCodec(code: CompressionCode, codec: RecordCodec): void {
  codecs.set(code, codec);
}

/** The codec of a compressed batch; throws for one this process has not loaded. */
export function recordCodec(code: number): RecordCodec {
  const codec = codecs.get(code as CompressionCode);
  if (!codec) throw new Error(`no codec loaded for Kafka compression ${code}: the cluster configuring it loads its library when it starts`);
  return codec;
}
