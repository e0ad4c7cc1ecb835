/**
 * The systems under test, each started fresh for one run so that its peak RSS is that run's.
 * Servers (a-d, g, j, k) are child processes driven by this process's load generator; the kafkajs
 * application (e, f, h, i) is a child process that drives itself (kafka-app.ts). The real brokers
 * behind g-k start once per bench run (brokers.ts).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { issueServer, makeCa } from '../test/helpers/certificates';
import { MockKafka } from '../test/helpers/kafka';
import { startProxyProcess } from '../test/helpers/proxy';
import type { BrokerPeer, RunBrokers } from './brokers';
import { encodeCall, type CallTemplate } from './frames';
import type { KafkaJob, KafkaReply } from './kafka-app';
import { freePort } from './peers/ports';
import { drive, type Load, type Timing } from './load';
import { PARTITIONS, writeProxyConfig, type ProxyOptions } from './proxy-config';
import type { Measurement } from './recorder';
import { cpuSecondsOf } from './cpu';
import { peakRssOf } from './rss';
import type { Teardown } from './teardown';
import { ThriftTarget } from './thrift-target';

export const SYSTEMS = {
  a: 'echo server (framing floor)',
  b: 'stock thrift, no-op handler',
  c: 'pproxy -> local storage',
  d: 'pproxy -> Kafka mock',
  e: 'kafkajs direct, 1 msg/send',
  f: 'kafkajs direct, 50 msgs/send',
  g: 'pproxy -> real Kafka 4',
  h: 'kafkajs -> real Kafka 4, 1 msg/send',
  i: 'kafkajs -> real Kafka 4, 50 msgs/send',
  j: 'pproxy -> real RocketMQ 5',
  k: 'pproxy -> real RocketMQ 4',
} as const;
export type SystemId = keyof typeof SYSTEMS;

/** The real broker each system needs, started from the jars scripts/fetch-test-peers.sh fetches. */
export const PEER_OF: Partial<Record<SystemId, BrokerPeer>> = { g: 'kafka-4', h: 'kafka-4', i: 'kafka-4', j: 'rocketmq-5', k: 'rocketmq-4' };

export const TOPIC = 'bench';
const CONNECTIONS = 32;
/** sendSync's timeout argument: generous, so that a slow answer shows as latency, not as 12. */
const SEND_TIMEOUT_MS = 5000;
const LARGE_BODY_BYTES = 1024 * 1024;
/** Messages per send() of the kafkajs batch client (f). */
const KAFKA_BATCH = 50;

export interface Workload {
  /** Messages per Thrift call: 1 is sendSync, more is sendBatchSync. */
  batch: number;
  bodyBytes: number;
  /** Every Nth call carries a 1 MiB body instead. */
  largeEvery?: number;
}

export interface SystemUnderTest {
  drive(load: Load, timing: Timing): Promise<Measurement>;
  /** Peak RSS in MiB (NaN when the process is gone), read once the load is over. */
  peakRss(): number;
  /** CPU seconds the server used in the measured window; NaN where the load runs in the measured process. */
  windowCpuSeconds(): number;
  rssOf: 'server' | 'kafkajs application';
  /** Anything worth reporting: the proxy's warnings and errors, an exited server, dropped connections. */
  notes(): string[];
}

/** The systems that are pproxy, which --baseline also runs from another build. */
export const PROXY_SYSTEMS: readonly SystemId[] = ['c', 'd', 'g', 'j', 'k'];

/** Where pproxy system `id` stores: local (c), the Kafka mock (d), real Kafka 4 (g), real RocketMQ 5 (j), real RocketMQ 4 (k). */
async function proxyStorage(id: SystemId, teardown: Teardown, brokers: RunBrokers): Promise<ProxyOptions> {
  switch (id) {
    case 'd':
      return { kafka: (await startMock(teardown)).bootstraps };
    case 'g':
      return { kafka: await brokers.kafka4() };
    case 'j':
      return { rocketmq: { protocol: 'grpc', addresses: [await brokers.rocketmq5()] } };
    case 'k':
      return { rocketmq: { protocol: 'remoting', addresses: [await brokers.rocketmq4()] } };
    default:
      return {};
  }
}

export async function startSystem(
  id: SystemId,
  workload: Workload,
  proxy: ProxyOptions,
  teardown: Teardown,
  brokers: RunBrokers,
  baseline?: string,
  metrics = false,
  tls = false,
): Promise<SystemUnderTest> {
  switch (id) {
    case 'a':
    case 'b': {
      const server = await spawnServer(id === 'a' ? 'echo.js' : 'stock-thrift.js', teardown);
      return thriftSystem(server.proc, server.port, workload, teardown, () => []);
    }
    case 'c':
    case 'd':
    case 'g':
    case 'j':
    case 'k': {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-bench-'));
      teardown.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      const admin = metrics ? { adminPort: await freePort() } : {};
      // a P-256 certificate of a CA made for the run: TLS 1.3 with Node's defaults on both sides
      const ca = tls ? makeCa(dir, 'bench-ca') : undefined;
      const certificate = ca ? { tls: issueServer(ca) } : {};
      const config = writeProxyConfig(dir, TOPIC, { ...proxy, ...admin, ...certificate, ...(await proxyStorage(id, teardown, brokers)) });
      const server = baseline === undefined ? undefined : path.join(baseline, 'bin/pproxy-server');
      const child = await startProxyProcess(teardown.asTestContext(), config.file, server);
      return thriftSystem(child.proc, child.port, workload, teardown, () => [...config.notes, ...proxyLogSummary(child.output())], ca?.cert);
    }
    case 'e':
    case 'f':
    case 'h':
    case 'i': {
      const bootstraps = id === 'e' || id === 'f' ? (await startMock(teardown)).bootstraps : await brokers.kafka4();
      const batch = id === 'e' || id === 'h' ? 1 : KAFKA_BATCH;
      let peak = NaN;
      return {
        drive: async (load, timing) => {
          const reply = await runKafkaApp({ brokers: bootstraps, topic: TOPIC, partitions: PARTITIONS, batch, bodyBytes: workload.bodyBytes, load, timing }, teardown);
          peak = reply.peakRssMiB;
          return reply.measurement;
        },
        peakRss: () => peak,
        windowCpuSeconds: () => NaN,
        rssOf: 'kafkajs application',
        notes: () => [],
      };
    }
  }
}

