/**
 * The 4.x message codec: the properties string, reserved and separator-holding names refused,
 * bodies compressed from the threshold on (zlib, sysFlag bit 0), the batch body's byte layout read
 * back field by field, and message ids as MessageClientIDSetter lays them out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import zlib from 'node:zlib';
import {
  compressBody,
  COMPRESS_OVER_BYTES,
  decodeProperties,
  encodeBatchBody,
  encodeProperties,
  messageProperties,
  SYSFLAG_COMPRESSED,
  UniqIdGenerator,
} from '../../../src/storage/rocketmq4/remoting/message-codec';

test('properties: name \\u0001 value joined by \\u0002, no trailing separator, and back', () => {
  const properties = { TAGS: 'tag-a', KEYS: 'k1 k2', 'user.x': 'v=1, w', empty: '', 'ü': '字' };
  const text = encodeProperties(properties);
  assert.equal(text, 'TAGS\u0001tag-a\u0002KEYS\u0001k1 k2\u0002user.x\u0001v=1, w\u0002empty\u0001\u0002ü\u0001字');
  assert.deepEqual(decodeProperties(text), properties);
  assert.equal(encodeProperties({}), '');
  assert.deepEqual(decodeProperties(''), {});
});

test('messageProperties: TAGS, KEYS space-joined, WAIT=true, the user\'s, UNIQ_KEY last', () => {
  const p = messageProperties({ body: Buffer.alloc(0), tags: 't', keys: ['a', 'b'], properties: { x: '1' } }, 'ID');
  assert.deepEqual(Object.entries(p), [['TAGS', 't'], ['KEYS', 'a b'], ['WAIT', 'true'], ['x', '1'], ['UNIQ_KEY', 'ID']]);
  assert.deepEqual(Object.entries(messageProperties({ body: Buffer.alloc(0), keys: [] }, 'ID')), [['WAIT', 'true'], ['UNIQ_KEY', 'ID']]);
});

test('messageProperties refuses reserved names, an empty name and separator characters', () => {
  for (const name of ['TAGS', 'KEYS', 'WAIT', 'UNIQ_KEY']) {
    assert.throws(() => messageProperties({ body: Buffer.alloc(0), properties: { [name]: 'v' } }, 'ID'), new RegExp(`${name} is reserved`));
  }
  for (const properties of [{ '': 'v' }, { 'a\u0001': 'v' }, { a: 'v\u0002' }, { a: '\u0001' }] as Record<string, string>[]) {
    assert.throws(() => messageProperties({ body: Buffer.alloc(0), properties }, 'ID'), /empty or holds a separator/);
  }
});

test('compressBody: below the threshold as is, from it on zlib with sysFlag 1, inflating to the body', async () => {
  const below = Buffer.alloc(COMPRESS_OVER_BYTES - 1, 'a');
  const plain = await compressBody(below);
  assert.equal(plain.body, below);
  assert.equal(plain.sysFlag, 0);
  for (const size of [COMPRESS_OVER_BYTES, 100_000]) {
    const body = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) % 251));
    const wire = await compressBody(body);
    assert.equal(wire.sysFlag, SYSFLAG_COMPRESSED);
    assert.ok(wire.body.length < body.length, `${size}: ${wire.body.length}`);
    // zlib (RFC 1950) as java.util.zip.Inflater reads it, not raw deflate or gzip
    assert.equal(wire.body[0], 0x78);
    assert.deepEqual(zlib.inflateSync(wire.body), body);
  }
  const small = await compressBody(Buffer.from('abcdefgh'), 8);
  assert.equal(small.sysFlag, SYSFLAG_COMPRESSED);
  assert.equal(zlib.inflateSync(small.body).toString(), 'abcdefgh');
  assert.equal((await compressBody(Buffer.from('abcdefg'), 8)).sysFlag, 0);
});

/** MessageDecoder.decodeMessages' reading of a batch body. */
function decodeBatch(buf: Buffer): { size: number; magic: number; crc: number; flag: number; body: Buffer; properties: string }[] {
  const out = [];
  let at = 0;
  while (at < buf.length) {
    const start = at;
    const size = buf.readInt32BE(at);
    const magic = buf.readInt32BE(at + 4);
    const crc = buf.readInt32BE(at + 8);
    const flag = buf.readInt32BE(at + 12);
    const bodyLength = buf.readInt32BE(at + 16);
    at += 20;
    const body = buf.subarray(at, at + bodyLength);
    at += bodyLength;
    const propertiesLength = buf.readInt16BE(at);
    at += 2;
    const properties = buf.toString('utf8', at, at + propertiesLength);
    at += propertiesLength;
    assert.equal(at - start, size, 'total size field');
    out.push({ size, magic, crc, flag, body: Buffer.from(body), properties });
  }
  return out;
}

