/**
 * The FrameServer alone, under clients no SDK would be: frames never finished or sent a byte at a
 * time, connection floods, clients that do not read or stop sending. Its handler echoes each frame.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { silentLogger, type Logger } from '../../src/log';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import { CLOSE_REASONS, type CloseReason } from '../../src/metrics/server-metrics';
import { MAX_UNREAD_REPLY_BYTES, type FrameHandler } from '../../src/server/frame-connection';
import { FrameServer, type FrameLimits } from '../../src/server/frame-server';
import type { Timers } from '../../src/time/timers';
import { FakeTimers } from '../helpers/fake-timers';
import { parseExposition, valueOf, type Series } from '../helpers/metrics-exposition';
import { lengthPrefix } from '../helpers/raw-socket';
import { eventually } from '../helpers/wait';
import { capturingLogger } from '../storage/local/helpers';

const MiB = 1024 * 1024;

const LIMITS: FrameLimits = {
  maxFrameBytes: MiB,
  maxInFlightPerConnection: 1024,
  maxInFlightBytes: 64 * MiB,
  idleTimeoutMs: 0,
  frameTimeoutMs: 0,
  maxConnections: 1000,
  maxConnectionsPerClient: 1000,
};

/** Each frame comes back as it came, framed. */
const echo: FrameHandler = (f) => frame(f);

async function startServer(
  t: TestContext,
  limits: Partial<FrameLimits>,
  options: { handler?: FrameHandler; logger?: Logger; timers?: Timers; metrics?: ProxyMetrics } = {},
): Promise<{ server: FrameServer; port: number }> {
  const server = new FrameServer(
    { bindAddress: '127.0.0.1', port: 0, backlog: 511, ...LIMITS, ...limits },
    options.handler ?? echo,
    options.logger ?? silentLogger(),
    (options.metrics ?? new ProxyMetrics(false)).server,
    options.timers,
  );
  const { port } = await server.listen();
  t.after(() => server.drain(0));
  return { server, port };
}

function frame(body: Buffer): Buffer {
  return Buffer.concat([lengthPrefix(body.length), body]);
}

interface Client {
  socket: net.Socket;
  /** Everything received so far. */
  received(): Buffer;
  receivedBytes(): number;
  /** Resolves when the server has closed or ended the connection. */
  closed: Promise<void>;
}

function connect(t: TestContext, port: number, localAddress = '127.0.0.1'): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress, allowHalfOpen: true });
    t.after(() => socket.destroy());
    const chunks: Buffer[] = [];
    let bytes = 0;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      bytes += d.length;
    });
    const closed = new Promise<void>((done) => {
      socket.on('end', () => done());
      socket.on('close', () => done());
    });
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => Buffer.concat(chunks), receivedBytes: () => bytes, closed }));
    socket.once('error', reject);
  });
}

/** Whether `promise` settles within `ms` of real time. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([promise.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return settled;
}

test('frames being received count against maxInFlightBytes at their full length: past it no frame is started, and each is answered in turn', { timeout: 30_000 }, async (t) => {
  const budget = 4 * MiB;
  const { server, port } = await startServer(t, { maxInFlightBytes: budget, maxFrameBytes: MiB });
  const clients = await Promise.all(Array.from({ length: 20 }, () => connect(t, port)));
  const bodies = clients.map((_, i) => Buffer.alloc(MiB - 4, i));
  // every frame but its last byte: a client that never finishes
  for (const [i, c] of clients.entries()) c.socket.write(frame(bodies[i]!).subarray(0, MiB - 1));
  await eventually(() => (server.stats().overBudget ? true : undefined), 10_000, 'the budget to be exceeded');
  await steady(() => server.stats().bufferedBytes);

  const held = server.stats();
  const started = held.inFlightBytes / (MiB - 4);
  assert.ok(Number.isInteger(started), `each started frame is charged its full length (${held.inFlightBytes} bytes)`);
  assert.ok(started >= 4 && started <= 5, `${started} frames started: the budget and at most one frame past it`);
  // what is held beyond the started frames is at most one read per connection
  assert.ok(held.bufferedBytes <= held.inFlightBytes + clients.length * 128 * 1024, `${held.bufferedBytes} bytes buffered`);

  // the clients finish: every frame is answered, the later ones as the earlier free the budget
  for (const [i, c] of clients.entries()) c.socket.write(frame(bodies[i]!).subarray(MiB - 1));
  await eventually(() => (clients.every((c) => c.receivedBytes() === MiB) ? true : undefined), 20_000, 'every frame answered');
  for (const [i, c] of clients.entries()) assert.deepEqual(c.received(), frame(bodies[i]!));
  assert.equal(server.stats().inFlightBytes, 0);
});

/** Resolves once `value` has not changed for 300 ms. */
async function steady(value: () => number): Promise<void> {
  let last = -1;
  await eventually(async () => {
    const now = value();
    if (now === last) return true;
    last = now;
    await new Promise((r) => setTimeout(r, 300));
    return undefined;
  }, 10_000, 'the buffers to settle');
}

