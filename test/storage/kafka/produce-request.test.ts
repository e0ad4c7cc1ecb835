/**
 * pproxy's Produce encoder writes the bytes kafkajs' own encoder writes, for every shape of
 * request the proxy sends (and a few it does not), so that swapping it in changes nothing on the wire.
 * kafkajs' encoder is taken before installProduceEncoder() replaces it in this process. Every codec
 * is compared with the same library registered in kafkajs' codec table (installCompressionCodec).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import produceDefinitions from 'kafkajs/src/protocol/requests/produce';
import { installCompressionCodec } from '../../../src/storage/kafka/kafkajs-codecs';
import { installProduceEncoder } from '../../../src/storage/kafka/kafkajs-produce';
import { encodeProduceRequest, type ProduceRequestArgs, type ProduceRecord } from '../../../src/storage/kafka/produce-request';
import { Compression, type CompressionCode } from '../../../src/storage/kafka/record-codecs';

const kafkajsProtocol = produceDefinitions.protocol;

async function kafkajsBytes(args: ProduceRequestArgs, version = 3): Promise<Buffer> {
  return (await kafkajsProtocol({ version })(args).request.encode()).buffer;
}

const T0 = 1_763_800_000_000; // 13 digits, as every timestamp the proxy sends

function records(n: number, shape: (i: number) => Partial<ProduceRecord>): ProduceRecord[] {
  return Array.from({ length: n }, (_, i) => ({ value: Buffer.from(`value-${i}`), timestamp: String(T0 + i), ...shape(i) }));
}

const cases: [string, ProduceRequestArgs][] = [
  ['one record, no key, no headers', { acks: -1, timeout: 30_000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: records(1, () => ({})) }] }] }],
  [
    'keys, null value, headers with arrays and UTF-8, two topics, several partitions',
    {
      acks: 1,
      timeout: 5000,
      topicData: [
        {
          topic: 'orders',
          partitions: [
            {
              partition: 3,
              messages: records(5, (i) => ({
                key: i % 2 ? `key-${i}` : Buffer.from([0, 255, i]),
                value: i === 4 ? null : Buffer.from(`body-${i}`),
                headers: { traceId: `t-${i}`, TAGS: Buffer.from('TagA'), 'ключ': ['значение', 'two'] },
              })),
            },
            { partition: 0, messages: records(2, () => ({ key: null, headers: {} })) },
          ],
        },
        { topic: 'тема', partitions: [{ partition: 7, messages: records(1, () => ({ key: 'k' })) }] },
      ],
    },
  ],
  [
    '300 records, a 20 KiB value, timestamps far apart and out of order',
    {
      acks: -1,
      timeout: 30_000,
      topicData: [
        {
          topic: 'big',
          partitions: [
            {
              partition: 1,
              messages: records(300, (i) => ({
                value: i === 150 ? Buffer.alloc(20 * 1024, 7) : Buffer.from(`v${i}`),
                timestamp: String(T0 + ((i * 7919) % 300) * 100_000),
              })),
            },
          ],
        },
      ],
    },
  ],
  [
    'transactional id, producer id and epoch, first sequence',
    {
      acks: -1,
      timeout: 30_000,
      transactionalId: 'tx-1',
      producerId: 4242,
      producerEpoch: 3,
      topicData: [{ topic: 't', partitions: [{ partition: 0, firstSequence: 17, messages: records(3, () => ({})) }] }],
    },
  ],
];

// with the clock frozen, kafkajs' "now" and ours agree
const atFrozenTime: [string, ProduceRequestArgs][] = [
  [
    'records without a timestamp or with 0, an empty transactional id, an empty partition',
    {
      acks: -1,
      timeout: 30_000,
      transactionalId: '',
      topicData: [
        {
          topic: 't',
          partitions: [
            { partition: 0, messages: [{ value: 'a' }, { value: 'b', timestamp: String(T0 - 5) }, { value: 'c', timestamp: 0 }, { value: 'd', timestamp: String(T0 + 9) }] },
            { partition: 1, messages: [{ value: 'x' }] },
            { partition: 2, messages: [] },
          ],
        },
      ],
    },
  ],
  ['timestamp deltas near 2^53', { acks: 1, timeout: 1, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'v', timestamp: '1' }, { value: 'w', timestamp: '9007199254740000' }] }] }] }],
];

for (const [name, args] of atFrozenTime) {
  test(`same bytes as kafkajs: ${name}`, async (t) => {
    t.mock.method(Date, 'now', () => T0);
    const ours = await encodeProduceRequest(args);
    const theirs = await kafkajsBytes(args);
    assert.ok(ours.equals(theirs), `first difference at byte ${ours.findIndex((b, i) => b !== theirs[i])} (lengths ${ours.length}, ${theirs.length})`);
  });
}

for (const [name, args] of cases) {
  test(`same bytes as kafkajs: ${name}`, async () => {
    const ours = await encodeProduceRequest(args);
    const theirs = await kafkajsBytes(args);
    assert.equal(ours.length, theirs.length, 'length');
    assert.ok(ours.equals(theirs), `first difference at byte ${ours.findIndex((b, i) => b !== theirs[i])}`);
  });
}

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
const CODES: Record<(typeof CODECS)[number], CompressionCode> = { gzip: Compression.GZIP, snappy: Compression.Snappy, lz4: Compression.LZ4, zstd: Compression.ZSTD };

/** A 1 KiB JSON body as pproxy's users send them, and a 64 KiB body of bytes that do not compress. */
function codecRecords(n: number): ProduceRecord[] {
  return records(n, (i) => ({
    key: `order-${i}`,
    value: i === 3 ? randomBytes(64 * 1024) : Buffer.from(JSON.stringify({ order: i, items: Array.from({ length: 20 }, (_, j) => ({ sku: `sku-${j}`, qty: j })) })),
    headers: { traceId: `t-${i}`, TAGS: 'TagA' },
  }));
}

