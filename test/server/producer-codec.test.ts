import assert from 'node:assert/strict';
import { test } from 'node:test';
import thrift from 'thrift';
import { int64 } from '../../src/client/producer-client';
import { DelayMessage, Message } from '../../src/gen/producer_types';
import { ResultCode, RESULT_MESSAGES } from '../../src/protocol/result-codes';
import { CompactReader, MessageType, ThriftDecodeError } from '../../src/server/compact-protocol';
import {
  AppExceptionType,
  encodeApplicationException,
  encodeDelayResultReply,
  encodeResultReply,
  readBatchArgs,
  readCallHeader,
  readDelayArgs,
  readSendArgs,
} from '../../src/server/producer-codec';
import { callThroughStockClient, encodeWithStockClient, T, writeRawCall } from '../helpers/stock-thrift';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const I64_EDGES = [
  0n, 1n, -1n, 63n, 64n, -64n, -65n, 2n ** 48n, 2n ** 49n - 1n, 2n ** 49n, -(2n ** 49n), 2n ** 53n + 1n,
  2n ** 63n - 1n, -(2n ** 63n),
];

function fullMessage(hashId: bigint): Message {
  const m = new Message();
  m.topic = 'topic-é';
  m.key = 'key-1';
  m.value = 'legacy value';
  m.hashId = int64(hashId);
  m.tags = 'a||b';
  m.partitionId = -2;
  m.body = ALL_BYTES;
  m.version = 'java-3.0';
  m.properties = { traceId: 't-1', isPressureTraffic: 'false' };
  return m;
}

test('sendSync arguments written by the stock client decode field by field, i64 edges exact', () => {
  for (const hashId of I64_EDGES) {
    const frame = encodeWithStockClient((c) => c.sendSync(fullMessage(hashId), int64(-5n)));
    const reader = new CompactReader(frame);
    const header = readCallHeader(reader);
    assert.deepEqual({ ...header }, { name: 'sendSync', type: MessageType.CALL, seqid: 1 });
    const args = readSendArgs(reader);
    assert.equal(args.timeout, -5n);
    const m = args.message!;
    assert.equal(m.hashId, hashId, `hashId ${hashId}`);
    assert.equal(m.topic, 'topic-é');
    assert.equal(m.key, 'key-1');
    assert.deepEqual(m.value, Buffer.from('legacy value'));
    assert.equal(m.tags, 'a||b');
    assert.equal(m.partitionId, -2);
    assert.deepEqual(m.body, ALL_BYTES);
    assert.equal(m.version, 'java-3.0');
    assert.deepEqual(m.properties, new Map([['traceId', 't-1'], ['isPressureTraffic', 'false']]));
    assert.equal(reader.remaining(), 0);
  }
});

test('absent optional fields decode as undefined, partitionId keeps the IDL default -1', () => {
  const m = new Message();
  m.topic = 't';
  const frame = encodeWithStockClient((c) => c.sendAsync(m));
  const reader = new CompactReader(frame);
  assert.equal(readCallHeader(reader).name, 'sendAsync');
  const decoded = readSendArgs(reader).message!;
  assert.equal(decoded.topic, 't');
  assert.equal(decoded.partitionId, -1);
  assert.equal(decoded.body, undefined);
  assert.equal(decoded.key, undefined);
  assert.equal(decoded.properties, undefined);
  assert.equal(decoded.hashId, 0n);
});