test('a frame must arrive whole within frameTimeoutMs of its first byte; each frame has its own deadline', async (t) => {
  const timers = new FakeTimers();
  const { logger, entries } = capturingLogger();
  const { server, port } = await startServer(t, { frameTimeoutMs: 300 }, { timers, logger });
  const whole = frame(Buffer.from('a frame of some length'));

  // two frames, each sent in two parts 200 ms apart: both within their deadline
  const prompt = await connect(t, port);
  for (let n = 1; n <= 2; n++) {
    prompt.socket.write(whole.subarray(0, 10));
    await eventually(() => (server.stats().bufferedBytes === 6 ? true : undefined), 5000, 'the first part to arrive');
    await timers.advance(200);
    prompt.socket.write(whole.subarray(10));
    await eventually(() => (prompt.received().length === n * whole.length ? true : undefined), 5000, `frame ${n} answered`);
  }
  await timers.advance(10_000);
  assert.equal(await within(prompt.closed, 200), false, 'a connection with no frame under way is not timed out');

  // one byte every 100 ms: closed at 300 ms, never answered
  const slow = await connect(t, port);
  for (let i = 0; i < 3; i++) {
    slow.socket.write(whole.subarray(i, i + 1));
    await eventually(() => (server.stats().bufferedBytes === i + 1 ? true : undefined), 5000, `byte ${i} to arrive`);
    assert.equal(await within(slow.closed, 20), false, `open after ${i * 100} ms`);
    await timers.advance(100);
  }
  assert.equal(await within(slow.closed, 5000), true, 'closed at the deadline');
  assert.equal(slow.received().length, 0);
  assert.equal(server.stats().faults.frameTimeout, 1);
  assert.equal(entries.filter((e) => e.fault === 'frameTimeout').length, 1);
});

test('a frame of which only the length prefix came is timed out too, and gives its budget back', async (t) => {
  const timers = new FakeTimers();
  const { server, port } = await startServer(t, { frameTimeoutMs: 300, maxInFlightBytes: 10_000 }, { timers });
  // a client that announces a frame larger than the budget, then sends nothing more
  const stuck = await connect(t, port);
  stuck.socket.write(lengthPrefix(8000));
  await eventually(() => (server.stats().inFlightBytes === 8000 ? true : undefined), 5000, 'the frame to be charged');
  await timers.advance(300);
  assert.equal(await within(stuck.closed, 5000), true, 'closed at the deadline');
  await eventually(() => (server.stats().inFlightBytes === 0 ? true : undefined), 5000, 'the charge given back');
  assert.equal(server.stats().faults.frameTimeout, 1);
  // and others are served
  const other = await connect(t, port);
  const ping = frame(Buffer.from('ping'));
  other.socket.write(ping);
  await eventually(() => (other.received().length === ping.length ? true : undefined), 5000, 'another client answered');
});

