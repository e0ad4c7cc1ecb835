import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { noDelaySocketFactory } from '../../../src/storage/kafka/socket-factory';

test('broker connections are opened with Nagle off and keep-alive on', async (t) => {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const noDelay = t.mock.method(net.Socket.prototype, 'setNoDelay');
  const keepAlive = t.mock.method(net.Socket.prototype, 'setKeepAlive');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => {
    const socket = noDelaySocketFactory({ host: '127.0.0.1', port, ssl: {}, onConnect: resolve });
    t.after(() => socket.destroy());
  });
  assert.deepEqual(noDelay.mock.calls.map((c) => c.arguments), [[true]]);
  assert.deepEqual(keepAlive.mock.calls.map((c) => c.arguments), [[true, 60_000]]);
});
