/** The admin listener's routes and bounds, on fixed endpoints. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { AdminListenError, AdminServer, type AdminEndpoints, type Readiness } from '../../src/admin/admin-server';
import { silentLogger } from '../../src/log';
import type { Timers } from '../../src/time/timers';
import { FakeTimers } from '../helpers/fake-timers';
import { eventually } from '../helpers/wait';

interface Served {
  base: string;
  port: number;
  readiness: { current: Readiness };
}

async function serve(t: TestContext, endpoints: Partial<AdminEndpoints> = {}, timers?: Timers): Promise<Served> {
  const readiness = { current: { ready: true } as Readiness };
  const server = new AdminServer(
    { bindAddress: '127.0.0.1', port: 0, ...(timers ? { timers } : {}) },
    {
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', body: 'pproxy_up 1\n' }),
      readiness: () => readiness.current,
      status: () => ({ instance: '127.0.0.1:1' }),
      ...endpoints,
    },
    silentLogger(),
  );
  const { port } = await server.listen();
  t.after(() => server.close());
  return { base: `http://127.0.0.1:${port}`, port, readiness };
}

test('GET /health, /ready (200 or 503 with the reason), /status and /metrics', async (t) => {
  const { base, readiness } = await serve(t);
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'up' });

  const ready = await fetch(`${base}/ready`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true });
  readiness.current = { ready: false, reason: 'stopping (draining)' };
  const draining = await fetch(`${base}/ready`);
  assert.equal(draining.status, 503);
  assert.equal(draining.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.deepEqual(await draining.json(), { ready: false, reason: 'stopping (draining)' });

  assert.deepEqual(await (await fetch(`${base}/status?verbose=1`)).json(), { instance: '127.0.0.1:1' });
  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(await metrics.text(), 'pproxy_up 1\n');
  const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), '');
});

test('other paths answer 404, other methods 405 (the body unread)', async (t) => {
  const { base } = await serve(t);
  const missing = await fetch(`${base}/admin`);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: 'no such endpoint: /admin' });
  assert.equal((await fetch(`${base}/`)).status, 404);
  const posted = await fetch(`${base}/ready`, { method: 'POST', body: 'x'.repeat(100_000) });
  assert.equal(posted.status, 405);
  assert.equal(posted.headers.get('allow'), 'GET, HEAD');
  assert.equal(posted.headers.get('connection'), 'close');
  assert.equal((await fetch(`${base}/metrics`, { method: 'DELETE' })).status, 405);
});

test('an endpoint that throws or rejects answers 500, and the listener goes on', async (t) => {
  const { base } = await serve(t, {
    status: () => {
      throw new Error('status broke');
    },
    metrics: () => Promise.reject(new Error('scrape broke')),
  });
  const status = await fetch(`${base}/status`);
  assert.equal(status.status, 500);
  assert.deepEqual(await status.json(), { error: 'status broke' });
  assert.equal((await fetch(`${base}/metrics`)).status, 500);
  assert.equal((await fetch(`${base}/health`)).status, 200);
});

test('garbage and oversized headers are refused; the listener goes on', async (t) => {
  const { base, port } = await serve(t);
  const garbage = await rawExchange(port, Buffer.from('\x00\x01\x02 not http\r\n\r\n'));
  assert.doesNotMatch(garbage, /^HTTP\/1\.1 200/);
  // headers over the 16 KiB bound
  const huge = await rawExchange(port, Buffer.from(`GET /health HTTP/1.1\r\nx-pad: ${'a'.repeat(20_000)}\r\n\r\n`));
  assert.match(huge, /^HTTP\/1\.1 431|^$/);
  assert.equal((await fetch(`${base}/health`)).status, 200);
});

test('a taken port fails listen() with the address and adminPort named', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const port = (holder.address() as net.AddressInfo).port;
  const server = new AdminServer({ bindAddress: '127.0.0.1', port }, { metrics: async () => ({ contentType: '', body: '' }), readiness: () => ({ ready: true }), status: () => ({}) }, silentLogger());
  await assert.rejects(server.listen(), (err: unknown) => {
    assert.ok(err instanceof AdminListenError);
    assert.equal(err.message, `admin port 127.0.0.1:${port} (adminPort) is in use`);
    return true;
  });
});

/** The listener's cap on open connections. */
const MAX_CONNECTIONS = 64;

test('connections that send nothing, more than the cap, do not lock /health and /ready out', { timeout: 30_000 }, async (t) => {
  const { base, port } = await serve(t);
  const idle = await openIdle(t, port, MAX_CONNECTIONS + 16);
  for (let probe = 0; probe < 3; probe++) {
    const began = performance.now();
    const health = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
    assert.equal(health.status, 200);
    assert.equal((await fetch(`${base}/ready`, { signal: AbortSignal.timeout(2000) })).status, 200);
    t.diagnostic(`probe ${probe}: ${Math.round(performance.now() - began)} ms with ${idle.filter((s) => !s.destroyed).length} idle connections open`);
  }
  // the idle ones made room: never more than the cap open at once
  await eventually(() => (idle.filter((s) => !s.destroyed).length <= MAX_CONNECTIONS ? true : undefined), 5000, 'idle connections closed');
});

test('a connection without a complete request is closed after 5 s, counted from its opening or its last answer', { timeout: 30_000 }, async (t) => {
  const timers = new FakeTimers();
  const { port } = await serve(t, {}, timers);
  const [silent, partial] = await openIdle(t, port, 2);
  partial!.write('GET /health HTTP/1.1\r\nhost: x\r\n'); // headers never finished
  const answered = net.connect(port, '127.0.0.1');
  answered.on('error', () => undefined);
  t.after(() => answered.destroy());
  let reply = '';
  answered.on('data', (d) => (reply += d.toString()));
  answered.write('GET /health HTTP/1.1\r\nhost: x\r\n\r\n');
  await eventually(() => (reply.includes('"up"') ? true : undefined), 5000, 'the answer');

  await timers.advance(4999);
  assert.deepEqual([silent!.destroyed, partial!.destroyed, answered.destroyed], [false, false, false]);
  const closed = Promise.all([silent, partial, answered].map((s) => new Promise((resolve) => s!.once('close', resolve))));
  await timers.advance(1);
  await closed;
});

test('when every connection has a request under way, a new one is refused until one is answered', { timeout: 30_000 }, async (t) => {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const { base } = await serve(t, { metrics: async () => (await released, { contentType: 'text/plain', body: 'pproxy_up 1\n' }) });
  t.after(() => release());
  const scrapes = Array.from({ length: MAX_CONNECTIONS }, () => fetch(`${base}/metrics`).then((r) => r.text()));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await assert.rejects(fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) }), 'every slot busy');
  release();
  assert.deepEqual(new Set(await Promise.all(scrapes)), new Set(['pproxy_up 1\n']), 'the requests under way were answered');
  assert.equal((await fetch(`${base}/health`)).status, 200);
});

/** `count` TCP connections to `port` that send nothing, each accepted (connected) before the next. */
async function openIdle(t: TestContext, port: number, count: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  t.after(() => sockets.forEach((s) => s.destroy()));
  for (let i = 0; i < count; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    sockets.push(socket);
    await new Promise((resolve) => socket.once('connect', resolve));
  }
  // the server has seen them all (a connect completes before the server's accept runs)
  await new Promise((resolve) => setTimeout(resolve, 100));
  return sockets;
}

/** Writes `bytes` and collects what comes back until the server closes (or 2 s pass). */
function rawExchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('close', () => resolve(answer));
    socket.on('error', () => undefined);
    socket.setTimeout(2000, () => socket.destroy());
  });
}
