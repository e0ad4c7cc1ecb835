/**
 * `pproxy tail`: prints the latest messages of a local-storage topic, read straight from the log
 * files (the proxy may be running). Text output shows bodies as UTF-8 when they are; JSON output
 * carries every body exactly, base64-encoded.
 */
import { loadNodeConfiguration } from '../node-configuration';
import { localStorageOptions, type LocalClusterConfig } from '../storage/builtin/local';
import { storagePaths } from '../storage/storage-context';
import { listPartitions, readLastRecords, readRecords } from '../storage/local/log-reader';
import type { StoredRecord } from '../storage/local/record';

export interface TailOptions {
  topic: string;
  config: string;
  cluster?: string;
  partition?: number;
  lines: number;
  from?: bigint;
  format: 'text' | 'json';
}

export async function runTail(options: TailOptions, out: NodeJS.WritableStream): Promise<number> {
  const { settings } = loadNodeConfiguration(options.config);
  const clusters = (settings.local?.pproxy.carreraConfiguration['localConfigurationMap'] ?? {}) as Record<string, LocalClusterConfig>;
  const names = Object.keys(clusters);
  const cluster = options.cluster ?? (names.length === 1 ? names[0] : undefined);
  if (cluster === undefined || !clusters[cluster]) {
    throw new Error(
      options.cluster
        ? `no local cluster "${options.cluster}" in ${settings.configPath} (has: ${names.join(', ') || 'none'})`
        : `${settings.configPath} has ${names.length} local clusters (${names.join(', ')}); pick one with --cluster`,
    );
  }
  const dir = localStorageOptions(clusters[cluster]!, storagePaths(settings.dataDir, 'local', cluster)).dataDir;
  const partitions = options.partition !== undefined ? [options.partition] : await listPartitions(dir, options.topic);
  let printed = 0;
  for (const partition of partitions) {
    const records =
      options.from !== undefined
        ? await readRecords(dir, options.topic, partition, { fromOffset: options.from, limit: options.lines })
        : await readLastRecords(dir, options.topic, partition, options.lines);
    for (const record of records) {
      out.write(options.format === 'json' ? formatJson(options.topic, partition, record) : formatText(options.topic, partition, record));
      printed++;
    }
  }
  if (printed === 0 && options.format === 'text') out.write(`no messages in ${options.topic} (${dir})\n`);
  return 0;
}

function formatJson(topic: string, partition: number, r: StoredRecord): string {
  const text = utf8Text(r.body);
  return `${JSON.stringify({
    topic,
    partition,
    offset: r.offset.toString(),
    timestamp: new Date(r.timestamp).toISOString(),
    key: r.key ?? null,
    tags: r.tags ?? null,
    properties: Object.fromEntries(r.properties),
    body: r.body.toString('base64'),
    ...(text !== undefined && { bodyText: text }),
  })}\n`;
}

function formatText(topic: string, partition: number, r: StoredRecord): string {
  const text = utf8Text(r.body);
  const fields = [
    `${topic}/${partition}@${r.offset}`,
    new Date(r.timestamp).toISOString(),
    r.key !== undefined ? `key=${JSON.stringify(r.key)}` : undefined,
    r.tags !== undefined ? `tags=${JSON.stringify(r.tags)}` : undefined,
    r.properties.size > 0 ? `properties=${JSON.stringify(Object.fromEntries(r.properties))}` : undefined,
    text !== undefined ? `body=${JSON.stringify(text)}` : `body(base64)=${r.body.toString('base64')}`,
  ];
  return `${fields.filter(Boolean).join(' ')}\n`;
}

/** The body as text when it is valid UTF-8 without control characters other than whitespace. */
function utf8Text(body: Buffer): string | undefined {
  const text = body.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(body)) return undefined;
  return /[\u0000-\u0008\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}
