/**
 * The real Prometheus server (Debian package `prometheus`) for a test: a fresh TSDB directory, a
 * free loopback port, scraping one target every second. Queried through its HTTP API, as a
 * dashboard or an alert rule would.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './config';
import { freePort } from './ports';
import { killNow } from './processes';

export const PROMETHEUS = '/usr/bin/prometheus';
export const PROMTOOL = '/usr/bin/promtool';

const SCRAPE_INTERVAL = '1s';

export class PrometheusServer {
  private proc: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  /** Scrapes `target` (host:port) at `metricsPath` every second. */
  static async start(t: TestContext, target: string, metricsPath = '/metrics'): Promise<PrometheusServer> {
    const dir = tempDir(t, 'pproxy-prometheus-');
    const config = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(
      config,
      [
        'global:',
        `  scrape_interval: ${SCRAPE_INTERVAL}`,
        `  scrape_timeout: ${SCRAPE_INTERVAL}`,
        'scrape_configs:',
        '  - job_name: pproxy',
        `    metrics_path: ${metricsPath}`,
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    const server = new PrometheusServer(await freePort());
    t.after(() => server.kill());
    await server.run(config, path.join(dir, 'tsdb'));
    return server;
  }

  private async run(config: string, tsdb: string): Promise<void> {
    let output = '';
    const proc = spawn(
      PROMETHEUS,
      [`--config.file=${config}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${this.port}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (error) => reject(new Error(`cannot run ${PROMETHEUS} (scripts/install-test-deps.sh installs it): ${error.message}`)));
    });
    this.proc = proc;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}):\n${output}`);
      const ready = await fetch(`${this.url}/-/ready`).then((r) => r.status, () => 0);
      if (ready === 200) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`prometheus was not ready within 30 s:\n${output}`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** An instant query: each series' labels and value. Throws on a query Prometheus refuses. */
  async query(expr: string): Promise<{ metric: Record<string, string>; value: number }[]> {
    const response = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== 'success' || !body.data) throw new Error(`prometheus refused ${expr}: ${body.error ?? response.status}`);
    return body.data.result.map(({ metric, value }) => ({ metric, value: Number(value[1]) }));
  }

  /** The sum of an instant query's values; 0 when it has no series. */
  async sum(expr: string): Promise<number> {
    return (await this.query(expr)).reduce((total, series) => total + series.value, 0);
  }

  /** The newest scrape of the target: when it ended (ms) and whether it succeeded. */
  async lastScrape(): Promise<{ at: number; health: string; error: string } | undefined> {
    const response = await fetch(`${this.url}/api/v1/targets?state=active`);
    const body = (await response.json()) as { data: { activeTargets: { lastScrape: string; health: string; lastError: string }[] } };
    const target = body.data.activeTargets[0];
    return target && { at: Date.parse(target.lastScrape), health: target.health, error: target.lastError };
  }

  /** Waits for a successful scrape that began after `since` (ms): what the target had then is queryable. */
  async scrapedAfter(since: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: Awaited<ReturnType<PrometheusServer['lastScrape']>>;
    while (Date.now() < deadline) {
      last = await this.lastScrape();
      // lastScrape is when the scrape started
      if (last && last.health === 'up' && last.at > since) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no successful scrape after ${new Date(since).toISOString()} within ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }

  kill(): Promise<void> {
    return killNow(this.proc);
  }
}

/** `promtool check metrics` on an exposition: its exit status and what it printed (problems, lint). */
export function promtoolCheckMetrics(exposition: string): { status: number | null; output: string } {
  const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run ${PROMTOOL} (scripts/install-test-deps.sh installs it): ${result.error.message}`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