test('sendBatchSync and sendDelaySync arguments decode', () => {
  const batchFrame = encodeWithStockClient((c) => c.sendBatchSync([fullMessage(1n), fullMessage(-2n), fullMessage(3n)]));
  const r1 = new CompactReader(batchFrame);
  assert.equal(readCallHeader(r1).name, 'sendBatchSync');
  assert.deepEqual(readBatchArgs(r1).messages!.map((m) => m.hashId), [1n, -2n, 3n]);

  const d = new DelayMessage();
  d.topic = 'delay';
  d.uniqDelayMsgId = 'id';
  d.body = ALL_BYTES;
  d.tags = 'tag';
  d.action = 1;
  d.timestamp = int64(1_700_000_000n);
  d.dmsgtype = 3;
  d.interval = int64(5n);
  d.expire = int64(1_700_000_100n);
  d.times = int64(4n);
  d.uuid = '14f22520-ad72-11e7-91be-6ee54da579e3';
  d.version = 'go-1';
  d.properties = { a: 'b' };
  const delayFrame = encodeWithStockClient((c) => c.sendDelaySync(d, int64(200n)));
  const r2 = new CompactReader(delayFrame);
  assert.equal(readCallHeader(r2).name, 'sendDelaySync');
  const args = readDelayArgs(r2);
  assert.equal(args.timeout, 200n);
  assert.deepEqual(
    { ...args.message!, body: args.message!.body!.toString('hex') },
    {
      topic: 'delay', uniqDelayMsgId: 'id', body: ALL_BYTES.toString('hex'), tags: 'tag', action: 1,
      timestamp: 1_700_000_000n, dmsgtype: 3, interval: 5n, expire: 1_700_000_100n, times: 4n,
      uuid: '14f22520-ad72-11e7-91be-6ee54da579e3', version: 'go-1', properties: new Map([['a', 'b']]),
      oversizeProperties: undefined,
    },
  );
});

test('properties past the count or byte bound are skipped, the message marked; what follows decodes', () => {
  // bytes as RocketMQ serializes them: name, value and two separators per entry
  const limits = { maxCount: 3, maxBytes: 20 };
  const withProperties = (topic: string, properties: Record<string, string>) => {
    const m = new Message();
    m.topic = topic;
    m.body = Buffer.from(topic);
    m.properties = properties;
    return m;
  };
  const atBounds = withProperties('at-bounds', { a: '1234', bb: '5678', c: 'é' }); // 7 + 8 + 5 = 20 bytes, 3 entries
  const tooMany = withProperties('too-many', { a: '1', b: '2', c: '3', d: '4' });
  const tooLarge = withProperties('too-large', { a: '1234', bb: '5678', cc: 'é' }); // 21 bytes
  const oneLargeValue = withProperties('large-value', { a: 'x'.repeat(100_000) });
  const after = withProperties('after', { k: 'v' });
  const frame = encodeWithStockClient((c) => c.sendBatchSync([atBounds, tooMany, tooLarge, oneLargeValue, after]));
  const reader = new CompactReader(frame);
  readCallHeader(reader);
  const messages = readBatchArgs(reader, limits).messages!;
  assert.equal(reader.remaining(), 0);
  assert.deepEqual(
    messages.map((m) => [m.topic, m.body!.toString(), m.properties, m.oversizeProperties]),
    [
      ['at-bounds', 'at-bounds', new Map([['a', '1234'], ['bb', '5678'], ['c', 'é']]), undefined],
      ['too-many', 'too-many', undefined, '4 properties, more than 3'],
      ['too-large', 'too-large', undefined, 'properties of more than 20 bytes'],
      ['large-value', 'large-value', undefined, 'properties of more than 20 bytes'],
      ['after', 'after', new Map([['k', 'v']]), undefined],
    ],
  );

  const single = new CompactReader(encodeWithStockClient((c) => c.sendSync(tooLarge, int64(-5n))));
  readCallHeader(single);
  const args = readSendArgs(single, limits);
  assert.equal(args.message!.oversizeProperties, 'properties of more than 20 bytes');
  assert.equal(args.timeout, -5n, 'the field after the message is read');

  const d = new DelayMessage();
  d.topic = 'delay';
  d.properties = { a: '1', b: '2', c: '3', d: '4' };
  d.uuid = 'u';
  const delay = new CompactReader(encodeWithStockClient((c) => c.sendDelaySync(d, int64(200n))));
  readCallHeader(delay);
  const delayArgs = readDelayArgs(delay, limits);
  assert.deepEqual([delayArgs.message!.properties, delayArgs.message!.oversizeProperties, delayArgs.message!.uuid, delayArgs.timeout], [undefined, '4 properties, more than 3', 'u', 200n]);
});

