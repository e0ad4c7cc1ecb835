/**
 * pproxy's Produce encoder writes the bytes kafkajs' own encoder writes, for every shape of
 * request the proxy sends (and a few it does not), so that swapping it in changes nothing on the wire.
 * kafkajs' encoder is taken before installProduceEncoder() replaces it in this process.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import produceDefinitions from 'kafkajs/src/protocol/requests/produce';
import { installProduceEncoder } from '../../../src/storage/kafka/kafkajs-produce';
import { Compression, encodeProduceRequest, type ProduceRequestArgs, type ProduceRecord } from '../../../src/storage/kafka/produce-request';

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
  ['gzip', { acks: -1, timeout: 30_000, compression: Compression.GZIP, topicData: [{ topic: 'z', partitions: [{ partition: 2, messages: records(40, (i) => ({ key: `k${i}`, headers: { a: 'b' } })) }] }] }],
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
  const snappy = { ...args, compression: 2 } as unknown as ProduceRequestArgs;
  // kafkajs has no snappy codec unless one is registered: its refusal shows the request went to it
  await assert.rejects(produceDefinitions.protocol({ version: 7 })(snappy).request.encode(), /Snappy compression not implemented/);
  const v2 = await produceDefinitions.protocol({ version: 2 })(args).request.encode();
  assert.ok(v2.buffer.equals(await kafkajsBytes(args, 2)), 'v2 is kafkajs\' own');
});
