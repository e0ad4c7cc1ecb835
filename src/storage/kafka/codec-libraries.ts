/**
 * The native libraries behind Kafka's snappy, lz4 and zstd codecs, loaded when a cluster configures
 * one: a machine without one library's prebuilt binary still runs clusters that use the others.
 * Each adapter writes the format Kafka's own clients read:
 * - snappy: raw snappy. Kafka's Java client reads batches with xerial's SnappyInputStream, which
 *   takes a stream without xerial's header as one raw block; Kafka's Java producer writes xerial's
 *   framing, which decompress() therefore also reads.
 * - lz4: the LZ4 frame format with independent blocks (lz4_flex's default frame, header checksum
 *   included), the only kind Kafka's KafkaLZ4BlockInputStream accepts.
 * - zstd: a zstd frame at the library's default level (3, as Kafka's producer).
 */
import type { KafkaClusterConfig } from './kafka-config';
import { Compression, type CompressionCode, type RecordCodec } from './record-codecs';

/** The codecs a library brings (gzip is Node's zlib). */
export type LibraryCodecName = Exclude<KafkaClusterConfig['compression'], 'none' | 'gzip'>;

/** Loads an npm package by name: `require`, or a stand-in in tests. */
export type LibraryLoader = (packageName: string) => unknown;

interface CodecLibrary {
  code: CompressionCode;
  packageName: string;
  adapt(library: unknown): RecordCodec;
}

type SnappyModule = typeof import('snappy');
type Lz4Module = typeof import('lz4-napi');
type ZstdModule = typeof import('@mongodb-js/zstd');

export const CODEC_LIBRARIES: Record<LibraryCodecName, CodecLibrary> = {
  snappy: {
    code: Compression.Snappy,
    packageName: 'snappy',
    adapt: (library) => {
      const snappy = library as SnappyModule;
      const uncompress = async (block: Buffer) => (await snappy.uncompress(block, { asBuffer: true })) as Buffer;
      return { compress: (records) => snappy.compress(records), decompress: (payload) => unframeXerial(payload, uncompress) };
    },
  },
  lz4: {
    code: Compression.LZ4,
    packageName: 'lz4-napi',
    adapt: (library) => {
      const lz4 = library as Lz4Module;
      return { compress: (records) => lz4.compressFrame(records), decompress: (payload) => lz4.decompressFrame(payload) };
    },
  },
  zstd: {
    code: Compression.ZSTD,
    packageName: '@mongodb-js/zstd',
    adapt: (library) => {
      const zstd = library as ZstdModule;
      return { compress: (records) => zstd.compress(records), decompress: (payload) => zstd.decompress(payload) };
    },
  },
};

export class CodecUnavailableError extends Error {
  override readonly name = 'CodecUnavailableError';
}

/**
 * The codec `name` needs, its library loaded. Throws CodecUnavailableError naming the package when
 * it cannot be loaded (not installed, or no binary for this platform).
 */
export function loadCodec(name: LibraryCodecName, load: LibraryLoader = require): { code: CompressionCode; codec: RecordCodec } {
  const { code, packageName, adapt } = CODEC_LIBRARIES[name];
  let library: unknown;
  try {
    library = load(packageName);
  } catch (error) {
    throw new CodecUnavailableError(`compression ${name} needs the npm package ${packageName}, which cannot be loaded here: ${String(error instanceof Error ? error.message : error).split('\n', 1)[0]}`, {
      cause: error,
    });
  }
  return { code, codec: adapt(library) };
}

/** xerial's snappy stream header: magic, then version and compatible version (INT32 each). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = XERIAL_MAGIC.length + 8;

/** Raw snappy, or xerial's framing of it: blocks of INT32 size + raw snappy, concatenated. */
async function unframeXerial(payload: Buffer, uncompress: (block: Buffer) => Promise<Buffer>): Promise<Buffer> {
  if (payload.length < XERIAL_HEADER_BYTES || !payload.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) return uncompress(payload);
  const blocks: Buffer[] = [];
  for (let at = XERIAL_HEADER_BYTES; at + 4 <= payload.length; ) {
    const size = payload.readInt32BE(at);
    blocks.push(await uncompress(payload.subarray(at + 4, at + 4 + size)));
    at += 4 + size;
  }
  return Buffer.concat(blocks);
}
