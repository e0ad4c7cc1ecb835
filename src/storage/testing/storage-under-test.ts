/**
 * A storage made as the host makes one: the subject's settings parsed with the plugin's schema in
 * the host's mode, a StorageContext of its own (a fresh data directory, a silent logger), started,
 * and closed when the test ends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { z } from 'zod';
import { withStrictness, type Strictness } from '../../config/strictness';
import { silentLogger } from '../../log';
import { ProxyMetrics } from '../../metrics/proxy-metrics';
import type { StoragePlugin } from '../plugin-api';
import type { ClusterStorage } from '../storage';
import { createStorageContext, schemaTools } from '../storage-context';

export const CONFORMANCE_CLUSTER = 'conformance';

/** The plugin's settings of one cluster as the host reads them in `mode`; throws with zod's issues. */
export function parseClusterConfig(plugin: StoragePlugin, raw: unknown, mode: Strictness): unknown {
  const schema = plugin.configSchema(schemaTools);
  if (!(schema instanceof z.ZodObject)) throw new Error(`${plugin.kind}: configSchema did not return a z.object of the host's zod`);
  const parsed = withStrictness(schema, mode).safeParse(raw);
  if (!parsed.success) throw new Error(`${plugin.kind}: the subject's config does not parse in ${mode} mode: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** A started storage for this test, closed (and its data directory removed) after it. */
export async function openStorage(t: TestContext, plugin: StoragePlugin, rawConfig: unknown): Promise<ClusterStorage> {
  const config = parseClusterConfig(plugin, rawConfig, 'strict');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `pproxy-conformance-${plugin.kind}-`));
  // the proxy's catalog with metrics off: the plugin's metric names are checked against the proxy's
  const metrics = new ProxyMetrics(false).storages.forCluster(plugin.kind, CONFORMANCE_CLUSTER, silentLogger());
  const context = createStorageContext({ kind: plugin.kind, cluster: CONFORMANCE_CLUSTER, dataDir, logger: silentLogger(), producers: 1, metrics });
  let storage: ClusterStorage;
  try {
    storage = plugin.create(config, context);
  } catch (error) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  t.after(async () => {
    await storage.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  await storage.start();
  return storage;
}
