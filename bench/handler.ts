/**
 * The CPU a request costs in the proxy's own code, with metrics off and on: a decoded frame through
 * the producer service, the pipeline (validation, the limiter, auto-batching, routing, the storage
 * budget) and a storage that stores at once, with no socket and no broker in the way. Calls are made
 * one at a time (no batch forms: every send is a storage write of its own) and with 64 in flight
 * (auto-batching shares writes, as under the benchmark's load). Rounds of each variant run
 * interleaved, so a busy machine slows them alike; the table gives each variant's median CPU per
 * message and what metrics add to it. Run: npm run bench:handler [-- --rounds N --calls N]
 */
import { AutoBatcher } from '../src/batch/auto-batcher';
import { configSchemas } from '../src/config/schema';
import { ProducerPipeline } from '../src/core/pipeline';
import { batchSettings, buildPolicy } from '../src/core/policy';
import { DEFAULT_PROPERTY_LIMITS } from '../src/core/property-limits';
import { buildRoutingTable } from '../src/core/routing-table';
import { StorageBudgets } from '../src/core/storage-budget';
import type { DelaySender } from '../src/delay/delay-sender';
import { silentLogger } from '../src/log';
import { ProxyMetrics } from '../src/metrics/proxy-metrics';
import { loadStorageRegistry } from '../src/node-configuration';
import { callerOf } from '../src/security/caller';
import { createProducerFrameHandler } from '../src/server/producer-service';
import type { ClusterStorage, OutgoingMessage, SendOutcome } from '../src/storage/storage';
import { realTimers } from '../src/time/timers';
import { SEQID_MIN, callHead, encodeCall, type CallTemplate } from './frames';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const TOPIC = 'bench';
const CLUSTER = 'C';
/** A plain-TCP client, as the server hands its connection to the handler. */
const BENCH_CALLER = callerOf('127.0.0.1', []);

/** Stores everything at once: what is measured is the proxy, not a storage. */
const instantStorage: ClusterStorage = {
  cluster: CLUSTER,
  kind: 'instant',
  maxMessageSize: undefined,
  start: () => Promise.resolve(),
  send: (messages: readonly OutgoingMessage[]) => Promise.resolve(messages.map((): SendOutcome => ({ ok: true, partition: 0, offset: undefined }))),
  close: () => Promise.resolve(),
};

type Handler = (frame: Buffer) => unknown;

async function proxyHandler(metricsOn: boolean): Promise<Handler> {
  const schemas = configSchemas(loadStorageRegistry().types);
  // the shipped carrera.yaml's auto-batching, and the limiter on with room for any rate
  const pproxy = schemas.strict.pproxyConfig.parse({
    proxyCluster: 'P',
    brokerClusters: [CLUSTER],
    carreraConfiguration: { useAutoBatch: true, useRequestLimiter: true, maxTps: 1e12, localConfigurationMap: { [CLUSTER]: {} } },
  });
  const topic = schemas.strict.topicConfig.parse({ topic: TOPIC, autoBatch: true, topicUnits: [{ brokerCluster: CLUSTER, maxTps: 1e12 }] });
  const routing = await buildRoutingTable(pproxy, [topic], new Map([[CLUSTER, instantStorage]]), { instance: 'bench', requireBinding: false });
  const metrics = new ProxyMetrics(metricsOn);
  metrics.configure([TOPIC], [CLUSTER]);
  const conf = pproxy.carreraConfiguration;
  const { policy } = buildPolicy(conf, routing, undefined, realTimers.now, metrics);
  const budgets = new StorageBudgets(Number.MAX_SAFE_INTEGER, { metrics });
  const batcher = new AutoBatcher(batchSettings(conf), budgets);
  const pipeline = new ProducerPipeline(routing, policy, { logger: silentLogger(), timers: realTimers, random: Math.random, batcher, budgets, metrics });
  const handler = createProducerFrameHandler(pipeline, {} as DelaySender, silentLogger(), { propertyLimits: DEFAULT_PROPERTY_LIMITS }, metrics);
  return (frame) => handler(frame, realTimers.now(), BENCH_CALLER);
}

/** The frame of `template` without its length prefix, as the server hands it to the handler. */
function frameOf(template: CallTemplate, seqid: number): Buffer {
  return Buffer.concat([callHead(template, seqid).subarray(4), template.tail]);
}

/** CPU nanoseconds per message of `calls` calls, `inFlight` at a time (each caller sends its next once answered). */
async function round(handler: Handler, frames: Buffer[], messagesPerCall: number, calls: number, inFlight: number): Promise<number> {
  let next = 0;
  const caller = async () => {
    while (next < calls) await handler(frames[next++ % frames.length]!);
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: inFlight }, caller));
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / (calls * messagesPerCall);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const rounds = option('rounds', 15);
  const calls = option('calls', 2000);
  const shapes = [
    { label: 'sendSync, 100 B', inFlight: 1, template: encodeCall({ topic: TOPIC, bodyBytes: 100, batch: 1, timeoutMs: 1000 }) },
    { label: 'sendSync, 100 B', inFlight: 64, template: encodeCall({ topic: TOPIC, bodyBytes: 100, batch: 1, timeoutMs: 1000 }) },
    { label: 'sendBatchSync, 50 x 100 B', inFlight: 1, template: encodeCall({ topic: TOPIC, bodyBytes: 100, batch: 50, timeoutMs: 1000 }) },
    { label: 'sendBatchSync, 50 x 100 B', inFlight: 64, template: encodeCall({ topic: TOPIC, bodyBytes: 100, batch: 50, timeoutMs: 1000 }) },
  ];
  const handlers = { off: await proxyHandler(false), on: await proxyHandler(true) };
  console.log(`CPU per message in the proxy's own code, median of ${rounds} interleaved rounds of ${calls} calls`);
  console.log(`${'call'.padEnd(28)}${'in flight'.padStart(10)}${'metrics off'.padStart(14)}${'metrics on'.padStart(14)}${'added'.padStart(10)}${'on/off'.padStart(9)}`);
  for (const { label, inFlight, template } of shapes) {
    const frames = Array.from({ length: 64 }, (_, i) => frameOf(template, SEQID_MIN + i));
    const samples: Record<'off' | 'on', number[]> = { off: [], on: [] };
    for (const variant of ['off', 'on'] as const) await round(handlers[variant], frames, template.messages, calls, inFlight); // warm-up
    for (let r = 0; r < rounds; r++) {
      // alternate which goes first, so neither always follows the other's garbage
      const order = r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      for (const variant of order) samples[variant].push(await round(handlers[variant], frames, template.messages, calls, inFlight));
    }
    const [off, on] = [median(samples.off), median(samples.on)];
    console.log(
      `${label.padEnd(28)}${String(inFlight).padStart(10)}${`${off.toFixed(0)} ns`.padStart(14)}${`${on.toFixed(0)} ns`.padStart(14)}` +
        `${`${(on - off).toFixed(0)} ns`.padStart(10)}${`${(on / off).toFixed(3)}x`.padStart(9)}`,
    );
  }
}

void main();
