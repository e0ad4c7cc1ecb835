/** What the proxy exports, read from its catalog's registry: the docs are checked against this, never against a list of their own. */
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';

/** Every family a running proxy registers (with metrics on), children or not. */
export async function exportedMetricNames(): Promise<Set<string>> {
  const families = await new ProxyMetrics(true).registry.getMetricsAsJSON();
  return new Set(families.map((f) => f.name));
}