test('a frame waiting for the budget is not timed out: the deadline runs only while the server reads it', async (t) => {
  const timers = new FakeTimers();
  let answer!: () => void;
  const held = new Promise<Buffer>((resolve) => (answer = () => resolve(frame(Buffer.from('done')))));
  const handler: FrameHandler = (f) => (f.length > 100 ? held : frame(f));
  const { server, port } = await startServer(t, { frameTimeoutMs: 300, maxInFlightBytes: 1000 }, { timers, handler });
  const big = await connect(t, port);
  big.socket.write(frame(Buffer.alloc(2000)));
  await eventually(() => (server.stats().overBudget ? true : undefined), 5000, 'the budget to be exceeded');

  const waiting = await connect(t, port);
  const small = frame(Buffer.from('small'));
  waiting.socket.write(small);
  await timers.advance(1000);
  assert.equal(await within(waiting.closed, 100), false, 'not closed while the server does not read');
  assert.equal(waiting.received().length, 0, 'not started while over budget');
  answer();
  await eventually(() => (waiting.received().length === small.length ? true : undefined), 5000, 'the waiting frame answered');
  assert.equal(server.stats().faults.frameTimeout, 0);
});

test('maxConnections and maxConnectionsPerClient refuse at accept, counted, one warning per second per kind', async (t) => {
  const timers = new FakeTimers();
  const { logger, entries } = capturingLogger();
  const { server, port } = await startServer(t, { maxConnections: 3, maxConnectionsPerClient: 2 }, { timers, logger });
  const answers = async (c: Client) => {
    const before = c.received().length;
    c.socket.write(frame(Buffer.from('ping')));
    return eventually(() => (c.received().length === before + 8 ? true : undefined), 5000, 'an answer');
  };
  const a1 = await connect(t, port, '127.0.0.1');
  const a2 = await connect(t, port, '127.0.0.1');
  await answers(a1);
  await answers(a2);
  const refusedPerClient = await Promise.all([connect(t, port, '127.0.0.1'), connect(t, port, '127.0.0.1')]);
  for (const c of refusedPerClient) assert.equal(await within(c.closed, 5000), true, 'a third from one address is closed at once');

  const b1 = await connect(t, port, '127.0.0.2');
  await answers(b1);
  const refusedTotal = await connect(t, port, '127.0.0.3');
  assert.equal(await within(refusedTotal.closed, 5000), true, 'a fourth in all is closed at once');

  const stats = server.stats();
  assert.equal(stats.connections, 3);
  assert.equal(stats.faults.maxConnectionsPerClient, 2);
  assert.equal(stats.faults.maxConnections, 1);
  const lines = (kind: string) => entries.filter((e) => e.fault === kind);
  assert.equal(lines('maxConnectionsPerClient').length, 1, 'the second refusal within a second is counted, not logged');
  assert.equal(lines('maxConnections').length, 1);

  // a freed slot is taken again; a refusal a second later is logged with its count
  a1.socket.destroy();
  await eventually(() => (server.stats().connections === 2 ? true : undefined), 5000, 'the connection to be gone');
  await answers(await connect(t, port, '127.0.0.1'));
  b1.socket.destroy();
  await eventually(() => (server.stats().connections === 2 ? true : undefined), 5000, 'the connection to be gone');
  // the second ends with one line for the refusal counted, not logged
  await timers.advance(1000);
  assert.equal(lines('maxConnectionsPerClient').length, 2);
  assert.equal(lines('maxConnectionsPerClient')[1]!.count, 1);
  assert.equal(lines('maxConnectionsPerClient')[1]!.total, 2);
  const again = await connect(t, port, '127.0.0.1');
  assert.equal(await within(again.closed, 5000), true);
  await timers.advance(1000);
  assert.equal(lines('maxConnectionsPerClient').length, 3);
  assert.equal(lines('maxConnectionsPerClient')[2]!.count, 1);
  assert.equal(lines('maxConnectionsPerClient')[2]!.total, 3);
});

