/**
 * A broker killed and started again while four senders keep calling sendSync (1 s deadline): the
 * e2e files of every real broker run it and then check what was stored.
 */
import assert from 'node:assert/strict';
import type { ProducerClient } from '../../src/client/producer-client';
import { eventually } from './wait';

export interface RestartRun {
  /** The bodies answered OK. */
  readonly acknowledged: ReadonlySet<string>;
  /** How many calls got each result code. */
  readonly codes: ReadonlyMap<number, number>;
}

/**
 * Sends `m-<n>` bodies to `topic` until 100 are OK, kills the broker, waits for an error code (10
 * or 12), starts it again and waits for 100 more OKs; asserts no other code came back.
 */
export async function sendThroughRestart(
  client: ProducerClient,
  topic: string,
  broker: { kill(): Promise<void>; start(): Promise<void> },
): Promise<RestartRun> {
  const acknowledged = new Set<string>();
  const codes = new Map<number, number>();
  let n = 0;
  let running = true;
  const senders = Array.from({ length: 4 }, async () => {
    while (running) {
      const body = `m-${n++}`;
      const r = await client.sendSync({ topic, body }, 1000);
      if (r.code === 0) acknowledged.add(body);
      codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
    }
  });
  await eventually(() => (acknowledged.size >= 100 ? true : undefined), 20_000, '100 messages before the kill');
  await broker.kill();
  await eventually(() => ((codes.get(10) ?? 0) + (codes.get(12) ?? 0) > 0 ? true : undefined), 20_000, 'an error code while the broker is down');
  await broker.start();
  const okBefore = codes.get(0) ?? 0;
  await eventually(() => ((codes.get(0) ?? 0) >= okBefore + 100 ? true : undefined), 60_000, '100 more OKs after the restart');
  running = false;
  await Promise.all(senders);
  assert.deepEqual([...codes.keys()].filter((code) => ![0, 10, 12].includes(code)), [], `codes: ${JSON.stringify([...codes])}`);
  return { acknowledged, codes };
}
