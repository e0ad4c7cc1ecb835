/**
 * The host's side of StorageContext.metrics: the metrics storage plugins declare, exported with the
 * proxy's own through the same prom-client Registry.
 *
 * - A plugin's metric `<name>` is exported as `pproxy_storage_<kind>_<name>` (the kind in snake
 *   case), with a `cluster` label the host adds to every series: a plugin cannot leave its series
 *   unlabelled by cluster, and its names are apart from the proxy's but for the proxy's own
 *   `pproxy_storage_*`, which the check below guards.
 * - A family is shared by every storage of its kind: a storage rebuilt by a configuration change
 *   declares it again and gets the same family, so its counters go on from where they were. A
 *   declaration that differs (type, help, labels, buckets) is a fault of the plugin and throws.
 * - No storage metric exports a series name the proxy exports (MetricRegistrar.names, recorded with
 *   metrics on or off) or another storage metric exports (a gauge `h_count` beside a histogram `h`):
 *   a plugin that starts with metrics off starts with them on.
 * - Children are made by families.ts and count with a field increment; a plugin resolves them once
 *   (`labels(...)`) and keeps them. A declared handle (counter, gauge, histogram) that breaks a rule
 *   throws: it is declared in create() or start(), where the host reports it with the plugin.
 * - `increment` and `observe`, the simple form for rare events, declare on first use and look the
 *   child up on every call, usually inside send(): they never throw, as a throw there would fail
 *   every message of the cluster. A name is made valid (see simpleName); a call that still breaks a
 *   rule (labels other than its first call's, a bad amount) counts nothing and is logged, at most
 *   one line a minute per metric.
 * - retain() follows the configuration: the series of a cluster that left it (or changed kind)
 *   are dropped, and what its storage still counts while it closes goes nowhere.
 */
import type { Metric, Registry } from 'prom-client';
import { CounterFamily, GaugeFamily, HistogramFamily, NO_COUNT, type Labels } from '../metrics/families';
import { HISTOGRAM_SERIES_SUFFIXES } from '../metrics/registrar';
import { ThrottledWarning, type WarningLogger } from '../throttled-warning';
import type { StorageCounter, StorageGauge, StorageHistogram, StorageMetricFamily, StorageMetrics } from './plugin-api';

/** Seconds, 0.5 ms to 10 s: the buckets of `observe`, the simple form. */
export const STORAGE_DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The label the host adds to every series of a storage's metric. */
const CLUSTER_LABEL = 'cluster';
/** Lower snake case: Prometheus' charset, as its conventions spell names. */
const NAME = /^[a-z][a-z0-9_]*$/;
const LABEL = /^[a-z_][a-z0-9_]*$/;
/** How often a simple-form call that counts nothing is logged, per metric: it may come with every message. */
const SIMPLE_FORM_WARNING_INTERVAL_MS = 60_000;

type Kind = 'counter' | 'gauge' | 'histogram';
type AnyFamily = CounterFamily<string> | GaugeFamily<string> | HistogramFamily<string>;

interface Declared {
  readonly kind: string;
  readonly type: Kind;
  readonly help: string;
  /** The plugin's labels, in its order (the cluster label not among them). */
  readonly labelNames: readonly string[];
  readonly buckets: readonly number[] | undefined;
  readonly family: AnyFamily;
}

/** One (kind, cluster) of the configuration: retired once the configuration no longer has it. */
interface ClusterState {
  readonly kind: string;
  readonly cluster: string;
  retired: boolean;
}

export class StorageMetricSet {
  private readonly declared = new Map<string, Declared>();
  /** Every series name a declared family exports, to the family's name. */
  private readonly series = new Map<string, string>();
  private readonly clusters = new Map<string, ClusterState>();
  /** Each cluster's kind in the configuration built last, which is the one a retain() keeps. */
  private readonly kindOf = new Map<string, string>();

  /**
   * `registry` undefined: metrics off, every child a no-op (declarations are still checked).
   * `proxyNames`: the series names the proxy exports, which no storage metric may (none outside a proxy).
   */
  constructor(
    private readonly registry: Registry | undefined,
    private readonly proxyNames: ReadonlySet<string> = new Set(),
  ) {}