test('a client that shuts down its sending side gets every answer, then the connection ends', async (t) => {
  const handler: FrameHandler = (f) => new Promise((resolve) => setTimeout(() => resolve(frame(f)), 5 + (f[0]! % 7)));
  const { server, port } = await startServer(t, {}, { handler });
  const client = await connect(t, port);
  const frames = Array.from({ length: 50 }, (_, i) => frame(Buffer.from([i, ...Buffer.from(`request ${i}`)])));
  // and a last frame cut short, which can never be answered
  client.socket.end(Buffer.concat([...frames, frame(Buffer.from('unfinished')).subarray(0, 8)]));
  assert.equal(await within(client.closed, 10_000), true, 'the server ends the connection');
  const received = client.received();
  assert.equal(received.length, frames.reduce((n, f) => n + f.length, 0), 'all 50 answered');
  for (const f of frames) assert.ok(received.includes(f), 'each answer is its request echoed');
  await eventually(() => (server.stats().connections === 0 ? true : undefined), 5000, 'the connection to be closed');
  assert.equal(server.stats().inFlightBytes, 0);
});

test('no reply is made while the client leaves 1 MiB of replies unread', { timeout: 30_000 }, async (t) => {
  const replyBytes = 600 * 1024;
  let made = 0;
  const handler: FrameHandler = () => {
    made++;
    return frame(Buffer.alloc(replyBytes - 4));
  };
  const { server, port } = await startServer(t, {}, { handler });
  const client = await connect(t, port);
  client.socket.pause(); // reads nothing
  const requests = 100;
  client.socket.write(Buffer.concat(Array.from({ length: requests }, () => frame(Buffer.from('call')))));
  await steady(() => made);
  const { unsentReplyBytes } = server.stats();
  assert.ok(unsentReplyBytes <= MAX_UNREAD_REPLY_BYTES + replyBytes, `${unsentReplyBytes} bytes of replies queued`);
  assert.ok(made < requests, `${made} of ${requests} replies made`);
  // once the client reads, every request is answered
  client.socket.resume();
  await eventually(() => (client.receivedBytes() === requests * replyBytes ? true : undefined), 20_000, 'every reply');
  assert.equal(made, requests);
});

test('a flood of bad connections logs one line per second per kind, with the count', async (t) => {
  const timers = new FakeTimers();
  const { logger, entries } = capturingLogger();
  const { server, port } = await startServer(t, {}, { timers, logger });
  const garbage = [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), lengthPrefix(0)];
  const flood = async (n: number) => {
    for (let i = 0; i < n; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const c = await connect(t, port);
          c.socket.write(garbage[(i + j) % 2]!);
          await c.closed;
          c.socket.destroy();
        }),
      );
    }
  };
  await flood(400);
  await eventually(() => (server.stats().faults.frameTooLarge + server.stats().faults.emptyFrame === 400 ? true : undefined), 5000, 'every connection refused');
  const warnings = () => entries.filter((e) => e.level === 40);
  assert.deepEqual(warnings().map((e) => e.fault).sort(), ['emptyFrame', 'frameTooLarge']);
  assert.equal(server.stats().faults.frameTooLarge, 200);

  // the second ends with one line per kind for the 199 counted, not logged
  await timers.advance(1000);
  assert.equal(warnings().length, 4);
  for (const line of warnings().slice(2)) {
    assert.equal(line.count, 199);
    assert.equal(line.total, 200);
  }
  await flood(2);
  await timers.advance(1000);
  assert.equal(warnings().length, 6);
  // the counts of a kind's lines add up to its faults
  for (const kind of ['emptyFrame', 'frameTooLarge']) {
    const own = warnings().filter((e) => e.fault === kind);
    assert.deepEqual(own.map((e) => e.count), [1, 199, 10]); // a flood goes 20 connections at a time
    assert.equal(own[2]!.total, 210);
  }
});

/** The server's series in the exposition of `metrics`. */
async function scrape(metrics: ProxyMetrics): Promise<Series> {
  return parseExposition(await metrics.render());
}

const closedBy = (series: Series, reason: CloseReason) => valueOf(series, 'pproxy_server_connections_closed_total', { reason });

