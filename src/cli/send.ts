/**
 * `pproxy send`: sends one or N messages to a running proxy over Thrift and prints the result
 * codes. Exit status 0 when every message was answered OK.
 */
import fs from 'node:fs';
import type tls from 'node:tls';
import { ProducerClient, type CallResult, type MessageSpec } from '../client/producer-client';
import { resultCodeName } from '../protocol/result-codes';

export interface SendOptions {
  host: string;
  port: number;
  topic: string;
  body?: string;
  bodyFile?: string;
  key?: string;
  tags?: string;
  partitionId: number;
  hashId: bigint;
  property: Record<string, string>;
  count: number;
  batch: number;
  mode: 'sync' | 'async';
  timeout: number;
  connections: number;
  /** TLS: the CA file to trust the proxy by; with tlsCert and tlsKey, mutual TLS. */
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** The name the proxy's certificate must carry (default: the host). */
  tlsServername?: string;
}

function tlsOptions(options: SendOptions): tls.ConnectionOptions | undefined {
  if (options.tlsCa === undefined) return undefined;
  return {
    ca: fs.readFileSync(options.tlsCa),
    servername: options.tlsServername ?? options.host,
    ...(options.tlsCert !== undefined && options.tlsKey !== undefined && { cert: fs.readFileSync(options.tlsCert), key: fs.readFileSync(options.tlsKey) }),
  };
}

export async function runSend(options: SendOptions, out: NodeJS.WritableStream): Promise<number> {
  const body = options.bodyFile !== undefined ? fs.readFileSync(options.bodyFile) : Buffer.from(options.body ?? '', 'utf8');
  const spec: MessageSpec = {
    topic: options.topic,
    body,
    partitionId: options.partitionId,
    hashId: options.hashId,
    properties: options.property,
    ...(options.key !== undefined && { key: options.key }),
    ...(options.tags !== undefined && { tags: options.tags }),
  };
  const secure = tlsOptions(options);
  const clients = await Promise.all(
    Array.from({ length: Math.max(1, options.connections) }, () =>
      // the proxy answers within the timeout argument; past it plus a margin, it is not answering
      ProducerClient.connect(options.host, options.port, { callTimeoutMs: options.timeout + 2000, connectTimeoutMs: 3000, ...(secure && { tls: secure }) }),
    ),
  );
  const counts = new Map<string, number>();
  const record = (r: CallResult, messages: number) => {
    const label = `${r.code} ${resultCodeName(r.code)} "${r.msg}"`;
    counts.set(label, (counts.get(label) ?? 0) + messages);
  };
  const started = Date.now();
  try {
    const calls = Math.ceil(options.count / options.batch);
    let next = 0;
    await Promise.all(
      clients.map(async (client) => {
        while (next < calls) {
          const call = next++;
          const size = Math.min(options.batch, options.count - call * options.batch);
          if (options.batch > 1) record(await client.sendBatchSync(Array(size).fill(spec)), size);
          else if (options.mode === 'async') record(await client.sendAsync(spec), 1);
          else record(await client.sendSync(spec, options.timeout), 1);
        }
      }),
    );
  } finally {
    for (const c of clients) c.close();
  }
  const seconds = (Date.now() - started) / 1000;
  for (const [label, n] of counts) out.write(options.count === 1 ? `${label}\n` : `${n} x ${label}\n`);
  if (options.count > 1) {
    out.write(`${options.count} messages in ${seconds.toFixed(2)} s (${Math.round(options.count / seconds)} msg/s)\n`);
  }
  return [...counts.keys()].every((label) => label.startsWith('0 ')) ? 0 : 1;
}
