/**
 * `pproxy top`: a terminal view of one running proxy, read from its admin listener's /metrics
 * every interval. On a terminal it refreshes in place until q or Ctrl-C; through a pipe it reads
 * twice, one interval apart (a rate needs two readings), prints one snapshot and exits.
 */
import { realTimers, type Timers } from '../time/timers';
import { parseExposition } from './top/exposition';
import { renderFrame } from './top/render';
import { processTerminal, redrawSequence, type TopTerminal } from './top/terminal';
import { buildView, type Scrape, type TopView } from './top/top-view';

export const DEFAULT_ADMIN = '127.0.0.1:9614';

export interface TopOptions {
  url?: string;
  admin?: string;
  /** ms between readings. */
  interval: number;
}

export interface TopDependencies {
  readonly terminal: TopTerminal;
  readonly timers: Timers;
  /** The exposition text at `url`. */
  readonly read: (url: string) => Promise<string>;
}

export function metricsUrl(options: Pick<TopOptions, 'url' | 'admin'>): string {
  return options.url ?? `http://${options.admin ?? DEFAULT_ADMIN}/metrics`;
}

export async function runTop(options: TopOptions, deps: TopDependencies = defaultDependencies()): Promise<number> {
  const url = metricsUrl(options);
  return deps.terminal.interactive ? refreshInPlace(url, options.interval, deps) : printSnapshot(url, options.interval, deps);
}

async function scrape(url: string, deps: TopDependencies): Promise<Scrape> {
  const text = await deps.read(url);
  return { at: deps.timers.now(), samples: parseExposition(text) };
}

async function printSnapshot(url: string, interval: number, deps: TopDependencies): Promise<number> {
  const first = await scrape(url, deps);
  await new Promise<void>((resolve) => deps.timers.set(resolve, interval));
  const second = await scrape(url, deps);
  const lines = renderFrame(buildView(first, second), { url, width: Infinity, height: Infinity, at: second.at });
  deps.terminal.write(`${lines.join('\n')}\n`);
  return 0;
}

function refreshInPlace(url: string, interval: number, deps: TopDependencies): Promise<number> {
  const { terminal, timers } = deps;
  let previous: Scrape | undefined;
  let view: TopView | undefined;
  let error: string | undefined;
  let timer: unknown;
  let stopped = false;

  const draw = () => {
    const { columns, rows } = terminal.size();
    terminal.write(redrawSequence(renderFrame(view, { url, width: columns, height: rows, at: previous?.at ?? timers.now(), ...(error && { error }) })));
  };
  const tick = async () => {
    try {
      const current = await scrape(url, deps);
      view = buildView(previous, current);
      previous = current;
      error = undefined;
    } catch (err) {
      error = describe(err);
    }
    if (stopped) return;
    draw();
    timer = timers.set(() => void tick(), interval);
  };

  return new Promise((resolve) => {
    const close = terminal.open(
      () => {
        if (stopped) return;
        stopped = true;
        timers.clear(timer);
        close();
        resolve(0);
      },
      () => {
        if (!stopped) draw();
      },
    );
    void tick();
  });
}

/** fetch's own message is "fetch failed"; its cause says why (ECONNREFUSED, a timeout). */
function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

function defaultDependencies(): TopDependencies {
  return { terminal: processTerminal(), timers: realTimers, read: readMetrics };
}

async function readMetrics(url: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw new Error(`${url}: ${describe(err)}`);
  }
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}