test('the default bounds are DDMQ\'s: 32767 bytes of properties string, and so 8191 entries', () => {
  const decode = (properties: Record<string, string>) => {
    const m = new Message();
    m.topic = 't';
    m.properties = properties;
    const reader = new CompactReader(encodeWithStockClient((c) => c.sendSync(m, int64(1n))));
    readCallHeader(reader);
    return readSendArgs(reader).message!;
  };
  const exactly = decode({ n: 'v'.repeat(32767 - 3) });
  assert.equal(exactly.oversizeProperties, undefined);
  assert.equal(exactly.properties!.get('n')!.length, 32764);
  assert.equal(decode({ n: 'v'.repeat(32767 - 2) }).oversizeProperties, 'properties of more than 32767 bytes');
  const entries = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [String.fromCharCode(0x4e00 + i), 'v']));
  // distinct names cannot be that short, so 8191 entries pass the count and meet the byte bound
  assert.equal(decode(entries(8191)).oversizeProperties, 'properties of more than 32767 bytes');
  assert.equal(decode(entries(8192)).oversizeProperties, '8192 properties, more than 8191');
});

test('unknown fields are skipped and a known field of the wrong type is ignored', () => {
  const frame = writeRawCall('sendSync', (p) => {
    p.writeFieldBegin('message', T.STRUCT, 1);
    p.writeStructBegin('Message');
    p.writeFieldBegin('topic', T.I32, 1); // wrong type: skipped, topic stays absent
    p.writeI32(42);
    p.writeFieldBegin('future', T.MAP, 40);
    p.writeMapBegin(T.STRING, T.LIST, 1);
    p.writeString('k');
    p.writeListBegin(T.BOOL, 2);
    p.writeBool(true);
    p.writeBool(false);
    p.writeListEnd();
    p.writeMapEnd();
    p.writeFieldEnd();
    p.writeFieldBegin('flag', T.BOOL, 41);
    p.writeBool(true);
    p.writeFieldEnd();
    p.writeFieldBegin('key', T.STRING, 2);
    p.writeString('still-read');
    p.writeFieldEnd();
    p.writeFieldStop();
    p.writeStructEnd();
    p.writeFieldEnd();
  }).subarray(4);
  const reader = new CompactReader(frame);
  readCallHeader(reader);
  const m = readSendArgs(reader).message!;
  assert.equal(m.topic, undefined);
  assert.equal(m.key, 'still-read');
});

/** The arguments of one call, written with the stock protocol and decoded by ours. */
function decodeRaw<A>(name: string, read: (r: CompactReader) => A, writeArgs: (p: thrift.TProtocol) => void): A {
  const reader = new CompactReader(writeRawCall(name, writeArgs).subarray(4));
  readCallHeader(reader);
  return read(reader);
}

/** A Message struct inside an args struct, as field 1. */
function messageArg(p: thrift.TProtocol, writeFields: () => void): void {
  p.writeFieldBegin('message', T.STRUCT, 1);
  p.writeStructBegin('Message');
  writeFields();
  p.writeFieldStop();
  p.writeStructEnd();
  p.writeFieldEnd();
}

test('a sendBatchSync list of anything but Message structs is a ThriftDecodeError; an empty one is an empty batch', () => {
  const batchOf = (elemType: number, write: (p: thrift.TProtocol) => void, size: number) => (p: thrift.TProtocol) => {
    p.writeFieldBegin('messages', T.LIST, 1);
    p.writeListBegin(elemType, size);
    for (let i = 0; i < size; i++) write(p);
    p.writeListEnd();
    p.writeFieldEnd();
  };
  const cases: [string, number, (p: thrift.TProtocol) => void][] = [
    ['i32', T.I32, (p) => p.writeI32(7)],
    ['string', T.STRING, (p) => p.writeString('m')],
    ['list', T.LIST, (p) => { p.writeListBegin(T.STRUCT, 0); p.writeListEnd(); }],
    ['map', T.MAP, (p) => { p.writeMapBegin(T.STRING, T.STRING, 0); p.writeMapEnd(); }],
  ];
  for (const [name, elemType, write] of cases) {
    assert.throws(() => decodeRaw('sendBatchSync', readBatchArgs, batchOf(elemType, write, 2)), (err: Error) => {
      assert.ok(err instanceof ThriftDecodeError, name);
      assert.equal(err.message, `sendBatchSync: messages is a list<${name}>, not a list<Message>`);
      return true;
    });
    assert.deepEqual(decodeRaw('sendBatchSync', readBatchArgs, batchOf(elemType, write, 0)).messages, [], `empty list of ${name}`);
  }
  // the list itself as another type is a field of the wrong type: skipped, no messages
  const asSet = decodeRaw('sendBatchSync', readBatchArgs, (p) => {
    p.writeFieldBegin('messages', T.SET, 1);
    p.writeSetBegin(T.I32, 1);
    p.writeI32(1);
    p.writeSetEnd();
    p.writeFieldEnd();
  });
  assert.equal(asSet.messages, undefined);
});

