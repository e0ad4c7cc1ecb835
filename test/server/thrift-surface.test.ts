/**
 * The ProducerService surface over real TCP: the stock Node Thrift client (framed + compact, as every
 * DDMQ SDK) against a running proxy on local storage.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import thrift from 'thrift';
import YAML from 'yaml';
import { int64, type MessageSpec } from '../../src/client/producer-client';
import { Message } from '../../src/gen/producer_types';
import { ResultCode, RESULT_MESSAGES } from '../../src/protocol/result-codes';
import { encodeWithStockClient, T, writeRawCall } from '../helpers/stock-thrift';
import { startProxy } from '../helpers/proxy';
import { lengthPrefix, rawExchange, rawExchangeThenShutdown } from '../helpers/raw-socket';
import { storedMessages } from '../helpers/storage';
import { eventually } from '../helpers/wait';

const ok = { code: 0, msg: 'OK' };
const illegal = { code: 11, msg: RESULT_MESSAGES[11] };
const result = (code: ResultCode) => ({ code, msg: RESULT_MESSAGES[code] });
const plain = (r: { code: number; msg: string }) => ({ code: r.code, msg: r.msg });

test('every validation rule answers 11, and nothing of an illegal message is stored', async (t) => {
  const proxy = await startProxy(t);
  const client = await proxy.client();
  const base: MessageSpec = { topic: 'test', body: 'x' };
  const cases: [string, MessageSpec][] = [
    ['key of 256 characters', { ...base, key: 'k'.repeat(256) }],
    ['tags of 256 characters', { ...base, tags: 't'.repeat(256) }],
    ['reserved property name', { ...base, properties: { KEYS: 'v' } }],
    ['another reserved name', { ...base, properties: { UNIQ_KEY: 'v' } }],
    ['blank property name', { ...base, properties: { ' ': 'v' } }],
    ['blank property value', { ...base, properties: { p: '  ' } }],
    ['empty property value', { ...base, properties: { p: '' } }],
    ['delay inner topic', { topic: 'R_test_chronos_inner_0', body: 'x' }],
    ['empty body', { topic: 'test', body: Buffer.alloc(0) }],
    ['no body and no value', { topic: 'test' }],
    ['body above 2 MiB', { topic: 'test', body: Buffer.alloc(2 * 1024 * 1024 + 1, 1) }],
  ];
  for (const [name, spec] of cases) {
    assert.deepEqual(plain(await client.sendSync(spec)), illegal, `sendSync: ${name}`);
    assert.deepEqual(plain(await client.sendAsync(spec)), illegal, `sendAsync: ${name}`);
  }
  // The boundaries themselves are legal.
  assert.deepEqual(plain(await client.sendSync({ ...base, key: 'k'.repeat(255), tags: 't'.repeat(255) })), ok);
  assert.deepEqual(plain(await client.sendSync({ topic: 'test', body: Buffer.alloc(2 * 1024 * 1024, 2) })), ok);
  // A message without a topic (the original throws a NullPointerException) is illegal too.
  const noTopic = new Message();
  noTopic.body = Buffer.from('x');
  const raw = await rawExchange(proxy.port, frameOf(encodeWithStockClient((c) => c.sendSync(noTopic, int64(100n)))));
  assert.equal(decodeResultCode(raw.data), 11);

  const stored = await storedMessages(proxy.dataDir, 'test');
  assert.equal(stored.length, 2, 'only the two legal messages are stored');
});

test('topic, heartbeat, delay-guard, batch, delay and no-producer codes', async (t) => {
  const proxy = await startProxy(t, {
    topics: [
      { topic: 'test', clusters: ['L_local'] },
      { topic: 'delayed', delayTopic: true, clusters: ['L_local'] },
      { topic: 'on_kafka', clusters: ['K_off'] },
    ],
    kafkaClusters: { K_off: { bootstrapServers: ['127.0.0.1:1'] } },
  });
  const client = await proxy.client();
  assert.deepEqual(plain(await client.sendSync({ topic: 'test', body: 'hello' })), ok);
  assert.deepEqual(plain(await client.sendAsync({ topic: 'test', body: 'hello' })), ok);
  assert.deepEqual(plain(await client.sendSync({ topic: 'unknown', body: 'x' })), result(13));
  assert.deepEqual(plain(await client.sendAsync({ topic: 'unknown', body: 'x' })), result(13));
  // The heartbeat needs no body and no served topic, and is stored nowhere.
  assert.deepEqual(plain(await client.sendSync({ topic: 'carrera_heartbeat' })), ok);
  assert.deepEqual(plain(await client.sendSync({ topic: 'delayed', body: 'x' })), result(19));
  assert.deepEqual(plain(await client.sendSync({ topic: 'delayed', body: 'x', properties: { from_chronos: 'from_chronos' } })), ok);
  assert.deepEqual(plain(await client.sendSync({ topic: 'on_kafka', body: 'x' })), result(21));

  assert.deepEqual(plain(await client.sendBatchSync([])), ok);
  const before = (await storedMessages(proxy.dataDir, 'test')).length;
  const batch: MessageSpec[] = Array.from({ length: 5 }, (_, i) => ({ topic: 'test', body: `b${i}`, partitionId: i % 4 }));
  assert.deepEqual(plain(await client.sendBatchSync(batch)), ok);
  assert.deepEqual(
    plain(await client.sendBatchSync([...batch, { topic: 'test', body: 'y', properties: { TAGS: 'no' } }])),
    illegal,
  );
  assert.deepEqual(plain(await client.sendBatchSync([...batch, { topic: 'unknown', body: 'y' }])), result(13));
  assert.equal((await storedMessages(proxy.dataDir, 'test')).length, before + 5, 'failed batches store nothing');

  const delayUnknown = await client.sendDelaySync({ topic: 'unknown', action: 1, body: 'x' });
  assert.deepEqual([delayUnknown.code, delayUnknown.msg, delayUnknown.uniqDelayMsgId], [13, RESULT_MESSAGES[13], '']);
  const delayServed = await client.sendDelaySync({ topic: 'test', action: 1, body: 'x' });
  assert.deepEqual([delayServed.code, delayServed.msg], [18, RESULT_MESSAGES[18]]);
});

test('bodies, keys, tags, properties and the legacy value field are stored exactly', async (t) => {
  const proxy = await startProxy(t);
  const client = await proxy.client();
  const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
  assert.equal((await client.sendSync({ topic: 'test', body: binary, key: 'k1', tags: 'a||b', properties: { traceId: 't', 'x-é': 'ü' }, partitionId: 1 })).code, 0);
  assert.equal((await client.sendSync({ topic: 'test', value: 'legacy ✓', partitionId: 2 })).code, 0);
  assert.equal((await client.sendSync({ topic: 'test', value: 'ignored', body: 'wins', partitionId: 3 })).code, 0);
  const stored = await storedMessages(proxy.dataDir, 'test');
  const byPartition = new Map(stored.map((m) => [m.partition, m]));
  const first = byPartition.get(1)!;
  assert.deepEqual(first.body, binary);
  assert.equal(first.key, 'k1');
  assert.equal(first.tags, 'a||b');
  assert.deepEqual(first.properties, new Map([['traceId', 't'], ['x-é', 'ü']]));
  assert.deepEqual(byPartition.get(2)!.body, Buffer.from('legacy ✓', 'utf8'));
  assert.equal(byPartition.get(2)!.key, undefined);
  assert.deepEqual(byPartition.get(3)!.body, Buffer.from('wins'));
});

test('unknown methods get UNKNOWN_METHOD; undecodable arguments get PROTOCOL_ERROR and the connection lives on', async (t) => {
  const proxy = await startProxy(t);
  const unknown = await rawExchange(proxy.port, writeRawCall('sendNotifySync', () => undefined), 500);
  const unknownReply = decodeException(unknown.data);
  assert.deepEqual(unknownReply, { name: 'sendNotifySync', type: 1, message: "Invalid method name: 'sendNotifySync'" });

  const broken = writeRawCall('sendSync', (p) => {
    p.writeFieldBegin('message', T.STRUCT, 1);
    p.writeStructBegin('Message');
    p.writeFieldBegin('topic', T.STRING, 1);
  });
  // Cut inside the topic string's length, so the arguments end early, but keep a valid frame.
  const body = broken.subarray(4, broken.length - 2);
  const heartbeat = encodeWithStockClient((c) => c.sendSync(Object.assign(new Message(), { topic: 'carrera_heartbeat' }), int64(50n)));
  const exchange = await rawExchange(proxy.port, Buffer.concat([frameOf(body), frameOf(heartbeat)]), 500);
  const [first, second] = splitFrames(exchange.data);
  assert.equal(decodeException(first!).type, 7);
  assert.equal(decodeResultCode(second!), 0, 'the next request on the same connection is answered');
  assert.equal(exchange.closedByServer, false);
});

test('an absurdly long method name is echoed cut to 256 characters, so the reply stays small', async (t) => {
  const proxy = await startProxy(t);
  const name = 'x'.repeat(100_000);
  const exchange = await rawExchange(proxy.port, writeRawCall(name, () => undefined), 400);
  assert.ok(exchange.data.length < 1024, `a ${exchange.data.length}-byte reply to a 100,000-character name`);
  const cut = `${'x'.repeat(256)}...`;
  assert.deepEqual(decodeException(exchange.data), { name: cut, type: 1, message: `Invalid method name: '${cut}'` });
  const atBound = 'y'.repeat(256);
  const exact = await rawExchange(proxy.port, writeRawCall(atBound, () => undefined), 400);
  assert.deepEqual(decodeException(exact.data), { name: atBound, type: 1, message: `Invalid method name: '${atBound}'` });
});

test('a client that shuts down its sending side after 50 calls gets all 50 answers, then the proxy closes', async (t) => {
  const proxy = await startProxy(t);
  const calls = Array.from({ length: 50 }, (_, i) =>
    frameOf(encodeWithStockClient((c) => c.sendSync(Object.assign(new Message(), { topic: 'test', body: Buffer.from(`half-${i}`), partitionId: i % 4 }), int64(5000n)))),
  );
  const exchange = await rawExchangeThenShutdown(proxy.port, Buffer.concat(calls), 10_000);
  assert.equal(exchange.closedByServer, true);
  assert.deepEqual(splitFrames(exchange.data).map(decodeResultCode), calls.map(() => 0));
  const stored = await storedMessages(proxy.dataDir, 'test');
  assert.equal(stored.length, 50);
});

test('a batch of i32s or properties of the wrong types get PROTOCOL_ERROR, store nothing, and the connection lives on', async (t) => {
  const proxy = await startProxy(t);
  const batchOfI32 = writeRawCall('sendBatchSync', (p) => {
    p.writeFieldBegin('messages', T.LIST, 1);
    p.writeListBegin(T.I32, 3);
    for (const n of [1, 2, 3]) p.writeI32(n);
    p.writeListEnd();
    p.writeFieldEnd();
  });
  const intProperties = writeRawCall('sendSync', (p) => {
    p.writeFieldBegin('message', T.STRUCT, 1);
    p.writeStructBegin('Message');
    p.writeFieldBegin('topic', T.STRING, 1);
    p.writeString('test');
    p.writeFieldEnd();
    p.writeFieldBegin('body', T.STRING, 7);
    p.writeString('x');
    p.writeFieldEnd();
    p.writeFieldBegin('properties', T.MAP, 9);
    p.writeMapBegin(T.STRING, T.I32, 1);
    p.writeString('traceId');
    p.writeI32(5);
    p.writeMapEnd();
    p.writeFieldEnd();
    p.writeFieldStop();
    p.writeStructEnd();
    p.writeFieldEnd();
  });
  const heartbeat = encodeWithStockClient((c) => c.sendSync(Object.assign(new Message(), { topic: 'carrera_heartbeat' }), int64(50n)));
  const exchange = await rawExchange(proxy.port, Buffer.concat([batchOfI32, intProperties, frameOf(heartbeat)]), 500);
  const [batchReply, sendReply, heartbeatReply] = splitFrames(exchange.data);
  assert.deepEqual(decodeException(batchReply!), { name: 'sendBatchSync', type: 7, message: 'sendBatchSync: messages is a list<i32>, not a list<Message>' });
  assert.deepEqual(decodeException(sendReply!), { name: 'sendSync', type: 7, message: 'Message.properties is a map<string, i32>, not a map<string, string>' });
  assert.equal(decodeResultCode(heartbeatReply!), 0, 'the next request on the same connection is answered');
  assert.equal(exchange.closedByServer, false);
  assert.deepEqual(await storedMessages(proxy.dataDir, 'test'), []);
});

test('an oversized frame or garbage closes only that connection, before the frame is buffered', async (t) => {
  const proxy = await startProxy(t, { thriftServer: { maxReadBufferBytes: 65536 } });
  const client = await proxy.client();
  const started = Date.now();
  // Only the length prefix of a 64 KiB + 1 frame is sent: the server must not wait for its body.
  const oversized = await rawExchange(proxy.port, lengthPrefix(65537), 5000);
  assert.equal(oversized.closedByServer, true);
  assert.ok(Date.now() - started < 2000, 'closed on the length prefix alone');

  for (const garbage of [
    Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    Buffer.concat([lengthPrefix(12), Buffer.from('not thrift!!')]),
    lengthPrefix(0),
    Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
  ]) {
    const r = await rawExchange(proxy.port, garbage, 5000);
    assert.equal(r.closedByServer, true, `closed on ${garbage.toString('hex').slice(0, 16)}`);
    assert.equal(r.data.length, 0);
  }
  // A frame right at the limit is read (its body is too large for a message: 11).
  const atLimit = encodeWithStockClient((c) =>
    c.sendSync(Object.assign(new Message(), { topic: 'test', body: Buffer.alloc(65536 - 40, 3) }), int64(100n)),
  );
  assert.ok(atLimit.length <= 65536);
  assert.equal(decodeResultCode((await rawExchange(proxy.port, frameOf(atLimit), 1000)).data), 0);
  assert.deepEqual(plain(await client.sendSync({ topic: 'test', body: 'still here' })), ok);
});

test('a client that disconnects mid-request disturbs nothing; a complete request is still stored', async (t) => {
  const proxy = await startProxy(t);
  const full = frameOf(
    encodeWithStockClient((c) => c.sendSync(Object.assign(new Message(), { topic: 'test', body: Buffer.from('sent-then-gone'), partitionId: 0 }), int64(100n))),
  );
  await writeAndVanish(proxy.port, full.subarray(0, full.length - 5));
  await writeAndVanish(proxy.port, full);
  const client = await proxy.client();
  assert.deepEqual(plain(await client.sendSync({ topic: 'test', body: 'after', partitionId: 1 })), ok);
  // The vanished client's request is on another partition: wait until it lands, then check that
  // the partial frame added nothing.
  const bodies = await eventually(async () => {
    const all = (await storedMessages(proxy.dataDir, 'test')).map((m) => m.body.toString());
    return all.length >= 2 ? all : undefined;
  });
  assert.deepEqual(bodies.sort(), ['after', 'sent-then-gone']);
});

test('frames cut anywhere, inside the length prefix too, or packed several to a packet, are all read', async (t) => {
  const proxy = await startProxy(t);
  const bodies = Array.from({ length: 8 }, (_, i) => `piece-${i}-${'x'.repeat(i * 40)}`);
  const stream = Buffer.concat(
    bodies.map((body, i) =>
      frameOf(encodeWithStockClient((c) => c.sendSync(Object.assign(new Message(), { topic: 'test', body: Buffer.from(body), partitionId: i % 4 }), int64(5000n)))),
    ),
  );
  const socket = net.connect(proxy.port, '127.0.0.1');
  t.after(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = Buffer.alloc(0);
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (splitFrames(received).length === bodies.length) resolve();
    });
    socket.on('close', resolve);
  });
  // pieces of 1, 2, 3, 5 ... bytes, each its own packet (Nagle off, a pause between writes), then
  // the rest of the stream in one write
  socket.setNoDelay(true);
  let pos = 0;
  for (const size of [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144]) {
    await new Promise((resolve) => socket.write(stream.subarray(pos, pos + size), resolve));
    await new Promise((resolve) => setTimeout(resolve, 2));
    pos += size;
  }
  socket.write(stream.subarray(pos));
  await answered;
  assert.deepEqual(splitFrames(received).map(decodeResultCode), bodies.map(() => 0));
  const stored = await eventually(async () => {
    const all = await storedMessages(proxy.dataDir, 'test');
    return all.length === bodies.length ? all : undefined;
  });
  assert.deepEqual(stored.map((m) => m.body.toString()).sort(), [...bodies].sort());
});

test('1,000 concurrent requests over 20 connections are all answered and stored', async (t) => {
  const proxy = await startProxy(t);
  const clients = await Promise.all(Array.from({ length: 20 }, () => proxy.client()));
  const calls = Array.from({ length: 1000 }, (_, i) => {
    const c = clients[i % clients.length]!;
    const spec: MessageSpec = { topic: 'test', body: `m-${i}`, hashId: BigInt(i) };
    return i % 3 === 0 ? c.sendAsync(spec) : c.sendSync(spec, 5000);
  });
  const results = await Promise.all(calls);
  assert.equal(results.filter((r) => r.code === 0).length, 1000);
  const stored = await storedMessages(proxy.dataDir, 'test');
  assert.equal(stored.length, 1000);
  assert.equal(new Set(stored.map((m) => m.body.toString())).size, 1000);
  // hashId routing: i lands on partition i mod 4
  for (const m of stored) assert.equal(Number(m.body.toString().slice(2)) % 4, m.partition);
});

// -------------------------------------------------------------------------------------------------

function frameOf(body: Buffer): Buffer {
  return Buffer.concat([lengthPrefix(body.length), body]);
}

function splitFrames(data: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let pos = 0; pos + 4 <= data.length; ) {
    const len = data.readUInt32BE(pos);
    frames.push(data.subarray(pos, pos + 4 + len));
    pos += 4 + len;
  }
  return frames;
}

/** Resolves with how long the server took to close this idle connection, or never. */
function closedAfter(port: number): Promise<number> {
  return new Promise((resolve) => {
    const began = Date.now();
    const s = net.connect(port, '127.0.0.1');
    s.on('close', () => resolve(Date.now() - began));
    s.on('error', () => undefined);
  });
}

