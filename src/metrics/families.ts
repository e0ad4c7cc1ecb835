/**
 * Counters and histograms for the per-message path, exported through prom-client's Registry.
 *
 * prom-client's own labelled children hash their label values into a string key on every inc() and
 * observe(); at a hundred thousand messages a second that is the metrics' whole cost. Here a child is
 * resolved once (per topic, per cluster, when the configuration names it) and holds plain numbers:
 * counting a message is a field increment, observing a value a short scan of a fixed bucket array.
 * The Registry reads the children only when it is scraped, through the collector interface it uses
 * for its own metrics (name, help, type, get, reset), and formats them itself.
 */
import type { Metric, Registry } from 'prom-client';

export type Labels<L extends string> = Readonly<Record<L, string>>;

export interface CounterChild {
  inc(by?: number): void;
}

export interface HistogramChild {
  observe(value: number): void;
}

export interface GaugeChild {
  set(value: number): void;
  inc(by?: number): void;
  dec(by?: number): void;
}

/** What a disabled family hands out: the same calls, counting nothing. */
export const NO_COUNT: CounterChild & HistogramChild & GaugeChild = {
  inc: () => undefined,
  dec: () => undefined,
  set: () => undefined,
  observe: () => undefined,
};

/** One exported sample, as the Registry formats it. */
interface Sample {
  readonly metricName?: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

abstract class Family<L extends string, C> {
  private readonly children = new Map<string, { readonly labels: Labels<L>; readonly child: C }>();
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    private readonly enabled: boolean,
    private readonly disabled: C,
  ) {}

  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  /** The child for these label values: made on first use, the same object after. Not for the per-message path. */
  child(labels: Labels<L>): C {
    if (!this.enabled) return this.disabled;
    const key = this.key(labels);
    let entry = this.children.get(key);
    if (!entry) {
      entry = { labels: { ...labels }, child: this.create() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  /** Drops the children whose `label` is not in `keep`: a topic or cluster no longer configured. */
  retain(label: L, keep: ReadonlySet<string>): void {
    for (const [key, entry] of this.children) if (!keep.has(entry.labels[label])) this.children.delete(key);
  }

  /** Series currently exported. */
  get size(): number {
    return this.children.size;
  }

  /** The Registry's collector interface. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    const values: Sample[] = [];
    for (const { labels, child } of this.children.values()) this.samples(labels, child, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The Registry's collector interface: counts since start are not reset. */
  reset(): void {}

  /** Registered with `registry`, which formats what get() returns. */
  register(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }

  protected abstract create(): C;
  protected abstract samples(labels: Labels<L>, child: C, into: Sample[]): void;

  private key(labels: Labels<L>): string {
    return this.labelNames.map((name) => labels[name]).join('\u0000');
  }
}

class Count implements CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class CounterFamily<L extends string> extends Family<L, CounterChild> {
  readonly type = 'counter';

  constructor(name: string, help: string, labelNames: readonly L[], enabled = true) {
    super(name, help, labelNames, enabled, NO_COUNT);
  }

  protected create(): CounterChild {
    return new Count();
  }

  protected samples(labels: Labels<L>, child: CounterChild, into: Sample[]): void {
    into.push({ labels, value: (child as Count).value });
  }
}

class Level implements GaugeChild {
  value = 0;
  set(value: number): void {
    this.value = value;
  }
  inc(by = 1): void {
    this.value += by;
  }
  dec(by = 1): void {
    this.value -= by;
  }
}

export class GaugeFamily<L extends string> extends Family<L, GaugeChild> {
  readonly type = 'gauge';

  constructor(name: string, help: string, labelNames: readonly L[], enabled = true) {
    super(name, help, labelNames, enabled, NO_COUNT);
  }

  protected create(): GaugeChild {
    return new Level();
  }

  protected samples(labels: Labels<L>, child: GaugeChild, into: Sample[]): void {
    into.push({ labels, value: (child as Level).value });
  }
}

class Buckets implements HistogramChild {
  /** counts[i]: values in (bounds[i-1], bounds[i]]; the last slot is above every bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class HistogramFamily<L extends string> extends Family<L, HistogramChild> {
  readonly type = 'histogram';

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly bounds: readonly number[],
    enabled = true,
  ) {
    super(name, help, labelNames, enabled, NO_COUNT);
    if (bounds.some((b, i) => i > 0 && b <= bounds[i - 1]!)) throw new Error(`${name}: bucket bounds must increase`);
  }

  protected create(): HistogramChild {
    return new Buckets(this.bounds);
  }

  protected samples(labels: Labels<L>, child: HistogramChild, into: Sample[]): void {
    const { counts, sum, count } = child as Buckets;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += counts[i]!;
      into.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: this.bounds[i]! }, value: cumulative });
    }
    into.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count });
    into.push({ metricName: `${this.name}_sum`, labels, value: sum });
    into.push({ metricName: `${this.name}_count`, labels, value: count });
  }
}
