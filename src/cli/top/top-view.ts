/**
 * What `pproxy top` shows, computed from two scrapes of /metrics: per topic, messages received per
 * second, error answers per second by result code, the p99 answer latency of the requests answered
 * between the scrapes (from the histogram's bucket deltas, interpolated as Prometheus'
 * histogram_quantile does) and the messages in flight (received and not yet answered); and the
 * node's connections, in-flight budget, memory and event loop lag. A metric the proxy does not
 * export (an older version) leaves its column or field empty.
 */
import { UNSERVED_TOPIC } from '../../metrics/proxy-metrics';
import type { Sample } from './exposition';

export interface Scrape {
  /** When it was read, ms. */
  readonly at: number;
  readonly samples: readonly Sample[];
}

export interface TopicRow {
  readonly topic: string;
  /** undefined on the first scrape: a rate needs two. */
  readonly messagesPerSecond: number | undefined;
  /** Error answers per second by result code (codes other than 0), highest first. */
  readonly errorsPerSecond: ReadonlyArray<readonly [code: string, perSecond: number]>;
  /** Seconds; undefined when nothing was answered between the scrapes. */
  readonly p99: number | undefined;
  readonly inFlight: number;
  readonly received: number;
}

export interface NodeSummary {
  readonly version?: string;
  readonly ready?: boolean;
  readonly connections?: number;
  readonly inFlightRequests?: number;
  readonly inFlightBytes?: number;
  readonly inFlightBytesLimit?: number;
  readonly rssBytes?: number;
  readonly eventLoopLagP99?: number;
}

export interface TopView {
  readonly node: NodeSummary;
  readonly topics: readonly TopicRow[];
}

const RECEIVED = 'pproxy_messages_received_total';
const ANSWERED = 'pproxy_messages_answered_total';
const DURATION_BUCKET = 'pproxy_request_duration_seconds_bucket';

export function buildView(previous: Scrape | undefined, current: Scrape): TopView {
  const now = indexByName(current.samples);
  const before = previous && indexByName(previous.samples);
  const seconds = previous ? (current.at - previous.at) / 1000 : 0;
  const rate = (delta: number) => (seconds > 0 ? delta / seconds : undefined);

  const received = sumBy(now.get(RECEIVED), 'topic');
  const answered = sumBy(now.get(ANSWERED), 'topic');
  const receivedBefore = sumBy(before?.get(RECEIVED), 'topic');
  const errorsNow = sumBy(now.get(ANSWERED)?.filter((s) => s.labels['code'] !== '0'), 'topic', 'code');
  const errorsBefore = sumBy(before?.get(ANSWERED)?.filter((s) => s.labels['code'] !== '0'), 'topic', 'code');
  const bucketsNow = sumBy(now.get(DURATION_BUCKET), 'topic', 'le');
  const bucketsBefore = sumBy(before?.get(DURATION_BUCKET), 'topic', 'le');

  // Messages to topics this node does not serve are shown once there are some.
  const shown = [...received].filter(([topic, total]) => topic !== UNSERVED_TOPIC || total > 0).map(([topic]) => topic);
  const topics = shown.map((topic): TopicRow => {
    const total = received.get(topic)!;
    const errors: [string, number][] = [];
    for (const [key, value] of errorsNow) {
      const [t, code] = key.split('\u0000') as [string, string];
      if (t !== topic) continue;
      const perSecond = rate(increase(errorsBefore?.get(key), value));
      if (perSecond !== undefined && perSecond > 0) errors.push([code, perSecond]);
    }
    errors.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    return {
      topic,
      messagesPerSecond: previous ? rate(increase(receivedBefore.get(topic), total)) : undefined,
      errorsPerSecond: errors,
      p99: previous ? quantile(0.99, bucketDeltas(topic, bucketsBefore, bucketsNow)) : undefined,
      inFlight: Math.max(0, total - (answered.get(topic) ?? 0)),
      received: total,
    };
  });
  topics.sort((a, b) => (b.messagesPerSecond ?? 0) - (a.messagesPerSecond ?? 0) || b.received - a.received || a.topic.localeCompare(b.topic));
  return { node: nodeSummary(now), topics };
}

function nodeSummary(byName: ReadonlyMap<string, readonly Sample[]>): NodeSummary {
  /** undefined when not exported, or NaN (prom-client's event loop figures before their first sample). */
  const sum = (name: string) => {
    const samples = byName.get(name);
    const total = samples?.reduce((sum, s) => sum + s.value, 0);
    return total === undefined || Number.isNaN(total) ? undefined : total;
  };
  const ready = sum('pproxy_ready');
  return {
    version: byName.get('pproxy_build_info')?.[0]?.labels['version'],
    ready: ready === undefined ? undefined : ready > 0,
    connections: sum('pproxy_server_connections_open'),
    inFlightRequests: sum('pproxy_server_in_flight_requests'),
    inFlightBytes: sum('pproxy_server_in_flight_bytes'),
    inFlightBytesLimit: sum('pproxy_server_in_flight_bytes_limit'),
    rssBytes: sum('pproxy_process_resident_memory_bytes'),
    eventLoopLagP99: sum('pproxy_nodejs_eventloop_lag_p99_seconds'),
  };
}

function indexByName(samples: readonly Sample[]): Map<string, Sample[]> {
  const byName = new Map<string, Sample[]>();
  for (const s of samples) {
    let list = byName.get(s.name);
    if (!list) byName.set(s.name, (list = []));
    list.push(s);
  }
  return byName;
}

/** Values summed over every label but `labels`, keyed by those labels' values joined by NUL. */
function sumBy(samples: readonly Sample[] | undefined, ...labels: string[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const s of samples ?? []) {
    const key = labels.map((l) => s.labels[l] ?? '').join('\u0000');
    sums.set(key, (sums.get(key) ?? 0) + s.value);
  }
  return sums;
}

/** A counter's increase; a counter below its last value was reset (the proxy restarted) and counts from 0. */
function increase(before: number | undefined, now: number): number {
  return before === undefined || now < before ? now : now - before;
}

/** The topic's cumulative bucket counts gained between the scrapes, by upper bound, ascending. */
function bucketDeltas(topic: string, before: ReadonlyMap<string, number>, now: ReadonlyMap<string, number>): [number, number][] {
  const buckets: [number, number][] = [];
  for (const [key, value] of now) {
    const [t, le] = key.split('\u0000') as [string, string];
    if (t === topic) buckets.push([le === '+Inf' ? Infinity : Number(le), increase(before.get(key), value)]);
  }
  return buckets.sort((a, b) => a[0] - b[0]);
}

/**
 * The q-quantile of cumulative buckets, as Prometheus' histogram_quantile: linear within the
 * bucket holding the rank, the lowest bucket starting at 0, and the highest finite bound when the
 * rank falls in +Inf's bucket.
 */
export function quantile(q: number, buckets: readonly (readonly [upperBound: number, cumulative: number])[]): number | undefined {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [upperBound, count] of buckets) {
    if (count >= rank) {
      if (upperBound === Infinity) return lowerBound;
      return lowerBound + ((upperBound - lowerBound) * (rank - lowerCount)) / (count - lowerCount);
    }
    lowerBound = upperBound;
    lowerCount = count;
  }
  return lowerBound;
}