  /** The StorageMetrics of one cluster's storage; `logger` gets what the simple form cannot count. */
  forCluster(kind: string, cluster: string, logger: WarningLogger): StorageMetrics {
    const key = `${kind}\u0000${cluster}`;
    let state = this.clusters.get(key);
    if (!state) {
      state = { kind, cluster, retired: false };
      this.clusters.set(key, state);
    }
    this.kindOf.set(cluster, kind);
    return new ClusterStorageMetrics(this, state, new ThrottledWarning(logger, SIMPLE_FORM_WARNING_INTERVAL_MS));
  }

  /** The clusters configured now: every other cluster's series are dropped, and its storage counts nothing more. */
  retain(clusters: Iterable<string>): void {
    const keep = new Set(clusters);
    for (const [key, state] of this.clusters) {
      if (keep.has(state.cluster) && this.kindOf.get(state.cluster) === state.kind) continue;
      state.retired = true;
      this.clusters.delete(key);
    }
    for (const cluster of this.kindOf.keys()) if (!keep.has(cluster)) this.kindOf.delete(cluster);
    const keptByKind = new Map<string, Set<string>>();
    for (const { kind, cluster } of this.clusters.values()) {
      let set = keptByKind.get(kind);
      if (!set) keptByKind.set(kind, (set = new Set()));
      set.add(cluster);
    }
    for (const { kind, family } of this.declared.values()) family.retain(CLUSTER_LABEL, keptByKind.get(kind) ?? new Set());
  }

  /** The family `name` of `kind`, declared now or checked equal to its first declaration. */
  declare(kind: string, type: Kind, name: string, help: string, labelNames: readonly string[], buckets?: readonly number[]): AnyFamily {
    const fullName = exportedName(kind, name);
    checkDeclaration(fullName, type, name, help, labelNames, buckets);
    const existing = this.declared.get(fullName);
    if (existing) {
      const difference = differenceOf(existing, kind, type, help, labelNames, buckets);
      if (difference) throw new Error(`storage metric ${fullName} is declared again with a different ${difference}`);
      return existing.family;
    }
    const series = seriesNames(fullName, type);
    for (const seriesName of series) {
      const owner = this.series.get(seriesName);
      const shadowed = this.proxyNames.has(seriesName) ? 'a name the proxy already exports' : owner !== undefined ? `a series of ${owner}` : undefined;
      if (shadowed) throw new Error(`storage metric ${fullName} ${seriesName === fullName ? 'is' : `would export ${seriesName},`} ${shadowed}`);
    }
    const enabled = this.registry !== undefined;
    const allLabels = [CLUSTER_LABEL, ...labelNames];
    const family =
      type === 'counter'
        ? new CounterFamily(fullName, help, allLabels, enabled)
        : type === 'gauge'
          ? new GaugeFamily(fullName, help, allLabels, enabled)
          : new HistogramFamily(fullName, help, allLabels, buckets!, enabled);
    if (this.registry) this.registry.registerMetric(family as unknown as Metric);
    this.declared.set(fullName, { kind, type, help, labelNames: [...labelNames], buckets: buckets && [...buckets], family });
    for (const seriesName of series) this.series.set(seriesName, fullName);
    return family;
  }
}

/** A simple-form metric: its family and first call's label names, or why it counts nothing. */
type SimpleEntry = { readonly family: AnyFamily; readonly labelNames: readonly string[] } | { readonly fault: string };

/** The view of one storage: its kind's families, children labelled with its cluster. */
class ClusterStorageMetrics implements StorageMetrics {
  /** The simple form's metrics, by type and name. */
  private readonly simple = new Map<string, SimpleEntry>();

