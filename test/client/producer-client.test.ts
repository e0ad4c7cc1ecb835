/**
 * The ProducerClient over a bare TCP server: what it does when the server goes away.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { ProducerClient } from '../../src/client/producer-client';

test('a connection the server closes is not reopened, before close() or after it', async (t) => {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy(); // the server goes away from this connection at once
  });
  t.after(() => server.close());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  const client = await ProducerClient.connect('127.0.0.1', port);
  await new Promise((resolve) => setTimeout(resolve, 50));
  client.close();
  // the stock connection would retry after 255 ms
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(connections, 1);
  await assert.rejects(client.sendSync({ topic: 't', body: 'x' }), /closed|ECONNRESET|EPIPE/);
});