test('properties that are not map<string,string> are a ThriftDecodeError, in Message and in DelayMessage', () => {
  const shapes: [string, number, number, (p: thrift.TProtocol) => void][] = [
    ['i32 -> string', T.I32, T.STRING, (p) => { p.writeI32(1); p.writeString('v'); }],
    ['string -> i32', T.STRING, T.I32, (p) => { p.writeString('k'); p.writeI32(1); }],
    ['string -> list', T.STRING, T.LIST, (p) => { p.writeString('k'); p.writeListBegin(T.STRING, 0); p.writeListEnd(); }],
    ['bool -> string', T.BOOL, T.STRING, (p) => { p.writeBool(true); p.writeString('v'); }],
  ];
  for (const [name, keyType, valueType, writeEntry] of shapes) {
    const properties = (id: number) => (p: thrift.TProtocol) => {
      p.writeFieldBegin('properties', T.MAP, id);
      p.writeMapBegin(keyType, valueType, 1);
      writeEntry(p);
      p.writeMapEnd();
      p.writeFieldEnd();
    };
    assert.throws(() => decodeRaw('sendSync', readSendArgs, (p) => messageArg(p, () => properties(9)(p))), { name: 'ThriftDecodeError', message: /^Message\.properties is a map<\w+, \w+>, not a map<string, string>$/ }, `Message ${name}`);
    assert.throws(() => decodeRaw('sendDelaySync', readDelayArgs, (p) => messageArg(p, () => properties(14)(p))), { name: 'ThriftDecodeError', message: /^DelayMessage\.properties is a map<\w+, \w+>, not a map<string, string>$/ }, `DelayMessage ${name}`);
  }
  const empty = decodeRaw('sendSync', readSendArgs, (p) => messageArg(p, () => {
    p.writeFieldBegin('properties', T.MAP, 9);
    p.writeMapBegin(T.I32, T.I32, 0);
    p.writeMapEnd();
    p.writeFieldEnd();
  }));
  assert.deepEqual(empty.message!.properties, new Map());
});

test('each Message field of the wrong type is skipped and keeps its default; the fields after it are read', () => {
  const m = decodeRaw('sendSync', readSendArgs, (p) => messageArg(p, () => {
    const wrong: [string, number, number, () => void][] = [
      ['topic', 1, T.I64, () => p.writeI64(1)],
      ['value', 3, T.I32, () => p.writeI32(1)],
      ['hashId', 4, T.STRING, () => p.writeString('12')],
      ['tags', 5, T.BOOL, () => p.writeBool(true)],
      ['partitionId', 6, T.STRING, () => p.writeString('3')],
      ['body', 7, T.LIST, () => { p.writeListBegin(T.BYTE, 1); p.writeByte(1); p.writeListEnd(); }],
      ['version', 8, T.DOUBLE, () => p.writeDouble(1.5)],
      ['properties', 9, T.LIST, () => { p.writeListBegin(T.STRING, 1); p.writeString('k'); p.writeListEnd(); }],
    ];
    for (const [name, id, type, write] of wrong) {
      p.writeFieldBegin(name, type, id);
      write();
      p.writeFieldEnd();
    }
    p.writeFieldBegin('key', T.STRING, 2);
    p.writeString('read');
    p.writeFieldEnd();
  })).message!;
  assert.deepEqual(
    { topic: m.topic, key: m.key, value: m.value, hashId: m.hashId, tags: m.tags, partitionId: m.partitionId, body: m.body, version: m.version, properties: m.properties },
    { topic: undefined, key: 'read', value: undefined, hashId: 0n, tags: undefined, partitionId: -1, body: undefined, version: undefined, properties: undefined },
  );
});

