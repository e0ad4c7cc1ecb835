/**
 * Side-by-side benchmark of pproxy against a bare framed server, a no-op stock Thrift server and
 * kafkajs used directly, with the same load from one process (see bench/scenarios.ts), to librdkafka's
 * mock and to real Kafka 4 and RocketMQ 5 brokers (g-j, from scripts/fetch-test-peers.sh's jars).
 *
 *   npm run bench                                  everything, about 4-5 minutes on 2 cores
 *   node dist/bench/run.js --only a,b,c,d,e,f      without the real brokers (no Java, no jars)
 *   node dist/bench/run.js --scenarios 1,3 --only c,d --duration 2
 *   node dist/bench/run.js --scenarios 3 --only a,d --rate 48000   scenario 3 at a fixed rate
 *   node dist/bench/run.js --scenarios 1,3 --only c,d --baseline ../before   this build against another
 *   node dist/bench/run.js --scenarios 1,2 --only c,d --metrics on,off --repeat 3   the cost of metrics
 *   node dist/bench/run.js --scenarios 1,2 --only c,d --metrics on,off --repeat 9 --side-by-side   the same, both at once
 *   node dist/bench/run.js --scenarios 1 --only c --tls on,off --repeat 9 --side-by-side   the cost of TLS on the Thrift port
 *
 * Options: --scenarios 1,...,5 (default all), --only a,...,k (systems, default all),
 * --duration S (measured seconds per run, 5; scenario 5 runs twice as long), --warmup S (2),
 * --rate N (scenario 3's calls/s instead of half of 1/d's msgs/s, which then is not measured),
 * --baseline DIR (another checkout, built, with bin/pproxy-server: each pproxy run (c, d, g, j, k) is followed by
 * the same run of that build, in each metrics and TLS setting, for a before/after of a change in one run),
 * --metrics on,off (pproxy with its metrics on, the admin listener on a free port, and/or off,
 * adminPort 0; default off: each pproxy run is made in each, interleaved), --tls on,off (pproxy's
 * Thrift port with TLS, a certificate made for the run, the load generator connecting over TLS, and/or
 * plain TCP; default off: like --metrics, each pproxy run in each, and in each metrics setting),
 * --repeat N (each pproxy run N times, its variants interleaved each time, 1), --side-by-side (a pproxy
 * run's variants, metrics and TLS on and off and the baseline, driven at the same time, each with the
 * whole load, instead of one after the other: a change in the machine's load falls on all of them
 * alike), --out FILE (JSON results,
 * default dist/bench-results.json), --help (the systems and scenarios).
 * Progress goes to stderr, the table to stdout. Exit code 1 when a run failed, 2 when the options
 * are wrong or a selected system's broker jars are not fetched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { missingPeers, RunBrokers, type BrokerPeer } from './brokers';
import { measure, measureTogether, type RunResult } from './measure';
import { REPO_ROOT } from './peers/peer-jars';
import { formatReport, writeJson, type Row } from './report';
import { SCENARIOS, SCENARIO_IDS, type PlanContext, type RunPlan } from './scenarios';
import { PARTITIONS } from './proxy-config';
import { PEER_OF, PROXY_SYSTEMS, SYSTEMS, TOPIC, type SystemId } from './systems';
import { Teardown } from './teardown';

/** How long the calls still outstanding after a window may take: beyond sendSync's 5 s timeout. */
const GRACE_MS = 15_000;

