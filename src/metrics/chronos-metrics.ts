/** Local Chronos' metrics (local mode's delay messages). */
import type { CounterChild, GaugeChild } from './families';
import type { MetricRegistrar } from './registrar';

/**
 * Local Chronos' children (local mode's delay messages); no labels. Made on first use, all four at
 * once (local Chronos sets `pending` as it opens its journal): a ZooKeeper-mode proxy, which has no
 * local Chronos, exports none.
 */
export interface ChronosMetrics {
  /** Messages waiting for a firing. */
  readonly pending: GaugeChild;
  /** Deliveries answered OK (each firing of a loop). */
  readonly delivered: CounterChild;
  /** Deliveries to be made again: answered with a code Chronos retries, or their record not read back. */
  readonly retried: CounterChild;
  /** Messages given up: refused for good, or their journal record unreadable. */
  readonly dropped: CounterChild;
}

export function chronosMetrics(metrics: MetricRegistrar): ChronosMetrics {
  const counter = (name: string, help: string) => metrics.counter(name, help, []);
  const pending = metrics.gauge('pproxy_chronos_pending_messages', 'Delay messages local Chronos holds for a later firing (local mode; a ZooKeeper-mode proxy exports no Chronos series).', []);
  const delivered = counter('pproxy_chronos_delivered_total', 'Delay message deliveries local Chronos made (each firing of a loop).');
  const retried = counter(
    'pproxy_chronos_retried_total',
    'Delay message deliveries local Chronos makes again: answered with a retriable code, or not read back from its journal.',
  );
  const dropped = counter('pproxy_chronos_dropped_total', 'Delay messages local Chronos gave up: refused for good (11, 13, 14), or their journal record unreadable.');
  let children: ChronosMetrics | undefined;
  const made = () => (children ??= { pending: pending.child({}), delivered: delivered.child({}), retried: retried.child({}), dropped: dropped.child({}) });
  return {
    get pending() {
      return made().pending;
    },
    get delivered() {
      return made().delivered;
    },
    get retried() {
      return made().retried;
    },
    get dropped() {
      return made().dropped;
    },
  };
}
