/** `pproxy top`'s screen: a header line about the node, then one row per topic, cut to the terminal's size. */
import type { NodeSummary, TopView } from './top-view';

export interface Frame {
  readonly url: string;
  readonly width: number;
  /** Lines available; topics beyond them are counted, not shown. */
  readonly height: number;
  /** Wall-clock time of the scrape, ms. */
  readonly at: number;
  /** Why the last scrape failed, when it did. */
  readonly error?: string;
}

const COLUMNS = [
  ['TOPIC', 28],
  ['MSG/S', 10],
  ['ERR/S', 9],
  ['P99', 10],
  ['IN FLIGHT', 10],
  ['RECEIVED', 12],
  ['ERRORS/S BY CODE', 0],
] as const;

export function renderFrame(view: TopView | undefined, frame: Frame): string[] {
  const lines = [header(view?.node, frame)];
  if (frame.error) lines.push(`scrape failed: ${frame.error}`);
  lines.push('');
  lines.push(row(COLUMNS.map(([title]) => title)));
  const topics = view?.topics ?? [];
  const room = Math.max(0, frame.height - lines.length - 1);
  for (const t of topics.slice(0, topics.length > room ? room - 1 : room)) {
    const errors = t.errorsPerSecond.reduce((sum, [, perSecond]) => sum + perSecond, 0);
    lines.push(
      row([
        t.topic,
        perSecond(t.messagesPerSecond),
        t.messagesPerSecond === undefined ? '-' : perSecond(errors),
        seconds(t.p99),
        String(t.inFlight),
        String(t.received),
        t.errorsPerSecond.map(([code, rate]) => `${code}:${perSecond(rate)}`).join(' '),
      ]),
    );
  }
  if (topics.length > room) lines.push(`... ${topics.length - Math.max(0, room - 1)} more topics`);
  if (view && topics.length === 0) lines.push('no topics yet');
  return lines.map((line) => line.slice(0, frame.width));
}

function header(node: NodeSummary | undefined, frame: Frame): string {
  const parts = [`pproxy${node?.version ? ` ${node.version}` : ''}`, frame.url];
  if (node?.ready !== undefined) parts.push(node.ready ? 'ready' : 'NOT READY');
  if (node?.connections !== undefined) parts.push(`${node.connections} conns`);
  if (node?.inFlightRequests !== undefined) parts.push(`${node.inFlightRequests} req in flight`);
  if (node?.inFlightBytes !== undefined) {
    parts.push(`${bytes(node.inFlightBytes)}${node.inFlightBytesLimit !== undefined ? ` of ${bytes(node.inFlightBytesLimit)}` : ''} in flight`);
  }
  if (node?.rssBytes !== undefined) parts.push(`rss ${bytes(node.rssBytes)}`);
  if (node?.eventLoopLagP99 !== undefined) parts.push(`loop lag p99 ${seconds(node.eventLoopLagP99)}`);
  parts.push(new Date(frame.at).toISOString().slice(11, 19));
  return parts.join('  ');
}

function row(cells: readonly string[]): string {
  return cells
    .map((cell, i) => {
      const width = COLUMNS[i]![1];
      if (width === 0) return cell;
      const text = cell.length >= width ? `${cell.slice(0, width - 2)}~` : cell;
      return i === 0 ? text.padEnd(width) : text.padStart(width - 1).padEnd(width);
    })
    .join('')
    .trimEnd();
}

function perSecond(value: number | undefined): string {
  if (value === undefined) return '-';
  if (value >= 10_000) return `${(value / 1000).toFixed(1)}k`;
  if (value >= 100) return value.toFixed(0);
  return value.toFixed(1);
}

function seconds(value: number | undefined): string {
  if (value === undefined) return '-';
  if (value >= 1) return `${value.toFixed(2)} s`;
  return `${(value * 1000).toFixed(value >= 0.01 ? 0 : 1)} ms`;
}

function bytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = value;
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${unit === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[unit]}`;
}