  constructor(
    private readonly set: StorageMetricSet,
    private readonly state: ClusterState,
    private readonly problems: ThrottledWarning,
  ) {}

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): StorageMetricFamily<L, StorageCounter> {
    return this.handle(this.set.declare(this.state.kind, 'counter', name, help, labelNames), labelNames);
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): StorageMetricFamily<L, StorageGauge> {
    return this.handle(this.set.declare(this.state.kind, 'gauge', name, help, labelNames), labelNames);
  }

  histogram<L extends string = never>(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly L[] = [],
  ): StorageMetricFamily<L, StorageHistogram> {
    return this.handle(this.set.declare(this.state.kind, 'histogram', name, help, labelNames, buckets), labelNames);
  }

  increment(name: string, by: number = 1, labels: Readonly<Record<string, string>> = {}): void {
    const metric = simpleName('counter', name);
    if (typeof by !== 'number' || !Number.isFinite(by) || by < 0) return this.notCounted('counter', metric, `the amount ${String(by)} is not a finite number >= 0`);
    this.simpleChild('counter', metric, labels).inc(by);
  }

  observe(name: string, value: number, labels: Readonly<Record<string, string>> = {}): void {
    const metric = simpleName('histogram', name);
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.notCounted('histogram', metric, `the value ${String(value)} is not a finite number`);
    this.simpleChild('histogram', metric, labels).observe(value);
  }

  /** The child to count into: NO_COUNT (and a line in the log) when the call breaks a rule. */
  private simpleChild(type: 'counter' | 'histogram', name: string, labels: unknown): StorageCounter & StorageHistogram {
    if (this.state.retired) return NO_COUNT;
    const key = `${type}:${name}`;
    let entry = this.simple.get(key);
    if (!entry) {
      entry = this.declareSimple(type, name, labels);
      this.simple.set(key, entry);
    }
    if ('fault' in entry) {
      this.notCounted(type, name, entry.fault);
      return NO_COUNT;
    }
    const fault = labelFault(entry.labelNames, labels);
    if (fault) {
      this.notCounted(type, name, fault);
      return NO_COUNT;
    }
    return this.child(entry.family, labels as Readonly<Record<string, string>>) as StorageCounter & StorageHistogram;
  }

  private declareSimple(type: 'counter' | 'histogram', name: string, labels: unknown): SimpleEntry {
    if (labels === null || typeof labels !== 'object') return { fault: `labels must be an object of strings, not ${String(labels)}` };
    const labelNames = Object.keys(labels).sort();
    const help = `Counted by the ${this.state.kind} storage, by cluster.`;
    const buckets = type === 'histogram' ? STORAGE_DEFAULT_BUCKETS : undefined;
    try {
      return { family: this.set.declare(this.state.kind, type, name, help, labelNames, buckets), labelNames };
    } catch (error) {
      return { fault: (error as Error).message };
    }
  }

  private notCounted(type: 'counter' | 'histogram', name: string, problem: string): void {
    this.problems.warn(`${type}:${name}`, { metric: exportedName(this.state.kind, name), problem }, `storage ${type} not counted`);
  }

  private handle<L extends string, C>(family: AnyFamily, labelNames: readonly string[]): StorageMetricFamily<L, C> {
    return {
      labels: (...values: readonly Readonly<Record<string, string>>[]) => {
        const given = values[0] ?? {};
        const fault = labelFault(labelNames, given);
        if (fault) throw new Error(`storage metric ${family.name} ${fault}`);
        return this.child(family, given) as C;
      },
    };
  }

  private child(family: AnyFamily, values: Readonly<Record<string, string>>): unknown {
    if (this.state.retired) return NO_COUNT;
    return family.child({ [CLUSTER_LABEL]: this.state.cluster, ...values } as Labels<string>);
  }
}

/** Why `values` are not exactly the declared labels with string values, or undefined when they are. */
function labelFault(labelNames: readonly string[], values: unknown): string | undefined {
  if (values === null || typeof values !== 'object') return `has the labels [${labelNames.join(', ')}], was given ${String(values)}`;
  const given = Object.keys(values);
  const byName = values as Record<string, unknown>;
  if (given.length === labelNames.length && labelNames.every((l) => typeof byName[l] === 'string')) return undefined;
  return `has the labels [${labelNames.join(', ')}], was given [${given.join(', ')}]`;
}

