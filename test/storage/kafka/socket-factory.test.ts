import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import { brokerSocketFactory } from '../../../src/storage/kafka/socket-factory';
import { schemaTools } from '../../../src/storage/storage-context';
import { tlsClientSchema, tlsConnectionOptions } from '../../../src/storage/tls-client';
import { issueServer, makeCa } from '../../helpers/certificates';
import { tempDir } from '../../helpers/config';

/** What kafkajs hands the factory for a cluster without ssl. */
const NO_TLS = null as never;

async function listen(t: import('node:test').TestContext, onConnection: (s: net.Socket) => void): Promise<number> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

test('broker connections are opened with Nagle off and keep-alive on', async (t) => {
  const port = await listen(t, (s) => s.end());
  const noDelay = t.mock.method(net.Socket.prototype, 'setNoDelay');
  const keepAlive = t.mock.method(net.Socket.prototype, 'setKeepAlive');
  await new Promise<void>((resolve) => {
    const socket = brokerSocketFactory(30_000)({ host: '127.0.0.1', port, ssl: NO_TLS, onConnect: resolve });
    t.after(() => socket.destroy());
  });
  assert.deepEqual(noDelay.mock.calls.map((c) => c.arguments), [[true]]);
  assert.deepEqual(keepAlive.mock.calls.map((c) => c.arguments), [[true, 60_000]]);
});

test('a connection to a peer that takes no bytes is destroyed after the stall timeout, its buffers freed', { timeout: 10_000 }, async (t) => {
  // the peer accepts and never reads: the kernel buffers fill, then the socket's own queue grows
  const port = await listen(t, (s) => s.pause());
  const socket = brokerSocketFactory(300)({ host: '127.0.0.1', port, ssl: NO_TLS, onConnect: () => undefined });
  t.after(() => socket.destroy());
  const closed = new Promise<Error | undefined>((resolve) => socket.on('error', resolve).on('close', () => resolve(undefined)));
  const started = Date.now();
  const chunk = Buffer.alloc(1024 * 1024);
  const writeMore = setInterval(() => socket.writable && socket.write(chunk), 20);
  t.after(() => clearInterval(writeMore));
  const error = await closed;
  clearInterval(writeMore);
  assert.ok(error, 'destroyed with an error');
  assert.match(error.message, /took no bytes for 300 ms/);
  assert.equal(socket.destroyed, true);
  assert.ok(Date.now() - started >= 300, 'not before the timeout');
});

test('a connection to a peer that reads everything is kept, however much is written', async (t) => {
  let received = 0;
  const port = await listen(t, (s) => s.on('data', (d: Buffer) => (received += d.length)));
  const socket = brokerSocketFactory(200)({ host: '127.0.0.1', port, ssl: NO_TLS, onConnect: () => undefined });
  t.after(() => socket.destroy());
  let failed: Error | undefined;
  socket.on('error', (e) => (failed = e));
  const chunk = Buffer.alloc(256 * 1024);
  for (let i = 0; i < 40; i++) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(failed, undefined);
  assert.equal(socket.destroyed, false);
  assert.equal(received, 40 * chunk.length);
});

test('over TLS the broker is asked for by its host name, or by the ssl servername when one is set', async (t) => {
  const dir = tempDir(t, 'pproxy-kafka-sni-');
  const ca = makeCa(dir);
  const server = issueServer(ca);
  const names: (string | false)[] = [];
  let named: () => void = () => undefined;
  const tlsServer = tls.createServer({ cert: fs.readFileSync(server.cert), key: fs.readFileSync(server.key) }, (s) => {
    names.push((s as tls.TLSSocket & { servername: string | false }).servername);
    s.end();
    named();
  });
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  t.after(() => tlsServer.close());
  const port = (tlsServer.address() as net.AddressInfo).port;
  /** Connects as kafkajs would; resolves once the server has seen the handshake's server name. */
  const connect = (ssl: Record<string, unknown>) =>
    new Promise<void>((resolve, reject) => {
      named = resolve;
      const options = tlsConnectionOptions(tlsClientSchema(schemaTools).parse(ssl));
      const socket = brokerSocketFactory(30_000)({ host: 'localhost', port, ssl: options as never, onConnect: () => undefined });
      socket.once('error', reject);
      t.after(() => socket.destroy());
    });
  await connect({ ca: ca.cert });
  await connect({ ca: ca.cert, servername: 'kafka.example', rejectUnauthorized: false });
  assert.deepEqual(names, ['localhost', 'kafka.example']);
});