test('clientTimeout closes idle connections, and a new value applies to open ones on reload', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(t, { thriftServer: { clientTimeout: 300 } });
  const idle = await closedAfter(proxy.port);
  assert.ok(idle >= 250 && idle < 2000, `an idle connection closed after ${idle} ms`);
  const client = await proxy.client();
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await client.sendSync({ topic: 'test', body: `busy-${i}` })).code, 0, 'a connection in use stays open');
  }

  const config = YAML.parse(fs.readFileSync(proxy.configFile, 'utf8'));
  config.pproxy.carreraConfiguration.thriftServer.clientTimeout = 0;
  fs.writeFileSync(proxy.configFile, YAML.stringify(config));
  const open = closedAfter(proxy.port);
  await new Promise((r) => setTimeout(r, 50)); // connected under the old timeout
  assert.equal(await proxy.app.reload(), true);
  const outcome = await Promise.race([open.then((ms) => `closed after ${ms} ms`), new Promise((r) => setTimeout(() => r('open'), 1000))]);
  assert.equal(outcome, 'open', 'clientTimeout 0: an open connection is no longer closed when idle');
});

/** Decodes a reply frame with the stock protocol and returns Result.code. */
function decodeResultCode(frame: Buffer): number {
  const input = new thrift.TCompactProtocol(new thrift.TFramedTransport(frame.subarray(4)));
  const header = input.readMessageBegin();
  assert.equal(header.mtype, thrift.Thrift.MessageType.REPLY);
  input.readStructBegin();
  const field = input.readFieldBegin();
  assert.equal(field.fid, 0);
  input.readStructBegin();
  input.readFieldBegin();
  return input.readI32();
}

