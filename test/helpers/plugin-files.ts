/**
 * Storage plugins written to disk for loader tests: a complete one (`memory`, which appends what it
 * stores to `stored.jsonl` in its data directory), and variants of it that break the contract in
 * one way each.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The memory plugin's module text; `overrides` replaces descriptor fields (as JS source). */
export function memoryPluginSource(overrides: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    apiVersion: '1',
    kind: "'memory'",
    version: "'0.0.1'",
    configSchema: '({ z }) => z.object({ partitions: z.number().int().positive().default(2) })',
    create: `(config, context) => {
      const file = path.join(context.dataDir, 'stored.jsonl');
      let closed = false;
      let offset = 0n;
      return {
        cluster: context.cluster,
        kind: 'memory',
        maxMessageSize: undefined,
        async start() { fs.mkdirSync(context.dataDir, { recursive: true }); },
        async send(messages) {
          return messages.map((m) => {
            if (closed) return { ok: false, error: { code: 'CLOSED', message: 'closed', retriable: true } };
            fs.appendFileSync(file, JSON.stringify({ topic: m.topic, body: m.body.toString('base64'), key: m.key ?? null }) + '\\n');
            return { ok: true, partition: context.choosePartition(m, config.partitions) ?? 0, offset: offset++ };
          });
        },
        async close() { closed = true; },
      };
    }`,
    ...overrides,
  };
  const body = Object.entries(fields).map(([k, v]) => `  ${k}: ${v},`).join('\n');
  return `'use strict';\nconst fs = require('node:fs');\nconst path = require('node:path');\nexports.storagePlugin = {\n${body}\n};\n`;
}

export function writePlugin(dir: string, file: string, source: string): string {
  const full = path.join(dir, file);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, source);
  return full;
}

/** What the memory plugin stored for a cluster. */
export function memoryStored(dataDir: string, cluster: string): { topic: string; body: string; key: string | null }[] {
  const file = path.join(dataDir, 'memory', cluster, 'stored.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { topic: string; body: string; key: string | null });
}
