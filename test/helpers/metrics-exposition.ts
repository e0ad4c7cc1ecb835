/**
 * Reading a Prometheus text exposition in tests (what ProxyMetrics.render() and /metrics return),
 * through the proxy's own reader of the format (the one `pproxy top` uses).
 */
import { parseExposition as parseSamples } from '../../src/cli/top/exposition';

/** Sample values by series key: `name{a="1",b="2"}`, labels sorted by name, or the bare name. */
export type Series = ReadonlyMap<string, number>;

export function seriesKey(name: string, labels: Readonly<Record<string, string | number>> = {}): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}="${v}"`);
  return pairs.length === 0 ? name : `${name}{${pairs.join(',')}}`;
}

export function parseExposition(text: string): Series {
  return new Map(parseSamples(text).map(({ name, labels, value }) => [seriesKey(name, labels), value]));
}

/** The value of one series; 0 when absent (a counter not yet made counts nothing). */
export function valueOf(series: Series, name: string, labels: Readonly<Record<string, string | number>> = {}): number {
  return series.get(seriesKey(name, labels)) ?? 0;
}

/** The sum of the samples of `name` whose labels include `labels` (others may be there too). */
export function sumOf(text: string, name: string, labels: Readonly<Record<string, string | number>> = {}): number {
  return parseSamples(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === String(v)))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The value of the sample `name{labels}` (exactly these labels), or undefined when absent. */
export function sample(text: string, name: string, labels: Record<string, string | number> = {}): number | undefined {
  return parseExposition(text).get(seriesKey(name, labels));
}

/** The names of the metric families (their `# TYPE` lines) whose names start with `prefix`, sorted. */
export function familyNames(text: string, prefix: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^# TYPE (\S+) /.exec(line);
    if (match && match[1]!.startsWith(prefix)) names.push(match[1]!);
  }
  return names.sort();
}