function decodeException(frame: Buffer): { name: string; type: number; message: string } {
  const input = new thrift.TCompactProtocol(new thrift.TFramedTransport(frame.subarray(4)));
  const header = input.readMessageBegin();
  assert.equal(header.mtype, thrift.Thrift.MessageType.EXCEPTION);
  const x = new thrift.Thrift.TApplicationException();
  x.read(input);
  return { name: header.fname, type: (x as unknown as { type: number }).type, message: x.message };
}

function writeAndVanish(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(bytes, () => s.destroy()));
    s.on('close', () => resolve());
    s.on('error', () => undefined);
  });
}

test('maxConnections, maxConnectionsPerClient and frameTimeoutMs come from thriftServer and apply on reload', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(t, { thriftServer: { maxConnections: 2, maxConnectionsPerClient: 2, frameTimeoutMs: 200 } });
  const heartbeat = frameOf(encodeWithStockClient((c) => c.sendSync(Object.assign(new Message(), { topic: 'carrera_heartbeat' }), int64(50n))));
  const [kept, closing] = await Promise.all([proxy.client(), proxy.client()]);
  const refused = await rawExchange(proxy.port, heartbeat, 2000);
  assert.deepEqual({ closed: refused.closedByServer, answered: refused.data.length }, { closed: true, answered: 0 }, 'a third connection is refused');

  closing!.close();
  await eventually(async () => ((await rawExchange(proxy.port, heartbeat, 300)).data.length > 0 ? true : undefined), 5000, 'a free slot');
  const timedOut = async (): Promise<number> => {
    const started = Date.now();
    const r = await rawExchange(proxy.port, heartbeat.subarray(0, 10), 10_000);
    assert.equal(r.closedByServer, true, 'an unfinished frame closes its connection');
    return Date.now() - started;
  };
  const first = await timedOut();
  assert.ok(first >= 190 && first < 5000, `closed after ${first} ms (frameTimeoutMs 200)`);

  const config = YAML.parse(fs.readFileSync(proxy.configFile, 'utf8'));
  Object.assign(config.pproxy.carreraConfiguration.thriftServer, { maxConnections: 10, maxConnectionsPerClient: 10, frameTimeoutMs: 1000 });
  fs.writeFileSync(proxy.configFile, YAML.stringify(config));
  assert.equal(await proxy.app.reload(), true);
  const more = await Promise.all([proxy.client(), proxy.client(), proxy.client()]);
  for (const c of [kept!, ...more]) assert.equal((await c.sendSync({ topic: 'carrera_heartbeat' })).code, 0, 'four connections are served');
  const second = await timedOut();
  assert.ok(second >= 990 && second < 8000, `closed after ${second} ms (frameTimeoutMs 1000)`);
});
