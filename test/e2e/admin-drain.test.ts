/**
 * The admin listener of the real proxy process: SIGTERM turns /ready 503 at once while the Thrift
 * port keeps accepting and answering for drainDelayMs, everything answered OK is stored, and each
 * phase is logged; a taken admin port fails the start.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { ProducerClient } from '../../src/client/producer-client';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { freePort } from '../helpers/ports';
import { CLI_JS, startProxyProcess } from '../helpers/proxy';
import { run } from '../helpers/run';
import { eventually } from '../helpers/wait';

const DRAIN_DELAY_MS = 2000;
/** The bound from SIGTERM to /ready answering 503. */
const READY_TURNS_WITHIN_MS = 50;

test('SIGTERM: /ready 503 within 50 ms, requests during drainDelayMs answered OK and stored, phases logged, exit 0', { timeout: 60_000 }, async (t) => {
  const adminPort = await freePort();
  const dir = tempDir(t);
  const config = writeConfig(dir, localConfig({ extra: { adminPort, drainDelayMs: DRAIN_DELAY_MS, logLevel: 'info' } }));
  const proxy = await startProxyProcess(t, config);
  assert.match(proxy.output(), new RegExp(`, admin on http://127\\.0\\.0\\.1:${adminPort}\\n`));
  const base = `http://127.0.0.1:${adminPort}`;
  await eventually(async () => ((await fetch(`${base}/ready`)).status === 200 ? true : undefined), 10_000, '/ready 200');
  const early = await ProducerClient.connect('127.0.0.1', proxy.port);
  t.after(() => early.close());
  assert.equal((await early.sendSync({ topic: 'test', body: 'before' }, 3000)).code, 0);

  // Polls /ready from before the signal on; measured by the clock both processes share, from the
  // kill to the proxy's "draining" line, and checked that every poll sent after that line got 503:
  // the test's own scheduling (a loaded machine) then adds nothing to the figure.
  const polls: { sentAt: number; status: number }[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const sentAt = Date.now();
      const ready = await fetch(`${base}/ready`);
      await ready.arrayBuffer();
      polls.push({ sentAt, status: ready.status });
    }
  })();
  await eventually(() => (polls.length > 0 ? true : undefined), 5000, 'a first poll');
  const signalled = Date.now();
  proxy.proc.kill('SIGTERM');
  const drainingAt = await eventually(() => {
    const line = /\{[^\n]*"msg":"lifecycle: draining"[^\n]*\}/.exec(proxy.output());
    return line ? Date.parse((JSON.parse(line[0]) as { time: string }).time) : undefined;
  }, 5000, 'the draining line');
  await eventually(() => (polls.some((p) => p.sentAt > drainingAt) ? true : undefined), 5000, 'a poll after the draining line');
  polling = false;
  await poller;
  const turnedMs = drainingAt - signalled;
  t.diagnostic(`/ready turned 503 ${turnedMs} ms after SIGTERM`);
  assert.ok(turnedMs <= READY_TURNS_WITHIN_MS, `/ready 503 ${turnedMs} ms after SIGTERM`);
  assert.deepEqual(polls.filter((p) => p.sentAt > drainingAt && p.status !== 503), [], 'every /ready after the draining line is 503');
  assert.ok(polls.some((p) => p.sentAt < signalled && p.status === 200), 'ready before the signal');

  // during the delay: the connected client and a new one are both served
  const late = await ProducerClient.connect('127.0.0.1', proxy.port);
  t.after(() => late.close());
  const sent: string[] = [];
  for (let i = 0; i < 20; i++) {
    for (const [client, name] of [[early, 'early'], [late, 'late']] as const) {
      const body = `${name}-${i}`;
      assert.equal((await client.sendSync({ topic: 'test', body }, 3000)).code, 0, body);
      sent.push(body);
    }
  }
  assert.ok(Date.now() - signalled < DRAIN_DELAY_MS, 'the sends fit in the delay (else the test proves nothing)');
  assert.equal(await proxy.exited, 0);

  const tailed = await run(process.execPath, [CLI_JS, 'tail', '-c', config, '-t', 'test', '--format', 'json', '-n', '1000']);
  assert.equal(tailed.status, 0, tailed.stderr);
  const stored = new Set(tailed.stdout.trim().split('\n').map((l) => Buffer.from((JSON.parse(l) as { body: string }).body, 'base64').toString()));
  assert.deepEqual(sent.filter((b) => !stored.has(b)), [], 'every message answered OK during the delay is stored');

  const phases = [...proxy.output().matchAll(/"msg":"lifecycle: (\w+)"/g)].map((m) => m[1]);
  assert.deepEqual(phases, ['serving', 'draining', 'stopping']);
  assert.match(proxy.output(), new RegExp(`"drainDelayMs":${DRAIN_DELAY_MS},"phase":"draining"`));
});

test('an admin port already taken fails the start with exit 2 and says which port', { timeout: 30_000 }, async (t) => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const adminPort = (holder.address() as net.AddressInfo).port;
  const config = writeConfig(tempDir(t), localConfig({ extra: { adminPort } }));
  await assert.rejects(startProxyProcess(t, config), (err: Error) => {
    assert.match(err.message, /^proxy exited with 2:/);
    assert.match(err.message, new RegExp(`pproxy: failed to start: admin port 127\\.0\\.0\\.1:${adminPort} \\(adminPort\\) is in use`));
    return true;
  });
});
