/** A stand-in for the proxy's admin listener: a node:http server whose /metrics is a ProxyMetrics render. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';

export interface MetricsServer {
  readonly metrics: ProxyMetrics;
  readonly url: string;
  /** Requests served so far. */
  readonly scrapes: () => number;
}

export async function metricsServer(t: TestContext, topics: string[], clusters: string[] = ['K_main']): Promise<MetricsServer> {
  const metrics = new ProxyMetrics(true);
  metrics.configure(topics, clusters);
  let scrapes = 0;
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    scrapes++;
    void metrics.render().then((text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { metrics, url: `http://127.0.0.1:${port}/metrics`, scrapes: () => scrapes };
}
