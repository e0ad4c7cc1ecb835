/**
 * The remoting connection against a scripted TCP peer on loopback: opaque matching (answers out of
 * order), partial and coalesced frames, per-request timeouts with late answers dropped, oneway,
 * close() and the peer closing failing what is pending, corrupt frame lengths, connect failures,
 * Nagle off.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { FrameReader } from '../../../src/storage/rocketmq4/remoting/frame-reader';
import { command, encodeCommand, FLAG_ONEWAY, FLAG_RESPONSE, isResponse, SerializeType, type RemotingCommand } from '../../../src/storage/rocketmq4/remoting/remoting-command';
import { parseAddress, RemotingConnection } from '../../../src/storage/rocketmq4/remoting/remoting-connection';
import { RemotingError, type RemotingErrorKind } from '../../../src/storage/rocketmq4/remoting/remoting-error';

/** A peer that hands each request it receives, with its socket, to `onRequest`. */
async function peer(t: TestContext, onRequest: (req: RemotingCommand, socket: net.Socket) => void): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const reader = new FrameReader(1 << 20);
    socket.on('data', (d) => reader.push(d).forEach((req) => onRequest(req, socket)));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    return new Promise((resolve) => server.close(resolve));
  });
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

function answer(req: RemotingCommand, code: number, type: 0 | 1 = SerializeType.ROCKETMQ): Buffer {
  return encodeCommand({ ...command(code, { echo: String(req.extFields.n) }), opaque: req.opaque, flag: FLAG_RESPONSE }, type);
}

const kind = (k: RemotingErrorKind, pattern?: RegExp) => (e: unknown) => e instanceof RemotingError && e.kind === k && (!pattern || pattern.test(e.message));

test('answers are matched by opaque, out of order, across partial and coalesced frames, JSON and binary', async (t) => {
  const held: RemotingCommand[] = [];
  const address = await peer(t, (req, socket) => {
    held.push(req);
    if (held.length < 3) return;
    // all three answers in reverse order: one write cut into single bytes, the rest coalesced
    const bytes = Buffer.concat([answer(held[2]!, 2, 0), answer(held[1]!, 1), answer(held[0]!, 0)]);
    for (let i = 0; i < 10; i++) socket.write(bytes.subarray(i, i + 1));
    socket.write(bytes.subarray(10));
  });
  const c = await RemotingConnection.connect(address);
  t.after(() => c.close());
  const results = await Promise.all([0, 1, 2].map((n) => c.request(command(105, { n: String(n) }), 5000)));
  assert.deepEqual(results.map((r) => [r.code, r.extFields.echo]), [[0, '0'], [1, '1'], [2, '2']]);
  assert.deepEqual(held.map((r) => r.opaque), [1, 2, 3]);
  assert.ok(held.every((r) => !isResponse(r) && r.flag === 0));
});

test('a request times out with a timeout error; its late answer is dropped and later requests still work', async (t) => {
  let first: { req: RemotingCommand; socket: net.Socket } | undefined;
  const address = await peer(t, (req, socket) => {
    if (!first) first = { req, socket };
    else {
      // the late answer to the first request, then this one's
      socket.write(answer(first.req, 9));
      socket.write(answer(req, 0));
    }
  });
  const c = await RemotingConnection.connect(address);
  t.after(() => c.close());
  await assert.rejects(c.request(command(105, { n: 'a' }), 50), kind('timeout', /request code 105 within 50 ms/));
  const r = await c.request(command(105, { n: 'b' }), 5000);
  assert.deepEqual([r.code, r.extFields.echo], [0, 'b']);
});

test('oneway requests carry the oneway flag and get no pending entry', async (t) => {
  const seen: RemotingCommand[] = [];
  const address = await peer(t, (req, socket) => {
    seen.push(req);
    if (seen.length === 2) socket.write(answer(req, 0));
  });
  const c = await RemotingConnection.connect(address);
  t.after(() => c.close());
  c.oneway(command(35, { n: 'x' }));
  await c.request(command(34, { n: 'y' }), 5000);
  assert.deepEqual(seen.map((r) => [r.code, r.flag]), [[35, FLAG_ONEWAY], [34, 0]]);
});

test('close() fails every pending request with a closed error; later requests and oneways fail too', async (t) => {
  const address = await peer(t, () => undefined);
  const c = await RemotingConnection.connect(address);
  const pending = [c.request(command(105), 5000), c.request(command(105), 5000)];
  c.close();
  for (const p of pending) await assert.rejects(p, kind('closed'));
  assert.ok(c.closed);
  await assert.rejects(c.request(command(105), 5000), kind('closed'));
  assert.throws(() => c.oneway(command(35)), kind('closed'));
});

test('the peer closing fails what is pending with a closed error', async (t) => {
  const address = await peer(t, (_req, socket) => socket.destroy());
  const c = await RemotingConnection.connect(address);
  await assert.rejects(c.request(command(105), 5000), kind('closed', /closed by the peer|failed/));
  assert.ok(c.closed);
});

test('a corrupt frame length (gigabytes) fails the connection with a protocol error, without waiting for the bytes', async (t) => {
  const address = await peer(t, (_req, socket) => socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xf0, 1, 2, 3])));
  const c = await RemotingConnection.connect(address, { maxFrameSize: 1 << 20 });
  await assert.rejects(c.request(command(105), 5000), kind('protocol', /2147483632 outside 4\.\.1048576/));
  assert.ok(c.closed);
});

test('a request from the server is answered REQUEST_CODE_NOT_SUPPORTED with its opaque', async (t) => {
  let reply: RemotingCommand | undefined;
  const address = await peer(t, (req, socket) => {
    if (isResponse(req)) {
      reply = req;
      return;
    }
    socket.write(encodeCommand({ ...command(39), opaque: 555 }));
    socket.write(answer(req, 0));
  });
  const c = await RemotingConnection.connect(address);
  t.after(() => c.close());
  await c.request(command(105), 5000);
  const deadline = Date.now() + 2000;
  while (!reply && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual([reply?.code, reply?.opaque], [3, 555]);
});

test('connecting to a closed port is a connect error; a malformed address too', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  await assert.rejects(RemotingConnection.connect(`127.0.0.1:${port}`), kind('connect', /ECONNREFUSED/));
  await assert.rejects(RemotingConnection.connect('no-port'), kind('connect', /not a host:port/));
  assert.deepEqual(parseAddress('[::1]:9876'), { host: '::1', port: 9876 });
});

test("Nagle's algorithm is off on the socket", async (t) => {
  const address = await peer(t, () => undefined);
  const calls: boolean[] = [];
  const original = net.Socket.prototype.setNoDelay;
  net.Socket.prototype.setNoDelay = function (this: net.Socket, noDelay?: boolean) {
    calls.push(noDelay ?? true);
    return original.call(this, noDelay);
  };
  try {
    const c = await RemotingConnection.connect(address);
    c.close();
  } finally {
    net.Socket.prototype.setNoDelay = original;
  }
  assert.deepEqual(calls, [true]);
});

test('the frame reader: a frame split at every byte boundary and several frames in one chunk', () => {
  const frames = [0, 1, 2].map((n) => encodeCommand({ ...command(n, { k: 'v'.repeat(n * 10) }), opaque: n }));
  const all = Buffer.concat(frames);
  for (let cut = 1; cut < all.length; cut++) {
    const reader = new FrameReader(1 << 20);
    const got = [...reader.push(all.subarray(0, cut)), ...reader.push(all.subarray(cut))];
    assert.deepEqual(got.map((c) => c.opaque), [0, 1, 2], `cut at ${cut}`);
  }
});
