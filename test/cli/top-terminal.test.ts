/**
 * `pproxy top` in a real terminal: tmux runs it in a 160x40 pane (its own tmux server, on a socket
 * in this test's temporary folder, so no one else's sessions are touched), the test reads the screen with
 * capture-pane and types with send-keys. tmux is one of the test peers scripts/install-test-deps.sh
 * installs: without it this test fails, it does not skip.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { test, type TestContext } from 'node:test';
import { freePort } from '../helpers/ports';
import { CLI_JS } from '../helpers/proxy';
import { eventually } from '../helpers/wait';
import { metricsServer, type MetricsServer } from './top-metrics-server';

const SEND_SYNC = 0;

/** A tmux server of this test's own, killed when the test ends. */
function tmux(t: TestContext) {
  const dir = mkdtempSync(path.join(tmpdir(), 'pproxy-top-tmux-'));
  const socket = path.join(dir, 'socket');
  const tmuxRun = async (...args: string[]) => (await promisify(execFile)('tmux', ['-S', socket, ...args])).stdout;
  t.after(async () => {
    await tmuxRun('kill-server').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    /**
     * Starts `command` in a detached 160x40 session, under a shell that prints its exit status and
     * keeps the pane open (tmux's own pane_dead_status is not always filled in).
     */
    start: (session: string, command: string[]) =>
      tmuxRun('new-session', '-d', '-s', session, '-x', '160', '-y', '40', `${command.map((a) => `'${a}'`).join(' ')}; echo "exited with $?"; sleep 600`),
    screen: (session: string) => tmuxRun('capture-pane', '-p', '-t', session),
    keys: (session: string, ...keys: string[]) => tmuxRun('send-keys', '-t', session, ...keys),
    /** The exit status once the command has exited, else undefined. */
    exited: async (session: string) => {
      const status = /^exited with (\d+)$/m.exec(await tmuxRun('capture-pane', '-p', '-t', session))?.[1];
      return status === undefined ? undefined : Number(status);
    },
  };
}

/** 500 messages a second to "orders", a fifth of them refused by the rate limiter, answered in about 3 ms. */
function trafficTo(t: TestContext, server: MetricsServer): void {
  const orders = server.metrics.topic('orders');
  const timer = setInterval(() => {
    orders.received[SEND_SYNC]!.inc(50);
    orders.answered(SEND_SYNC, 0).inc(40);
    orders.answered(SEND_SYNC, 15).inc(10);
    for (let i = 0; i < 50; i++) orders.duration[SEND_SYNC]!.observe(0.003);
  }, 100);
  t.after(() => clearInterval(timer));
}

const ORDERS_ROW = /^orders +(\d+(?:\.\d)?) +(\d+(?:\.\d)?) +(\d+(?:\.\d)?) ms +\d+ +(\d+) +15:/m;

test('pproxy top in tmux shows the topics and their rates, refreshes in place, and exits 0 on q giving the screen back', { timeout: 60_000 }, async (t) => {
  const server = await metricsServer(t, ['orders', 'payments']);
  trafficTo(t, server);
  const term = tmux(t);
  await term.start('top', [process.execPath, CLI_JS, 'top', '--url', server.url, '--interval', '500']);

  const first = await eventually(async () => {
    const screen = await term.screen('top');
    return ORDERS_ROW.test(screen) ? screen : undefined;
  }, 20_000, 'a frame with the rates of orders');
  const [, perSecond, errorsPerSecond, p99, received] = ORDERS_ROW.exec(first)!;
  assert.ok(Number(perSecond) > 100 && Number(perSecond) < 2000, `orders at ${perSecond}/s (500/s sent)`);
  assert.ok(Number(errorsPerSecond) > 0, `errors ${errorsPerSecond}/s`);
  assert.ok(Number(p99) > 2.5 && Number(p99) <= 5, `p99 ${p99} ms: the (2.5 ms, 5 ms] bucket`);
  assert.match(first, /^payments +0\.0 /m);
  assert.match(first, /^pproxy \S+  http:\/\/127\.0\.0\.1:\d+\/metrics  /);

  const later = await eventually(async () => {
    const screen = await term.screen('top');
    const now = ORDERS_ROW.exec(screen)?.[4];
    return now !== undefined && Number(now) > Number(received) ? screen : undefined;
  }, 20_000, 'a later frame');
  assert.equal(later.match(/^TOPIC /gm)?.length, 1, 'the frame is redrawn in place, not appended');
  assert.ok(server.scrapes() >= 3);

  await term.keys('top', 'q');
  assert.equal(await eventually(() => term.exited('top'), 10_000, 'top to exit on q'), 0);
  assert.doesNotMatch(await term.screen('top'), /^TOPIC /m, 'the alternate screen is left: the screen the shell printed on is back');
});

test('pproxy top in tmux exits 0 on Ctrl-C, and shows that the proxy cannot be reached while retrying', { timeout: 60_000 }, async (t) => {
  const term = tmux(t);
  const closed = await freePort();
  await term.start('top', [process.execPath, CLI_JS, 'top', '--admin', `127.0.0.1:${closed}`, '--interval', '300']);
  const failed = new RegExp(`^scrape failed: http://127\\.0\\.0\\.1:${closed}/metrics: ECONNREFUSED$`, 'm');
  await eventually(async () => failed.test(await term.screen('top')) || undefined, 20_000, 'the scrape error on screen');
  await term.keys('top', 'C-c');
  assert.equal(await eventually(() => term.exited('top'), 10_000, 'top to exit on Ctrl-C'), 0);
});