for (const codec of CODECS) {
  const compression = CODES[codec];
  const shapes: [string, ProduceRequestArgs][] = [
    ['one partition', { acks: -1, timeout: 30_000, compression, topicData: [{ topic: 'z', partitions: [{ partition: 2, messages: codecRecords(40) }] }] }],
    [
      'two topics, several partitions, one record alone',
      {
        acks: 1,
        timeout: 5000,
        compression,
        topicData: [
          { topic: 'a', partitions: [{ partition: 0, messages: codecRecords(5) }, { partition: 3, messages: codecRecords(1) }] },
          { topic: 'b', partitions: [{ partition: 1, messages: records(7, (i) => ({ value: i % 2 ? null : Buffer.from(`v${i}`) })) }] },
        ],
      },
    ],
  ];
  for (const [shape, args] of shapes) {
    test(`same bytes as kafkajs with ${codec}: ${shape}`, async () => {
      assert.equal(installCompressionCodec(codec), compression);
      const ours = await encodeProduceRequest(args);
      const theirs = await kafkajsBytes(args, 7);
      assert.equal(ours.length, theirs.length, 'length');
      assert.ok(ours.equals(theirs), `first difference at byte ${ours.findIndex((b, i) => b !== theirs[i])}`);
      // attributes' low three bits: the codec (offset as in the timestamp test below, less 6)
      assert.equal(ours.readInt16BE(8 + 7 + 12 + 8 + 4 + 4 + 1 + 4) & 0x07, compression);
    });
  }
}

test('records without a timestamp get the time of encoding, as in kafkajs', async () => {
  const args: ProduceRequestArgs = { acks: -1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [{ value: 'x' }, { value: 'y' }] }] }] };
  const before = Date.now();
  const ours = await encodeProduceRequest(args);
  // transactional id, acks, timeout (2 + 2 + 4); topic count and name (4 + 2 + 1); partition count,
  // partition, size (4 + 4 + 4); baseOffset, length, leader epoch, magic, crc, attributes,
  // lastOffsetDelta (8 + 4 + 4 + 1 + 4 + 2 + 4): then firstTimestamp
  const firstTimestamp = Number(ours.readBigInt64BE(8 + 7 + 12 + 27));
  assert.ok(firstTimestamp >= before && firstTimestamp <= Date.now(), `firstTimestamp ${firstTimestamp}`);
});

test('once installed, kafkajs produces with it for v3-v7 and keeps its own encoder otherwise', async () => {
  const args = cases[1]![1];
  installProduceEncoder();
  installProduceEncoder(); // idempotent: the second call must not wrap the first
  for (const version of [3, 7]) {
    const produce = produceDefinitions.protocol({ version })(args);
    assert.equal(produce.request.apiVersion, version);
    assert.equal(produce.request.expectResponse(), true);
    assert.ok((await produce.request.encode()).buffer.equals(await encodeProduceRequest(args)));
  }
  const v2 = await produceDefinitions.protocol({ version: 2 })(args).request.encode();
  assert.ok(v2.buffer.equals(await kafkajsBytes(args, 2)), 'v2 is kafkajs\' own');
});