/** Runs one job in a kafka-app.js child process. */
async function runKafkaApp(job: KafkaJob, teardown: Teardown): Promise<Extract<KafkaReply, { measurement: Measurement }>> {
  const child = fork(path.join(__dirname, 'kafka-app.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  teardown.after(() => kill(child));
  const reply = await new Promise<KafkaReply>((resolve, reject) => {
    child.once('message', (m) => resolve(m as KafkaReply));
    child.once('exit', (code, signal) => reject(new Error(`kafka-app exited (${code ?? signal}) without an answer`)));
    child.send(job);
  });
  if ('error' in reply) throw new Error(`kafka-app: ${reply.error}`);
  return reply;
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await exited;
}

async function thriftSystem(
  proc: ChildProcess,
  port: number,
  workload: Workload,
  teardown: Teardown,
  serverNotes: () => string[],
  caFile?: string,
): Promise<SystemUnderTest> {
  const target = await ThriftTarget.connect(port, CONNECTIONS, templates(workload), caFile);
  teardown.after(() => target.close());
  const pid = proc.pid!;
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  let cpuAtBegin = NaN;
  let windowCpu = NaN;
  const window = {
    begin: () => (cpuAtBegin = alive() ? cpuSecondsOf(pid) : NaN),
    end: () => (windowCpu = alive() ? cpuSecondsOf(pid) - cpuAtBegin : NaN),
  };
  return {
    drive: (load, timing) => drive(target, load, { ...timing, window }),
    peakRss: () => (alive() ? peakRssOf(pid) : NaN),
    windowCpuSeconds: () => windowCpu,
    rssOf: 'server',
    notes: () => [
      ...serverNotes(),
      ...(proc.exitCode !== null || proc.signalCode !== null ? [`server exited during the run (${proc.exitCode ?? proc.signalCode})`] : []),
      ...target.protocolErrors().map((e) => `connection dropped by the load generator: ${e}`),
    ],
  };
}

/** Which pre-encoded request each call sends. */
function templates(workload: Workload): (index: number) => CallTemplate {
  const shape = { topic: TOPIC, batch: workload.batch, timeoutMs: SEND_TIMEOUT_MS };
  const small = encodeCall({ ...shape, bodyBytes: workload.bodyBytes });
  const every = workload.largeEvery;
  if (!every) return () => small;
  const large = encodeCall({ ...shape, bodyBytes: LARGE_BODY_BYTES });
  return (index) => (index % every === every - 1 ? large : small);
}

/** Starts bench/servers/<script> (compiled, next to this file) and waits for "listening <port>". */
async function spawnServer(script: string, teardown: Teardown): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [path.join(__dirname, 'servers', script)], { stdio: ['ignore', 'pipe', 'inherit'] });
  teardown.after(() => kill(proc));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 10_000);
    readline.createInterface({ input: proc.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      const m = /^listening (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`${script}: unexpected first line: ${line}`));
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code})`));
    });
  });
  return { proc, port };
}

async function startMock(teardown: Teardown): Promise<MockKafka> {
  const mock = await MockKafka.start(teardown.asTestContext(), 3);
  await mock.createTopic(TOPIC, PARTITIONS);
  return mock;
}

const LEVELS: Record<number, string> = { 40: 'warn', 50: 'error', 60: 'fatal' };

/**
 * The proxy's warnings and errors (it logs JSON lines to stdout with --foreground), grouped by
 * message and code, counting what its throttled warnings suppressed; other output verbatim.
 */
function proxyLogSummary(output: string): string[] {
  const counts = new Map<string, number>();
  const other: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.trim() || / listening on /.test(line)) continue;
    let entry: { level?: number; msg?: string; code?: string; err?: unknown; suppressedSinceLast?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      other.push(line.slice(0, 200));
      continue;
    }
    if ((entry.level ?? 0) < 40) continue;
    const detail = entry.code ?? (typeof entry.err === 'string' ? entry.err.slice(0, 120) : '');
    const key = `pproxy ${LEVELS[entry.level!] ?? entry.level}: ${entry.msg}${detail ? ` (${detail})` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1 + (entry.suppressedSinceLast ?? 0));
  }
  return [...[...counts].map(([key, n]) => `${key} x${n}`), ...other.slice(0, 5)];
}