/**
 * A simple-form name in the rules' spelling, so that a name spelled otherwise (`sendFailures`,
 * `send.failures`) counts instead of counting nothing: camelCase words split with `_`, lower case,
 * every other character `_`, and a counter's `_total` appended when missing.
 */
export function simpleName(type: 'counter' | 'histogram', name: unknown): string {
  const snake = String(name)
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_');
  return type === 'counter' && !snake.endsWith('_total') ? `${snake}_total` : snake;
}

/** The names a family's samples carry: a histogram's `_bucket`, `_sum` and `_count` besides its own. */
function seriesNames(fullName: string, type: Kind): string[] {
  return type === 'histogram' ? [fullName, ...HISTOGRAM_SERIES_SUFFIXES.map((s) => fullName + s)] : [fullName];
}

/** `pproxy_storage_<kind in snake case>_<name>`. */
export function exportedName(kind: string, name: string): string {
  return `pproxy_storage_${kind.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_${name}`;
}

function checkDeclaration(fullName: string, type: Kind, name: string, help: string, labelNames: readonly string[], buckets: readonly number[] | undefined): void {
  const fault = declarationFault(type, name, help, labelNames, buckets);
  if (fault) throw new Error(`storage metric ${JSON.stringify(name)} (${fullName}): ${fault}`);
}

function declarationFault(type: Kind, name: string, help: string, labelNames: readonly string[], buckets: readonly number[] | undefined): string | undefined {
  if (typeof name !== 'string' || !NAME.test(name)) return 'a name is lower snake case: a-z, 0-9 and _, starting with a letter';
  if (name.includes('pproxy_')) return 'the host adds the pproxy_storage_<kind>_ prefix; the name must not contain pproxy_';
  if (type === 'counter' && !name.endsWith('_total')) return "a counter's name ends with _total";
  if (type !== 'counter' && name.endsWith('_total')) return 'only a counter has a name ending with _total';
  if (type === 'histogram' && HISTOGRAM_SERIES_SUFFIXES.some((s) => name.endsWith(s))) return `a histogram's name does not end with ${HISTOGRAM_SERIES_SUFFIXES.join(', ')}`;
  if (typeof help !== 'string' || help.trim() === '') return 'help must be a non-empty string';
  if (!Array.isArray(labelNames)) return 'labelNames must be an array';
  const seen = new Set<string>();
  for (const label of labelNames) {
    if (typeof label !== 'string' || !LABEL.test(label) || label.startsWith('__')) return `label ${JSON.stringify(label)} is not a label name (lower snake case, not starting with __)`;
    if (label === CLUSTER_LABEL) return 'the host adds the cluster label itself';
    if (type === 'histogram' && label === 'le') return 'le is the bucket label of a histogram';
    if (seen.has(label)) return `label ${label} is listed twice`;
    seen.add(label);
  }
  if (type === 'histogram') {
    if (!Array.isArray(buckets) || buckets.length === 0) return 'a histogram needs its bucket bounds';
    if (!buckets.every((b, i) => Number.isFinite(b) && (i === 0 || b > buckets[i - 1]!))) return 'bucket bounds are finite numbers, increasing';
  }
  return undefined;
}

function differenceOf(
  existing: Declared,
  kind: string,
  type: Kind,
  help: string,
  labelNames: readonly string[],
  buckets: readonly number[] | undefined,
): string | undefined {
  if (existing.kind !== kind) return `kind (${kind}; first declared by the ${existing.kind} storage)`;
  if (existing.type !== type) return `type (${type}; first declared a ${existing.type})`;
  if (existing.help !== help) return 'help';
  if (existing.labelNames.join(',') !== labelNames.join(',')) return `labels ([${labelNames.join(', ')}]; first declared [${existing.labelNames.join(', ')}])`;
  if ((existing.buckets ?? []).join(',') !== (buckets ?? []).join(',')) return 'buckets';
  return undefined;
}
