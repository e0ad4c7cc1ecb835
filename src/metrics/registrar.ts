/**
 * Makes the catalog's metrics: each family registered with the proxy's registry when metrics are on,
 * and made disabled (its children no-ops, nothing registered) when they are off. Either way it
 * records the names it made, so that what is checked against them (storages' own metrics) is
 * checked the same with metrics off as on.
 */
import { Gauge, type Registry } from 'prom-client';
import { CounterFamily, GaugeFamily, HistogramFamily } from './families';

/** A value read when the registry is scraped, not counted as it changes: 0 until a source is given. */
export class SampledGauge {
  private source: () => number = () => 0;

  /** `enabled` false: nothing reads the gauge, so it keeps no source (nor what the source holds). */
  constructor(private readonly enabled: boolean) {}

  /** From now on the gauge reads `source`. */
  sample(source: () => number): void {
    if (this.enabled) this.source = source;
  }

  read(): number {
    return this.source();
  }
}

/** Suffixes Prometheus gives a histogram's own series. */
export const HISTOGRAM_SERIES_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

export class MetricRegistrar {
  private readonly made = new Set<string>();

  constructor(
    readonly registry: Registry,
    readonly enabled: boolean,
  ) {}

  /** Every metric name made, enabled or not, and the series names of each histogram. */
  get names(): ReadonlySet<string> {
    return this.made;
  }

  counter<L extends string>(name: string, help: string, labels: readonly L[]): CounterFamily<L> {
    return this.add(new CounterFamily(name, help, labels, this.enabled));
  }

  gauge<L extends string>(name: string, help: string, labels: readonly L[]): GaugeFamily<L> {
    return this.add(new GaugeFamily(name, help, labels, this.enabled));
  }

  histogram<L extends string>(name: string, help: string, labels: readonly L[], buckets: readonly number[]): HistogramFamily<L> {
    for (const suffix of HISTOGRAM_SERIES_SUFFIXES) this.made.add(name + suffix);
    return this.add(new HistogramFamily(name, help, labels, buckets, this.enabled));
  }

  /** A gauge without labels whose value its owner's source gives at each scrape. */
  sampled(name: string, help: string): SampledGauge {
    const gauge = new SampledGauge(this.enabled);
    this.collected(name, help, () => gauge.read());
    return gauge;
  }

  /** A gauge without labels set from `read` at each scrape (prom-client's own, as nothing counts into it). */
  collected(name: string, help: string, read: () => number | undefined): void {
    this.made.add(name);
    if (!this.enabled) return;
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });
  }

  private add<F extends CounterFamily<string> | GaugeFamily<string> | HistogramFamily<string>>(family: F): F {
    this.made.add(family.name);
    if (this.enabled) family.register(this.registry);
    return family;
  }
}
