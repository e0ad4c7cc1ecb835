/**
 * `pproxy delay add|cancel`: schedules or cancels a delay message on a running proxy and prints
 * the result code and the delay id. Exit status 0 when answered OK.
 */
import { randomUUID } from 'node:crypto';
import { ProducerClient, type DelaySpec } from '../client/producer-client';
import { resultCodeName } from '../protocol/result-codes';

export interface DelayCommon {
  host: string;
  port: number;
  topic: string;
  timeout: number;
}

export interface DelayAddOptions extends DelayCommon {
  body: string;
  at?: number;
  in?: number;
  type: number;
  interval: number;
  times: number;
  expire?: number;
  uuid?: string;
  tags?: string;
  property: Record<string, string>;
}

export async function runDelayAdd(o: DelayAddOptions, out: NodeJS.WritableStream): Promise<number> {
  const timestamp = o.at ?? Math.floor(Date.now() / 1000) + (o.in ?? 0);
  return send(o, out, {
    topic: o.topic,
    action: 1,
    body: o.body,
    timestamp: BigInt(timestamp),
    dmsgtype: o.type,
    interval: BigInt(o.interval),
    times: BigInt(o.times),
    // loops need an end; by default a day after the start
    expire: BigInt(o.expire ?? timestamp + 86_400),
    uuid: o.uuid ?? randomUUID(),
    properties: o.property,
    ...(o.tags !== undefined && { tags: o.tags }),
  });
}

export function runDelayCancel(o: DelayCommon & { id: string }, out: NodeJS.WritableStream): Promise<number> {
  // DDMQ requires a non-empty body on cancels too; its Java SDK sends "c"
  return send(o, out, { topic: o.topic, action: 2, body: 'c', uniqDelayMsgId: o.id });
}

async function send(o: DelayCommon, out: NodeJS.WritableStream, spec: DelaySpec): Promise<number> {
  const client = await ProducerClient.connect(o.host, o.port, { callTimeoutMs: o.timeout + 2000 });
  try {
    const r = await client.sendDelaySync(spec, o.timeout);
    out.write(`${r.code} ${resultCodeName(r.code)} "${r.msg}"${r.uniqDelayMsgId ? ` id=${r.uniqDelayMsgId}` : ''}\n`);
    return r.code === 0 ? 0 : 1;
  } finally {
    client.close();
  }
}
