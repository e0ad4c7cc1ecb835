/**
 * A hostile message with 600,000 properties in one 4.8 MB frame, against a proxy in this process:
 * it is answered 11 without stalling the event loop, and another client's calls keep being answered
 * meanwhile.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { test } from 'node:test';
import { ResultCode } from '../../src/protocol/result-codes';
import { CompactReader } from '../../src/server/compact-protocol';
import { localConfig, writeConfig } from '../helpers/config';
import { startProxy } from '../helpers/proxy';
import { storedMessages } from '../helpers/storage';

const PROPERTIES = 600_000;

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

function compactString(s: string): Buffer {
  const b = Buffer.from(s);
  return Buffer.concat([varint(b.length), b]);
}

/** sendSync(Message{topic, body, properties: `count` distinct names}, timeout 20 s) as one frame. */
function sendSyncWithProperties(topic: string, count: number): Buffer {
  const head = Buffer.concat([
    Buffer.from([0x82, 0x21]), varint(7), compactString('sendSync'),
    Buffer.from([0x1c]), // args field 1: Message
    Buffer.from([0x18]), compactString(topic), // Message.topic (1)
    Buffer.from([0x68]), compactString('x'), // Message.body (7)
    Buffer.from([0x2b]), varint(count), Buffer.from([0x88]), // Message.properties (9): map<string,string>
  ]);
  const entries = Buffer.allocUnsafe(count * 8);
  for (let i = 0; i < count; i++) {
    const at = i * 8;
    entries[at] = 5;
    entries.write(i.toString(36).padStart(5, '0'), at + 1, 'latin1');
    entries[at + 6] = 1;
    entries[at + 7] = 0x76; // 'v'
  }
  const tail = Buffer.concat([Buffer.from([0x00, 0x16]), varint(40_000), Buffer.from([0x00])]); // end Message; timeout 20000; end args
  const body = Buffer.concat([head, entries, tail]);
  const frame = Buffer.alloc(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** The Result code of a sendSync reply frame (length prefix included). */
function replyCode(reply: Buffer): number {
  const r = new CompactReader(reply, 4);
  r.readByte();
  r.readByte();
  r.readVarint32();
  r.readString();
  r.readFieldHeader(0); // success
  r.readFieldHeader(0); // Result.code
  return r.readI32();
}

function sendRaw(port: number, frame: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (d) => {
      received = Buffer.concat([received, d]);
      if (received.length >= 4 && received.length >= 4 + received.readUInt32BE(0)) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
    socket.write(frame);
  });
}

test('a message with 600,000 properties is answered 11 without stalling the event loop; another client keeps being answered', async (t) => {
  const proxy = await startProxy(t);
  const other = await proxy.client();
  const frame = sendSyncWithProperties('test', PROPERTIES);
  assert.ok(frame.length > 4_500_000 && frame.length < 5_000_000, `frame of ${frame.length} bytes`);

  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let done = false;
  const calls: { began: number; ended: number }[] = [];
  const codes: number[] = [];
  const otherCalls = (async () => {
    while (!done) {
      const began = performance.now();
      const r = await other.sendSync({ topic: 'test', body: 'b' }, 5000);
      calls.push({ began, ended: performance.now() });
      codes.push(r.code);
    }
  })();
  /** Until the other client has `n` more answers (each can take a while on a busy machine). */
  const answersMore = async (n: number) => {
    const target = calls.length + n;
    while (calls.length < target) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  // the other client's calls span the whole decode: one answered before the frame is sent, three after it is answered
  await answersMore(1);
  const sentAt = performance.now();
  const reply = await sendRaw(proxy.port, frame);
  const repliedAt = performance.now();
  await answersMore(3);
  done = true;
  await otherCalls;
  delay.disable();

  const maxStallMs = delay.max / 1e6;
  const slowestOtherMs = Math.max(...calls.map((c) => c.ended - c.began));
  t.diagnostic(`event loop delay max ${maxStallMs.toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms; the frame answered in ${(repliedAt - sentAt).toFixed(1)} ms; other client: ${calls.length} calls, slowest ${slowestOtherMs.toFixed(1)} ms`);
  assert.equal(replyCode(reply), ResultCode.FAIL_ILLEGAL_MSG);
  assert.deepEqual(new Set(codes), new Set([ResultCode.OK]));
  assert.ok(maxStallMs < 150, `event loop blocked for ${maxStallMs.toFixed(1)} ms`);
  assert.ok(slowestOtherMs < 250, `the other client waited ${slowestOtherMs.toFixed(1)} ms`);
  const stored = await storedMessages(proxy.dataDir, 'test');
  assert.equal(stored.length, calls.length, 'only the other client\'s messages are stored');
});

test('thriftServer.maxPropertiesPerMessage and maxPropertiesBytes bound every call and apply on reload', async (t) => {
  const topics = [{ topic: 'test' }, { topic: 'orders', delayTopic: true }, { topic: 'R_test_chronos_inner_0' }];
  const proxy = await startProxy(t, { topics, thriftServer: { maxPropertiesPerMessage: 2, maxPropertiesBytes: 12 } });
  const client = await proxy.client();
  const send = (properties: Record<string, string>) => client.sendSync({ topic: 'test', body: 'b', properties }).then((r) => r.code);

  assert.equal(await send({ a: '1', b: '2' }), ResultCode.OK);
  assert.equal(await send({ a: '1', b: '2', c: '3' }), ResultCode.FAIL_ILLEGAL_MSG);
  assert.equal(await send({ name: '123456' }), ResultCode.OK); // 4 + 6 + 2 separators: 12 bytes
  assert.equal(await send({ name: '1234567' }), ResultCode.FAIL_ILLEGAL_MSG);
  const batch = await client.sendBatchSync([
    { topic: 'test', body: 'first', properties: { a: '1' } },
    { topic: 'test', body: 'second', properties: { a: '1', b: '2', c: '3' } },
  ]);
  assert.equal(batch.code, ResultCode.FAIL_ILLEGAL_MSG);
  const delay = await client.sendDelaySync({
    topic: 'orders', action: 1, body: 'later', timestamp: BigInt(Math.ceil(Date.now() / 1000) + 60), dmsgtype: 2, uuid: 'u-1',
    properties: { a: '1', b: '2', c: '3' },
  });
  assert.equal(delay.code, ResultCode.FAIL_ILLEGAL_MSG);
  assert.deepEqual((await storedMessages(proxy.dataDir, 'test')).map((m) => m.body.toString()), ['b', 'b']);

  writeConfig(path.dirname(proxy.configFile), localConfig({ topics, thriftServer: { maxPropertiesPerMessage: 3 } }));
  assert.equal(await proxy.app.reload(), true);
  assert.equal(await send({ a: '1', b: '2', c: '3' }), ResultCode.OK);
  assert.equal(await send({ a: '1', b: '2', c: '3', d: '4' }), ResultCode.FAIL_ILLEGAL_MSG);
});
