/**
 * The Kafka codecs as the proxy runs them (src/storage/kafka/record-codecs.ts and the libraries
 * codec-libraries.ts loads), on two record payloads: 100 JSON records of about 1 KiB, and a 64 KiB
 * body half random, half patterned. Reports each compressed size, the ratio and the median time of
 * one compression, after a check that it decompresses back. Run: npm run bench:codecs [-- --runs N]
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CODEC_LIBRARIES, loadCodec, type LibraryCodecName } from '../src/storage/kafka/codec-libraries';
import { Compression, recordCodec, type RecordCodec } from '../src/storage/kafka/record-codecs';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

function jsonRecords(): Buffer {
  const records = Array.from({ length: 100 }, (_, i) => {
    const order = { orderId: `o-${100_000 + i}`, user: { id: i * 7919, name: `user${i}`, city: ['Beijing', 'Shanghai', 'Hangzhou'][i % 3] }, items: [] as object[], ts: 1_763_800_000_000 + i, status: 'PAID' };
    while (JSON.stringify(order).length < 1000) order.items.push({ sku: `sku-${(i * 31 + order.items.length) % 997}`, qty: (order.items.length % 5) + 1 });
    return JSON.stringify(order);
  });
  return Buffer.from(records.join('\n'));
}

function binaryBody(): Buffer {
  const patterned = Buffer.from(Array.from({ length: 32 * 1024 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));
  return Buffer.concat([randomBytes(32 * 1024), patterned]);
}

async function medianMs(codec: RecordCodec, payload: Buffer, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await codec.compress(payload);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

async function main(): Promise<void> {
  const runs = option('runs', 500);
  const codecs: [string, RecordCodec][] = [
    ['gzip', recordCodec(Compression.GZIP)],
    ...(Object.keys(CODEC_LIBRARIES) as LibraryCodecName[]).map((name): [string, RecordCodec] => [name, loadCodec(name).codec]),
  ];
  for (const [label, payload] of [['100 x 1 KiB JSON', jsonRecords()], ['64 KiB binary', binaryBody()]] as const) {
    console.log(`${label} (${payload.length} B), median of ${runs}`);
    for (const [name, codec] of codecs) {
      const compressed = await codec.compress(payload);
      if (!(await codec.decompress(compressed)).equals(payload)) throw new Error(`${name} does not decompress back`);
      const ms = await medianMs(codec, payload, runs);
      console.log(`  ${name.padEnd(7)} ${String(compressed.length).padStart(7)} B  ${(payload.length / compressed.length).toFixed(2).padStart(5)}x  ${ms.toFixed(3)} ms`);
    }
  }
}

void main();
