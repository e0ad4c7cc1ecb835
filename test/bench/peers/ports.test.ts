/**
 * Ports for test servers that are killed and restarted on the same port: from below the ephemeral
 * range, so no outgoing connection takes one while its server is down; with the neighbours a server
 * derives from its port free too; never handed out twice by one process.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import test from 'node:test';
import { freePort } from '../../../bench/peers/ports';

const EPHEMERAL_LOW = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

test('a free port is below the ephemeral range, and each of its neighbours can be listened on', async (t) => {
  const port = await freePort([-2, 1]);
  assert.ok(port < EPHEMERAL_LOW - 1, `${port} is not below the ephemeral range starting at ${EPHEMERAL_LOW}`);
  for (const p of [port - 2, port, port + 1]) {
    const server = await listen(p);
    t.after(() => server.close());
  }
});

test('a port is not handed out twice, even once nothing listens on it', async () => {
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const port = await freePort();
    assert.ok(!seen.has(port), `${port} handed out twice`);
    seen.add(port);
  }
});

test('a port with a neighbour already in use is not handed out', async (t) => {
  const taken = new Set<number>();
  // a thousand of the ~12,000 candidates blocked: without the neighbour check, 300 picks would hit one
  for (let i = 0; i < 1000; i++) {
    const port = await freePort();
    const server = await listen(port);
    t.after(() => server.close());
    taken.add(port);
  }
  for (let i = 0; i < 300; i++) {
    const port = await freePort([1]);
    assert.ok(!taken.has(port + 1), `${port} handed out with ${port + 1} in use`);
  }
});