test('malformed input is a ThriftDecodeError, never a crash or a huge allocation', () => {
  const good = encodeWithStockClient((c) => c.sendSync(fullMessage(7n), int64(100n)));
  for (let cut = 1; cut < good.length; cut += 7) {
    const reader = new CompactReader(good.subarray(0, cut));
    assert.throws(() => {
      readCallHeader(reader);
      readSendArgs(reader);
    }, ThriftDecodeError);
  }
  const hugeList = writeRawCall('sendBatchSync', (p) => {
    p.writeFieldBegin('messages', T.LIST, 1);
    p.writeListBegin(T.STRUCT, 2 ** 30);
  }).subarray(4);
  const r = new CompactReader(hugeList);
  readCallHeader(r);
  assert.throws(() => readBatchArgs(r), /exceeds the frame/);

  const deep = writeRawCall('sendSync', (p) => {
    for (let i = 0; i < 100; i++) {
      p.writeFieldBegin('nested', T.STRUCT, 30);
      p.writeStructBegin('S');
    }
  }).subarray(4);
  const rd = new CompactReader(deep);
  readCallHeader(rd);
  assert.throws(() => readSendArgs(rd), /nesting too deep/);

  assert.throws(() => readCallHeader(new CompactReader(Buffer.from('GET / HTTP/1.1'))), /not a compact-protocol message/);
});

test('every Result reply decodes in the stock client with the exact code and message, key unset', async () => {
  for (const code of Object.values(ResultCode)) {
    const result = await callThroughStockClient(
      (c) => c.sendSync(fullMessage(1n), int64(10n)),
      (frame) => encodeResultReply('sendSync', readCallHeader(new CompactReader(frame)).seqid, code),
    );
    assert.equal(result.code, code);
    assert.equal(result.msg, RESULT_MESSAGES[code]);
    assert.equal(result.key ?? undefined, undefined);
  }
});

test('DelayResult and TApplicationException replies decode in the stock client', async () => {
  const delay = await callThroughStockClient(
    (c) => c.sendDelaySync(new DelayMessage(), int64(10n)),
    (frame) => encodeDelayResultReply('sendDelaySync', readCallHeader(new CompactReader(frame)).seqid, 0, 'the-id'),
  );
  assert.deepEqual([delay.code, delay.msg, delay.uniqDelayMsgId], [0, 'OK', 'the-id']);

  await assert.rejects(
    callThroughStockClient(
      (c) => c.sendAsync(new Message()),
      (frame) =>
        encodeApplicationException(
          'sendAsync',
          readCallHeader(new CompactReader(frame)).seqid,
          AppExceptionType.UNKNOWN_METHOD,
          "Invalid method name: 'sendAsync'",
        ),
    ),
    (err: unknown) => {
      assert.ok(err instanceof thrift.Thrift.TApplicationException);
      assert.equal((err as unknown as { type: number }).type, AppExceptionType.UNKNOWN_METHOD);
      assert.equal((err as Error).message, "Invalid method name: 'sendAsync'");
      return true;
    },
  );
});

test('Result replies carry every seqid exactly, from one varint byte to five, and the same Result', () => {
  /** The frame's message header as the stock library reads it, and the bytes after it. */
  const split = (frame: Buffer) => {
    assert.equal(frame.readUInt32BE(0), frame.length - 4, 'frame length');
    const transport = new thrift.TFramedTransport(frame.subarray(4));
    const header = new thrift.TCompactProtocol(transport).readMessageBegin();
    const readPos = (transport as unknown as { readPos: number }).readPos;
    return { header: [header.fname, header.mtype, header.rseqid | 0], rest: frame.subarray(4 + readPos) };
  };
  const seqids = [0, 1, 127, 128, 16_383, 16_384, 2_097_152, 2 ** 31 - 1, -1, -(2 ** 31)];
  for (const code of [ResultCode.OK, ResultCode.FAIL_TIMEOUT]) {
    // the Result of seqid 1 is the one the stock client decodes exactly (test above)
    const checked = split(encodeResultReply('sendAsync', 1, code)).rest;
    for (const seqid of seqids) {
      const { header, rest } = split(encodeResultReply('sendAsync', seqid, code));
      assert.deepEqual(header, ['sendAsync', thrift.Thrift.MessageType.REPLY, seqid], `seqid ${seqid}`);
      assert.deepEqual(rest, checked, `Result after seqid ${seqid}`);
    }
  }
});
