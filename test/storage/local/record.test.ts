import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import {
  checkFrame,
  decodeRecord,
  encodedRecordLength,
  encodeRecord,
  encodeRecordInto,
  type RecordFields,
  type StoredRecord,
} from '../../../src/storage/local/record';

function fields(overrides: Partial<RecordFields> = {}): RecordFields {
  return {
    key: 'k',
    tags: 't',
    properties: undefined,
    body: Buffer.from('hello'),
    timestamp: 1_700_000_000_123,
    ...overrides,
  };
}

function roundTrip(offset: bigint, input: RecordFields): StoredRecord {
  const encoded = encodeRecord(offset, input);
  const result = decodeRecord(encoded, 0);
  assert.equal(result.kind, 'record');
  if (result.kind !== 'record') throw new Error('unreachable');
  assert.equal(result.next, encoded.length);
  return result.record;
}

/** Rewrites the crc so that a deliberate change is seen for what it is, not as a crc mismatch. */
function resealCrc(encoded: Buffer): void {
  encoded.writeUInt32BE(crc32(encoded.subarray(8)), 4);
}

test('a record round-trips every field', () => {
  const properties = new Map([
    ['trace', 'abc-123'],
    ['unicode ключ', 'значение ✓'],
    ['', ''],
  ]);
  const timestamp = 1_712_345_678_901;
  const record = roundTrip(42n, fields({ key: 'order-7', tags: 'tagA||tagB', properties, timestamp }));
  assert.deepEqual(record, {
    offset: 42n,
    timestamp,
    key: 'order-7',
    tags: 'tagA||tagB',
    properties,
    body: Buffer.from('hello'),
  });
  assert.deepEqual([...record.properties.keys()], ['trace', 'unicode ключ', ''], 'property order is kept');
});

test('a 1 MiB body with every byte value comes back exactly', () => {
  const body = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + (i >> 8)) & 0xff;
  const seen = new Set(body);
  assert.equal(seen.size, 256, 'the body holds all 256 byte values');
  const record = roundTrip(0n, fields({ body }));
  assert.equal(record.body.length, body.length);
  assert.ok(record.body.equals(body));
});

test('an absent key or tags is told apart from an empty one', () => {
  const absent = roundTrip(1n, fields({ key: undefined, tags: undefined }));
  assert.equal('key' in absent, false);
  assert.equal('tags' in absent, false);
  const empty = roundTrip(2n, fields({ key: '', tags: '' }));
  assert.equal(empty.key, '');
  assert.equal(empty.tags, '');
});

test('no properties and an empty property map both decode to an empty map; an empty body stays empty', () => {
  assert.equal(roundTrip(0n, fields({ properties: undefined })).properties.size, 0);
  assert.equal(roundTrip(0n, fields({ properties: new Map() })).properties.size, 0);
  assert.equal(roundTrip(0n, fields({ body: Buffer.alloc(0) })).body.length, 0);
});

test('offsets and timestamps keep their full 64-bit range', () => {
  assert.equal(roundTrip(2n ** 63n - 1n, fields()).offset, 2n ** 63n - 1n);
  assert.equal(roundTrip(0n, fields({ timestamp: 0 })).timestamp, 0);
  assert.equal(roundTrip(0n, fields({ timestamp: 8_640_000_000_000_000 })).timestamp, 8_640_000_000_000_000);
});

test('encodedRecordLength is the encoded size, multi-byte characters included', () => {
  const properties = new Map([['é', '😀']]);
  const input = fields({ key: 'κλειδί', tags: '标签', properties, body: Buffer.alloc(300) });
  assert.equal(encodeRecord(0n, input).length, encodedRecordLength(input));
});

test('records encoded back to back decode one after the other', () => {
  const inputs = [fields({ key: 'a' }), fields({ key: undefined, body: Buffer.alloc(0) }), fields({ key: 'c' })];
  const buffer = Buffer.alloc(inputs.reduce((sum, input) => sum + encodedRecordLength(input), 0));
  let position = 0;
  inputs.forEach((input, i) => {
    position = encodeRecordInto(buffer, position, 10n + BigInt(i), input);
  });
  assert.equal(position, buffer.length);
  const decoded: StoredRecord[] = [];
  for (let at = 0; at < buffer.length; ) {
    const result = decodeRecord(buffer, at);
    if (result.kind !== 'record') throw new Error(`record at ${at}: ${result.kind}`);
    decoded.push(result.record);
    at = result.next;
  }
  assert.deepEqual(
    decoded.map((record) => [record.offset, record.key]),
    [
      [10n, 'a'],
      [11n, undefined],
      [12n, 'c'],
    ],
  );
});

test('every cut-short prefix of a record is incomplete, never corrupt', () => {
  const encoded = encodeRecord(5n, fields({ properties: new Map([['p', 'v']]) }));
  for (let length = 0; length < encoded.length; length++) {
    const result = decodeRecord(encoded.subarray(0, length), 0);
    assert.equal(result.kind, 'incomplete', `prefix of ${length} bytes`);
  }
  const limited = checkFrame(encoded, 0, encoded.length - 1);
  assert.deepEqual(limited, { kind: 'incomplete', needed: encoded.length });
});

test('a changed byte anywhere after the crc is a crc mismatch', () => {
  const encoded = encodeRecord(5n, fields());
  for (let at = 8; at < encoded.length; at++) {
    const damaged = Buffer.from(encoded);
    damaged[at] ^= 0x01;
    assert.deepEqual(decodeRecord(damaged, 0), { kind: 'corrupt', reason: 'crc mismatch' }, `byte ${at}`);
  }
});

test('a bad magic, an impossible length or fields that overrun the record are corrupt', () => {
  const badMagic = encodeRecord(5n, fields());
  badMagic[8] = 2;
  resealCrc(badMagic);
  assert.deepEqual(decodeRecord(badMagic, 0), { kind: 'corrupt', reason: 'bad magic 2' });

  const tooShort = encodeRecord(5n, fields());
  tooShort.writeUInt32BE(10, 0);
  const short = decodeRecord(tooShort, 0);
  assert.equal(short.kind, 'corrupt');
  assert.match((short as { reason: string }).reason, /impossible record length 10/);

  const overrun = encodeRecord(5n, fields({ key: 'abc' }));
  overrun.writeUInt32BE(1000, 26); // the key's length, now beyond the record
  resealCrc(overrun);
  const overrunResult = decodeRecord(overrun, 0);
  assert.equal(overrunResult.kind, 'corrupt');
  assert.match((overrunResult as { reason: string }).reason, /impossible field length/);

  const bodyShort = encodeRecord(5n, fields({ body: Buffer.from('12345') }));
  bodyShort.writeUInt32BE(4, bodyShort.length - 9); // the body's length, one short of its bytes
  resealCrc(bodyShort);
  assert.equal(decodeRecord(bodyShort, 0).kind, 'corrupt');
});