test('every way a connection ends is counted under its reason, and accepted less closed is what is open', async (t) => {
  const timers = new FakeTimers();
  const metrics = new ProxyMetrics(true);
  // 'U' frames cannot be read (the handler throws), 'F' frames fail their handler, others echo
  const handler: FrameHandler = (f) => {
    if (f[0] === 0x55) throw new Error('not a call');
    if (f[0] === 0x46) return Promise.reject(new Error('handler bug'));
    return frame(f);
  };
  const { port } = await startServer(t, { frameTimeoutMs: 300, maxFrameBytes: 1024 }, { timers, handler, metrics });
  const ending = async (send: (c: Client) => void) => {
    const c = await connect(t, port);
    send(c);
    assert.equal(await within(c.closed, 5000), true, 'closed');
  };
  await ending((c) => c.socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
  await ending((c) => c.socket.write(lengthPrefix(0)));
  await ending((c) => c.socket.write(frame(Buffer.from('U...'))));
  await ending((c) => c.socket.write(frame(Buffer.from('F...'))));
  await ending((c) => c.socket.end(frame(Buffer.from('bye'))));
  const slow = await connect(t, port);
  slow.socket.write(frame(Buffer.from('never finished')).subarray(0, 6));
  await eventually(async () => (valueOf(await scrape(metrics), 'pproxy_server_buffered_bytes') === 2 ? true : undefined), 5000, 'the partial frame');
  await timers.advance(300);
  assert.equal(await within(slow.closed, 5000), true, 'timed out');
  const reset = await connect(t, port);
  reset.socket.resetAndDestroy();

  const series = await eventually(async () => {
    const s = await scrape(metrics);
    return valueOf(s, 'pproxy_server_connections_open') === 0 && closedBy(s, 'client_reset') === 1 ? s : undefined;
  }, 5000, 'every connection closed');
  const expected: Partial<Record<CloseReason, number>> = {
    frame_too_large: 1,
    empty_frame: 1,
    unreadable_request: 1,
    handler_failed: 1,
    client_closed: 1,
    frame_timeout: 1,
    client_reset: 1,
  };
  for (const reason of CLOSE_REASONS) assert.equal(closedBy(series, reason), expected[reason] ?? 0, reason);
  assert.equal(valueOf(series, 'pproxy_server_connections_accepted_total'), 7);
});

test('idle connections and those the drain closes are counted as such', async (t) => {
  const metrics = new ProxyMetrics(true);
  let answer!: () => void;
  const handler: FrameHandler = (f) => new Promise((resolve) => (answer = () => resolve(frame(f))));
  const { server, port } = await startServer(t, { idleTimeoutMs: 200 }, { handler, metrics });
  const idle = await connect(t, port);
  assert.equal(await within(idle.closed, 5000), true, 'closed after 200 ms of nothing');
  await eventually(async () => (closedBy(await scrape(metrics), 'idle') === 1 ? true : undefined), 5000, 'the idle close counted');

  const busy = await connect(t, port);
  busy.socket.write(frame(Buffer.from('held')));
  await eventually(async () => (valueOf(await scrape(metrics), 'pproxy_server_in_flight_requests') === 1 ? true : undefined), 5000, 'the request in flight');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(closedBy(await scrape(metrics), 'idle'), 1, 'a connection with a request in flight is not idle');
  const drained = server.drain(5000);
  answer();
  assert.equal(await drained, 0);
  const series = await eventually(async () => {
    const now = await scrape(metrics);
    return valueOf(now, 'pproxy_server_connections_open') === 0 ? now : undefined;
  }, 5000, 'the drained connection closed');
  assert.equal(closedBy(series, 'server_drain'), 1);
  assert.equal(busy.received().length, 8, 'answered before the drain closed it');
  assert.equal(valueOf(series, 'pproxy_server_connections_open'), 0);
  assert.equal(valueOf(series, 'pproxy_server_connections_accepted_total'), 2);
});

test('refusals at accept are counted by limit, apart from the connections accepted', async (t) => {
  const metrics = new ProxyMetrics(true);
  const { port } = await startServer(t, { maxConnections: 4, maxConnectionsPerClient: 2 }, { metrics });
  const ping = async (c: Client) => {
    c.socket.write(frame(Buffer.from('ping')));
    await eventually(() => (c.received().length === 8 ? true : undefined), 5000, 'an answer');
  };
  const refused = async (address: string) => {
    const c = await connect(t, port, address);
    assert.equal(await within(c.closed, 5000), true, `${address} refused`);
  };
  for (const address of ['127.0.0.1', '127.0.0.1', '127.0.0.2']) await ping(await connect(t, port, address));
  await refused('127.0.0.1'); // a third from one address
  await ping(await connect(t, port, '127.0.0.3'));
  await refused('127.0.0.2'); // a fifth in all
  await refused('127.0.0.4');
  const series = await scrape(metrics);
  assert.equal(valueOf(series, 'pproxy_server_connections_refused_total', { reason: 'max_connections_per_client' }), 1);
  assert.equal(valueOf(series, 'pproxy_server_connections_refused_total', { reason: 'max_connections' }), 2);
  assert.equal(valueOf(series, 'pproxy_server_connections_accepted_total'), 4);
  assert.equal(valueOf(series, 'pproxy_server_connections_open'), 4);
  assert.equal(valueOf(series, 'pproxy_server_connections_limit'), 4);
  for (const reason of CLOSE_REASONS) assert.equal(closedBy(series, reason), 0, `a refusal is not a close (${reason})`);
});

test('over the in-flight budget: reads paused, counted once, the held bytes and requests against their limits', { timeout: 30_000 }, async (t) => {
  const metrics = new ProxyMetrics(true);
  const budget = 10_000;
  const release: (() => void)[] = [];
  const handler: FrameHandler = (f) => new Promise((resolve) => release.push(() => resolve(frame(f.subarray(0, 4)))));
  const { server, port } = await startServer(t, { maxInFlightBytes: budget, maxInFlightPerConnection: 8 }, { handler, metrics });
  const clients = await Promise.all(Array.from({ length: 3 }, () => connect(t, port)));
  for (const c of clients) c.socket.write(frame(Buffer.alloc(6000)));
  await eventually(() => (server.stats().overBudget ? true : undefined), 5000, 'the budget to be exceeded');
  await eventually(() => (release.length === 2 ? true : undefined), 5000, 'two frames started');
  let series = await scrape(metrics);
  assert.equal(valueOf(series, 'pproxy_server_reads_paused'), 1);
  assert.equal(valueOf(series, 'pproxy_server_budget_pauses_total'), 1);
  assert.equal(valueOf(series, 'pproxy_server_in_flight_bytes'), server.stats().inFlightBytes);
  assert.equal(valueOf(series, 'pproxy_server_in_flight_bytes'), 12_000, 'two frames of 6,000 bytes');
  assert.equal(valueOf(series, 'pproxy_server_in_flight_bytes_limit'), budget);
  assert.equal(valueOf(series, 'pproxy_server_in_flight_requests'), 2);
  assert.equal(valueOf(series, 'pproxy_server_in_flight_requests_per_connection_limit'), 8);
  assert.equal(valueOf(series, 'pproxy_server_connections_paused'), 3, 'no connection is read');

  await eventually(() => {
    // answering frees the budget for the frame still waiting, which is then held in turn
    for (const answer of release.splice(0)) answer();
    return clients.every((c) => c.receivedBytes() === 8) ? true : undefined;
  }, 5000, 'every frame answered');
  series = await scrape(metrics);
  assert.equal(valueOf(series, 'pproxy_server_reads_paused'), 0);
  assert.equal(valueOf(series, 'pproxy_server_in_flight_bytes'), 0);
  assert.equal(valueOf(series, 'pproxy_server_in_flight_requests'), 0);
  assert.equal(valueOf(series, 'pproxy_server_connections_paused'), 0);
  assert.ok(valueOf(series, 'pproxy_server_budget_pauses_total') >= 1);
});