function parseOptions() {
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string', default: SCENARIO_IDS.join(',') },
      only: { type: 'string', default: Object.keys(SYSTEMS).join(',') },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      rate: { type: 'string' },
      baseline: { type: 'string' },
      metrics: { type: 'string', default: 'off' },
      tls: { type: 'string', default: 'off' },
      repeat: { type: 'string', default: '1' },
      'side-by-side': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return undefined;
  const list = <T extends string>(value: string, allowed: readonly T[], what: string): T[] =>
    value.split(',').map((v) => {
      if (!allowed.includes(v.trim() as T)) throw new Error(`unknown ${what} ${JSON.stringify(v)} (one of ${allowed.join(',')})`);
      return v.trim() as T;
    });
  const positive = (value: string, what: string) => {
    const n = Number(value);
    if (!(n > 0)) throw new Error(`--${what} must be a positive number`);
    return n;
  };
  const wholeNumber = (value: string, what: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${what} must be a whole number of at least 1`);
    return n;
  };
  const seconds = (value: string, what: string) => {
    const n = Number(value);
    if (!(n >= 0)) throw new Error(`--${what} must be a number of seconds`);
    return n * 1000;
  };
  return {
    scenarios: list(values.scenarios, SCENARIO_IDS, 'scenario'),
    systems: list(values.only, Object.keys(SYSTEMS) as SystemId[], 'system'),
    durationMs: seconds(values.duration, 'duration'),
    warmupMs: seconds(values.warmup, 'warmup'),
    rate: values.rate === undefined ? undefined : positive(values.rate, 'rate'),
    baseline: values.baseline === undefined ? undefined : baselineBuild(values.baseline),
    metrics: [...new Set(list(values.metrics, ON_OFF, 'metrics setting'))].map((setting) => setting === 'on'),
    tls: [...new Set(list(values.tls, ON_OFF, 'tls setting'))].map((setting) => setting === 'on'),
    repeat: wholeNumber(values.repeat, 'repeat'),
    sideBySide: values['side-by-side'] === true,
    out: values.out ? path.resolve(values.out) : path.join(REPO_ROOT, 'dist/bench-results.json'),
  };
}

/** --metrics (pproxy with its admin listener on, or adminPort 0) and --tls (its Thrift port over TLS, or plain). */
const ON_OFF = ['on', 'off'] as const;

function baselineBuild(dir: string): string {
  const root = path.resolve(dir);
  for (const file of ['bin/pproxy-server', 'dist/src/main.js']) {
    if (!fs.existsSync(path.join(root, file))) throw new Error(`--baseline ${dir}: no ${file} (a checkout built with npm run build)`);
  }
  return root;
}

/** Which selected systems need which real broker, for the selected scenarios' runs. */
function peersNeeded(systems: SystemId[]): Partial<Record<BrokerPeer, string[]>> {
  const needs: Partial<Record<BrokerPeer, string[]>> = {};
  for (const system of systems) {
    const peer = PEER_OF[system];
    if (peer) (needs[peer] ??= []).push(system);
  }
  return needs;
}

/** The --help text: the options, and the systems and scenarios they select from. */
function usage(): string {
  return [
    'usage: node dist/bench/run.js [--scenarios 1,2,...] [--only a,b,...] [--duration S] [--warmup S] [--rate N] [--baseline DIR] [--metrics on,off] [--tls on,off] [--repeat N] [--side-by-side] [--out FILE]',
    '',
    `systems (--only, default all; ${Object.keys(PEER_OF).join(',')} need Java and the jars scripts/fetch-test-peers.sh fetches):`,
    ...Object.entries(SYSTEMS).map(([id, name]) => `  ${id}  ${name}`),
    'scenarios (--scenarios, default all):',
    ...SCENARIOS.map((s) => `  ${s.id}  ${s.title} [${s.systems.join(',')}]`),
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const options = parseOptions();
  if (!options) {
    process.stdout.write(usage());
    return 0;
  }
  const selected = SCENARIOS.filter((s) => options.scenarios.includes(s.id));
  const running = Object.keys(SYSTEMS).filter((id) => selected.some((s) => s.systems.includes(id as SystemId)) && options.systems.includes(id as SystemId)) as SystemId[];
  const missing = missingPeers(peersNeeded(running));
  if (missing.length > 0) {
    const others = running.filter((id) => !missing.some((m) => m.systems.includes(id)));
    throw new Error(`${missing.map((m) => m.message).join('\n')}${others.length > 0 ? `\nor run without them: --only ${others.join(',')}` : ''}`);
  }
  const rows: Row[] = [];
  const brokers = new RunBrokers(TOPIC, PARTITIONS);
  let current: Teardown | undefined;
  const interrupted = (signal: string) => {
    process.stderr.write(`bench: ${signal}, stopping what runs\n`);
    void (current?.run() ?? Promise.resolve()).finally(() => brokers.stop()).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const label = (plan: RunPlan) => `${plan.scenario}/${plan.system} ${SYSTEMS[plan.system]}${plan.baseline ? ' [baseline]' : ''}${plan.metrics ? ' [metrics on]' : ''}${plan.tls ? ' [tls]' : ''}`;
  const failed = (plan: RunPlan, err: unknown): Row => ({
    plan: { scenario: plan.scenario, system: plan.system, baseline: plan.baseline, metrics: plan.metrics, tls: plan.tls },
    error: (err as Error).message,
  });
  const timing = { warmupMs: options.warmupMs, graceMs: GRACE_MS };
  const run = async (plan: RunPlan): Promise<Row> => {
    process.stderr.write(`bench: ${label(plan)} ...`);
    current = new Teardown();
    let row: Row;
    try {
      const result = await measure(plan, timing, current, brokers);
      process.stderr.write(` ${Math.round(result.msgsPerSec)} msgs/s\n`);
      row = result;
    } catch (err) {
      process.stderr.write(` failed: ${(err as Error).stack}\n`);
      row = failed(plan, err);
    } finally {
      await current.run();
    }
    rows.push(row);
    return row;
  };
  /** --side-by-side: the variants of one run at once. */
  const runTogether = async (plans: RunPlan[]): Promise<void> => {
    process.stderr.write(`bench: ${plans.map(label).join(' + ')} ...`);
    current = new Teardown();
    try {
      const results = await measureTogether(plans, timing, current, brokers);
      process.stderr.write(` ${results.map((r) => Math.round(r.msgsPerSec)).join(' + ')} msgs/s\n`);
      rows.push(...results);
    } catch (err) {
      process.stderr.write(` failed: ${(err as Error).stack}\n`);
      rows.push(...plans.map((plan) => failed(plan, err)));
    } finally {
      await current.run();
    }
  };

  const scenario1 = SCENARIOS.find((s) => s.id === '1')!;
  const context: PlanContext = {
    durationMs: options.durationMs,
    openLoopRate: options.rate,
    peakOfD: async () => {
      const measured = rows.find((r): r is RunResult => r.plan.scenario === '1' && r.plan.system === 'd' && !r.plan.baseline && !r.plan.metrics && !r.plan.tls && !('error' in r));
      const row = measured ?? (await run(await scenario1.plan('d', context)));
      if ('error' in row) throw new Error(`no peak of 1/d to take half of: ${row.error}`);
      return row.msgsPerSec;
    },
  };

  try {
    for (const scenario of selected) {
      for (const system of scenario.systems.filter((s) => options.systems.includes(s))) {
        let plan: RunPlan;
        try {
          plan = await scenario.plan(system, context);
        } catch (err) {
          rows.push({ plan: { scenario: scenario.id, system }, error: (err as Error).message });
          continue;
        }
        if (!PROXY_SYSTEMS.includes(system)) {
          await run(plan);
          continue;
        }
        // interleaved, and in turn first, so that a change in the machine's load over the bench falls on each variant alike
        for (let i = 0; i < options.repeat; i++) {
          const settings = options.metrics.flatMap((metrics) => options.tls.map((tls) => ({ metrics, tls })));
          if (i % 2 === 1) settings.reverse();
          const variants: RunPlan[] = settings.map((setting) => ({ ...plan, ...setting }));
          // the baseline in each setting too, so that a before/after compares like with like
          if (options.baseline) variants.push(...settings.map((setting) => ({ ...plan, ...setting, baseline: options.baseline })));
          if (options.sideBySide) await runTogether(variants);
          else for (const variant of variants) await run(variant);
        }
      }
    }
  } finally {
    await brokers.stop();
  }

  process.stdout.write(formatReport(SCENARIOS, rows));
  writeJson(options.out, { ...options, graceMs: GRACE_MS }, rows);
  process.stdout.write(`\nJSON: ${path.relative(process.cwd(), options.out) || options.out}\n`);
  return rows.some((r) => 'error' in r) ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exitCode = 2;
  },
);
