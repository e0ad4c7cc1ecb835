/**
 * The local Chronos under a million pending delay messages: one proxy process (local mode) is
 * given --count delay adds of 200 B (64 connections, 16 calls in flight on each), is restarted with
 * all of them pending, and delivers them over --spread seconds from --fire-after seconds after the
 * start. Meanwhile a separate connection sends a 200 B sendSync every 2 ms to a plain topic.
 * Reports the add rate, the restart time, the deliveries' lateness (stored time minus trigger
 * time), the sendSync latency in each phase (one call at a time) and the proxy's RSS. Run: npm run bench:delay [-- --count N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { ProducerClient } from '../src/client/producer-client';
import { localConfig, writeConfig } from '../test/helpers/config';
import { startProxyProcess, type ChildProxy } from '../test/helpers/proxy';
import { storedMessages } from '../test/helpers/storage';

const CONNECTIONS = 64;
const IN_FLIGHT_PER_CONNECTION = 16;
const PROBE_EVERY_MS = 2;
const BODY = 'd'.repeat(200);
const TOPICS = [{ topic: 'orders', delayTopic: true }, { topic: 'R_test_chronos_inner_0' }, { topic: 'plain' }];

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

type Phase = 'adds' | 'pending' | 'deliveries';

/** sendSync latencies by phase, and the proxy's RSS samples by phase. */
class Observer {
  phase: Phase = 'adds';
  readonly latency = new Map<Phase, number[]>();
  readonly rss = new Map<Phase, number[]>();
  private pid = 0;
  private timer: NodeJS.Timeout | undefined;

  watch(pid: number): void {
    this.pid = pid;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.sample(), 250);
  }

  sample(): number {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const mib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    push(this.rss, this.phase, mib);
    return mib;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function push<K>(map: Map<K, number[]>, key: K, value: number): void {
  const list = map.get(key) ?? [];
  list.push(value);
  map.set(key, list);
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;

/** One sendSync at a time on its own connection, PROBE_EVERY_MS apart; each call's latency. */
async function probe(port: () => number, observer: Observer, running: () => boolean): Promise<void> {
  let client: ProducerClient | undefined;
  while (running()) {
    await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
    try {
      client ??= await ProducerClient.connect('127.0.0.1', port());
      const started = performance.now();
      const r = await client.sendSync({ topic: 'plain', body: BODY }, 1000);
      if (r.code === 0) push(observer.latency, observer.phase, performance.now() - started);
    } catch {
      client?.close();
      client = undefined; // the proxy restarting
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  client?.close();
}

async function main(): Promise<void> {
  const count = option('count', 1_000_000);
  const fireAfterS = option('fire-after', 240);
  const spreadS = option('spread', 60);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-bench-delay-'));
  const cleanups: (() => unknown)[] = [];
  const t = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;
  const config = writeConfig(dir, localConfig({ topics: TOPICS, extra: { dataDir: path.join(dir, 'data') } }));
  const observer = new Observer();
  let proxy: ChildProxy = await startProxyProcess(t, config);
  observer.watch(proxy.proc.pid!);
  let running = true;
  const probing = probe(() => proxy.port, observer, () => running);
  try {
    const startS = Math.ceil(Date.now() / 1000);
    const triggerOf = (i: number) => BigInt(startS + fireAfterS + (i % spreadS));
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => ProducerClient.connect('127.0.0.1', proxy.port, { callTimeoutMs: 60_000 })));
    let nextIndex = 0;
    let failed = 0;
    const addStarted = performance.now();
    await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: IN_FLIGHT_PER_CONNECTION }, async () => {
          for (let i = nextIndex++; i < count; i = nextIndex++) {
            const r = await client.sendDelaySync({ topic: 'orders', action: 1, body: BODY, timestamp: triggerOf(i), dmsgtype: 2, uuid: randomUUID() }, 10_000);
            if (r.code !== 0) failed++;
          }
        }),
      ),
    );
    const addSeconds = (performance.now() - addStarted) / 1000;
    clients.forEach((c) => c.close());
    observer.phase = 'pending';
    await new Promise((r) => setTimeout(r, 2000));
    const rssPending = observer.sample();

    observer.stop();
    proxy.proc.kill('SIGTERM');
    await proxy.exited;
    const restartStarted = performance.now();
    proxy = await startProxyProcess(t, config);
    const restartSeconds = (performance.now() - restartStarted) / 1000;
    observer.watch(proxy.proc.pid!);
    const rssRestarted = observer.sample();
    const firstTrigger = (startS + fireAfterS) * 1000;
    if (Date.now() > firstTrigger) process.stdout.write(`note: the adds and the restart took past the first trigger time by ${((Date.now() - firstTrigger) / 1000).toFixed(0)} s\n`);
    await new Promise((r) => setTimeout(r, Math.max(0, firstTrigger - Date.now())));
    observer.phase = 'deliveries';
    const dataDir = path.join(dir, 'data');
    const ok = count - failed;
    const countStored = async () => (await storedMessages(dataDir, 'orders')).length;
    // wait for the last second's deliveries, then for them all (checked rarely: reading the log is not free)
    await new Promise((r) => setTimeout(r, spreadS * 1000 + 2000));
    for (let stored = await countStored(); stored < ok; stored = await countStored()) await new Promise((r) => setTimeout(r, 5000));
    running = false;
    await probing;
    observer.stop();

    const lateness = (await storedMessages(dataDir, 'orders')).map((m) => m.timestamp - Number(m.key!.split('-')[0]) * 1000).sort((a, b) => a - b);
    const lines = [
      `local Chronos, ${count.toLocaleString('en')} delay messages of 200 B (${failed} adds failed)`,
      `  adds: ${(count / addSeconds).toFixed(0)} msg/s (${addSeconds.toFixed(1)} s), proxy RSS peak ${Math.max(...(observer.rss.get('adds') ?? [0])).toFixed(0)} MiB, ${rssPending.toFixed(0)} MiB with all pending`,
      `  restart with all pending: ${restartSeconds.toFixed(1)} s to listening, RSS ${rssRestarted.toFixed(0)} MiB after it`,
      `  deliveries: ${lateness.length.toLocaleString('en')}, lateness p50 ${quantile(lateness, 0.5)} ms, p99 ${quantile(lateness, 0.99)} ms, max ${quantile(lateness, 1)} ms; RSS peak ${Math.max(...(observer.rss.get('deliveries') ?? [0])).toFixed(0)} MiB`,
    ];
    for (const phase of ['adds', 'pending', 'deliveries'] as const) {
      const l = (observer.latency.get(phase) ?? []).sort((a, b) => a - b);
      lines.push(`  sendSync, one at a time ${PROBE_EVERY_MS} ms apart, during ${phase}: ${l.length} calls, p50 ${quantile(l, 0.5).toFixed(2)} ms, p99 ${quantile(l, 0.99).toFixed(2)} ms`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    running = false;
    observer.stop();
    for (const fn of cleanups) await fn();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