test('encodeBatchBody: per message size, magic 0, CRC 0, flag, body and int16 properties, back to back', () => {
  const messages = [
    { flag: 0, body: Buffer.from('one'), properties: 'WAIT\u0001true' },
    { flag: -5, body: Buffer.alloc(0), properties: '' },
    { flag: 0x7fffffff, body: Buffer.from([0, 255, 1]), properties: 'ü\u0001字' },
  ];
  const buf = encodeBatchBody(messages);
  assert.equal(buf.length, 20 + 3 + 2 + 9 + (20 + 2) + (20 + 3 + 2 + Buffer.byteLength('ü\u0001字')));
  assert.deepEqual(
    decodeBatch(buf).map(({ magic, crc, flag, body, properties }) => ({ magic, crc, flag, body, properties })),
    messages.map((m) => ({ magic: 0, crc: 0, ...m })),
  );
  assert.equal(buf.readInt32BE(0), 20 + 3 + 2 + 9);
});

test('encodeBatchBody: properties up to 32767 bytes pass, one more is refused', () => {
  const max = 'p'.repeat(0x7fff);
  assert.equal(decodeBatch(encodeBatchBody([{ flag: 0, body: Buffer.alloc(1), properties: max }]))[0]!.properties, max);
  assert.throws(() => encodeBatchBody([{ flag: 0, body: Buffer.alloc(1), properties: `${max}p` }]), /32768 bytes exceed 32767/);
  // counted in UTF-8 bytes, not characters
  assert.throws(() => encodeBatchBody([{ flag: 0, body: Buffer.alloc(1), properties: 'é'.repeat(0x4000) }]), /32768 bytes exceed/);
});

test('UniqIdGenerator: 32 upper-case hex digits of ip, pid, salt, ms since the month start and a counter', () => {
  const ids = new UniqIdGenerator(Buffer.from([10, 1, 2, 3]), 0x12345, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  const monthStart = new Date(2026, 11, 1).getTime();
  const id = ids.next(monthStart + 123_456);
  assert.match(id, /^[0-9A-F]{32}$/);
  assert.equal(id.slice(0, 8), '0A010203');
  assert.equal(id.slice(8, 12), '2345', 'pid, its low 16 bits');
  assert.equal(id.slice(12, 20), 'DEADBEEF');
  assert.equal(id.slice(20, 28), (123_456).toString(16).toUpperCase().padStart(8, '0'));
  assert.equal(id.slice(28), '0000');
  assert.equal(ids.next(monthStart + 123_456).slice(28), '0001');
});

test('UniqIdGenerator: the counter wraps at 16 bits; the offset restarts at a new month', () => {
  const ids = new UniqIdGenerator(Buffer.from([127, 0, 0, 1]), 1, Buffer.alloc(4));
  const december = new Date(2026, 11, 1).getTime();
  const seen = new Set<string>();
  for (let i = 0; i < 0x10000; i++) seen.add(ids.next(december + 5).slice(28));
  assert.equal(seen.size, 0x10000);
  assert.equal(ids.next(december + 5).slice(28), '0000');
  const lastMs = new Date(2027, 0, 1).getTime() - 1;
  assert.equal(parseInt(ids.next(lastMs).slice(20, 28), 16), lastMs - december);
  const january = new Date(2027, 0, 1).getTime();
  assert.equal(ids.next(january + 42).slice(20, 28), '0000002A');
  // a clock set back across the boundary: the offset stays at 0 rather than going negative
  assert.equal(ids.next(december + 7).slice(20, 28), '00000000');
});

test('UniqIdGenerator defaults: a local IPv4 address and the process id', () => {
  const id = new UniqIdGenerator().next();
  assert.match(id, /^[0-9A-F]{32}$/);
  assert.equal(parseInt(id.slice(8, 12), 16), process.pid & 0xffff);
});
