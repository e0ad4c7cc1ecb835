/**
 * Side-by-side benchmark of pproxy against a bare framed server, a no-op stock Thrift server and
 * kafkajs used directly, with the same load from one process (see bench/scenarios.ts).
 *
 *   npm run bench                                  everything, about 2-3 minutes on 2 cores
 *   node dist/bench/run.js --scenarios 1,3 --only c,d --duration 2
 *   node dist/bench/run.js --scenarios 3 --only a,d --rate 48000   scenario 3 at a fixed rate
 *   node dist/bench/run.js --scenarios 1,3 --only c,d --baseline ../before   this build against another
 *
 * Options: --scenarios 1,...,5 (default all), --only a,...,f (systems, default all),
 * --duration S (measured seconds per run, 5; scenario 5 runs twice as long), --warmup S (2),
 * --rate N (scenario 3's calls/s instead of half of 1/d's msgs/s, which then is not measured),
 * --baseline DIR (another checkout, built, with bin/pproxy-server: each pproxy run (c, d) is followed by
 * the same run of that build, for a before/after of a change in one run), --out FILE (JSON results,
 * default dist/bench-results.json).
 * Progress goes to stderr, the table to stdout. Exit code 1 when a run failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../test/helpers/proxy';
import { measure, type RunResult } from './measure';
import { formatReport, writeJson, type Row } from './report';
import { SCENARIOS, SCENARIO_IDS, type PlanContext, type RunPlan } from './scenarios';
import { PROXY_SYSTEMS, SYSTEMS, type SystemId } from './systems';
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
      out: { type: 'string' },
    },
  });
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
    out: values.out ? path.resolve(values.out) : path.join(REPO_ROOT, 'dist/bench-results.json'),
  };
}

function baselineBuild(dir: string): string {
  const root = path.resolve(dir);
  for (const file of ['bin/pproxy-server', 'dist/src/main.js']) {
    if (!fs.existsSync(path.join(root, file))) throw new Error(`--baseline ${dir}: no ${file} (a checkout built with npm run build)`);
  }
  return root;
}

async function main(): Promise<number> {
  const options = parseOptions();
  const rows: Row[] = [];
  let current: Teardown | undefined;
  const interrupted = (signal: string) => {
    process.stderr.write(`bench: ${signal}, stopping what runs\n`);
    void (current?.run() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const run = async (plan: RunPlan): Promise<Row> => {
    const label = `${plan.scenario}/${plan.system} ${SYSTEMS[plan.system]}${plan.baseline ? ' [baseline]' : ''}`;
    process.stderr.write(`bench: ${label} ...`);
    current = new Teardown();
    let row: Row;
    try {
      const result = await measure(plan, { warmupMs: options.warmupMs, graceMs: GRACE_MS }, current);
      process.stderr.write(` ${Math.round(result.msgsPerSec)} msgs/s\n`);
      row = result;
    } catch (err) {
      process.stderr.write(` failed: ${(err as Error).stack}\n`);
      row = { plan: { scenario: plan.scenario, system: plan.system, baseline: plan.baseline }, error: (err as Error).message };
    } finally {
      await current.run();
    }
    rows.push(row);
    return row;
  };

  const scenario1 = SCENARIOS.find((s) => s.id === '1')!;
  const context: PlanContext = {
    durationMs: options.durationMs,
    openLoopRate: options.rate,
    peakOfD: async () => {
      const measured = rows.find((r): r is RunResult => r.plan.scenario === '1' && r.plan.system === 'd' && !r.plan.baseline && !('error' in r));
      const row = measured ?? (await run(await scenario1.plan('d', context)));
      if ('error' in row) throw new Error(`no peak of 1/d to take half of: ${row.error}`);
      return row.msgsPerSec;
    },
  };

  for (const scenario of SCENARIOS.filter((s) => options.scenarios.includes(s.id))) {
    for (const system of scenario.systems.filter((s) => options.systems.includes(s))) {
      let plan: RunPlan;
      try {
        plan = await scenario.plan(system, context);
      } catch (err) {
        rows.push({ plan: { scenario: scenario.id, system }, error: (err as Error).message });
        continue;
      }
      await run(plan);
      if (options.baseline && PROXY_SYSTEMS.includes(system)) await run({ ...plan, baseline: options.baseline });
    }
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
