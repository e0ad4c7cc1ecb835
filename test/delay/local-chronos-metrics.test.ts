/**
 * Local Chronos' metrics, on its injected clock: pending follows adds, deliveries and drops (and a
 * restart's replay), and each delivery is counted as delivered, retried or dropped by its answer.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { ProducerMessage } from '../../src/core/message';
import { DelayAction, DelayType } from '../../src/delay/delay-check';
import type { DelayKey } from '../../src/delay/delay-id';
import { LocalChronos } from '../../src/delay/local-chronos';
import { silentLogger } from '../../src/log';
import { ProxyMetrics } from '../../src/metrics/proxy-metrics';
import { ResultCode } from '../../src/protocol/result-codes';
import { tempDir } from '../helpers/config';
import { eventually } from '../helpers/wait';

const NOW_S = 1_763_800_000n;

function key(timestamp: bigint): DelayKey {
  return { timestamp, type: DelayType.DELAY, expire: timestamp + 172_800n, times: 1n, timed: 0n, interval: 0n, seq: 0, uuid: randomUUID() };
}

/** The unlabelled samples of local Chronos in an exposition. */
async function chronosSamples(metrics: ProxyMetrics): Promise<Record<string, number>> {
  const samples: Record<string, number> = {};
  for (const line of (await metrics.render()).split('\n')) {
    const match = /^(pproxy_chronos_[a-z_]+) (.+)$/.exec(line);
    if (match) samples[match[1]!] = Number(match[2]);
  }
  return samples;
}

test('pending, delivered, retried and dropped count what local Chronos does with each message', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  let nowMs = Number(NOW_S) * 1000;
  // by body: the codes its deliveries are answered with, in turn
  const answers: Record<string, ResultCode[]> = {
    ok: [ResultCode.OK],
    retried: [ResultCode.FAIL_TIMEOUT, ResultCode.OK],
    refused: [ResultCode.FAIL_TOPIC_NOT_EXIST],
  };
  const deliver = (m: ProducerMessage) => answers[m.body!.toString()]!.shift() ?? ResultCode.OK;
  const metrics = new ProxyMetrics(true);
  const chronos = new LocalChronos(dir, deliver, silentLogger(), { clock: () => nowMs, metrics: metrics.chronos });
  t.after(() => chronos.stop());
  const add = (timestamp: bigint, body: string) =>
    chronos.accept({ action: DelayAction.ADD, key: key(timestamp), topic: 'user', body: Buffer.from(body), tags: undefined, properties: undefined });
  for (const body of ['ok', 'retried', 'refused']) await add(NOW_S, body);
  await add(NOW_S + 3600n, 'later');
  assert.deepEqual(await chronosSamples(metrics), {
    pproxy_chronos_pending_messages: 4,
    pproxy_chronos_delivered_total: 0,
    pproxy_chronos_retried_total: 0,
    pproxy_chronos_dropped_total: 0,
  });

  chronos.start();
  await eventually(() => (chronos.status().pending === 2 ? true : undefined), 5000, 'the delivered and the dropped message gone');
  await chronos.idle();
  assert.deepEqual(await chronosSamples(metrics), {
    pproxy_chronos_pending_messages: 2,
    pproxy_chronos_delivered_total: 1,
    pproxy_chronos_retried_total: 1,
    pproxy_chronos_dropped_total: 1,
  });

  nowMs += 1000; // the retry is due
  await eventually(() => (chronos.status().pending === 1 ? true : undefined), 5000, 'the retried message delivered');
  chronos.stop();
  await chronos.idle();
  assert.deepEqual(await chronosSamples(metrics), {
    pproxy_chronos_pending_messages: 1,
    pproxy_chronos_delivered_total: 2,
    pproxy_chronos_retried_total: 1,
    pproxy_chronos_dropped_total: 1,
  });
  await chronos.close();

  const restarted = new ProxyMetrics(true);
  const again = new LocalChronos(dir, deliver, silentLogger(), { clock: () => nowMs, metrics: restarted.chronos });
  t.after(() => again.close());
  assert.equal((await chronosSamples(restarted)).pproxy_chronos_pending_messages, 1, 'the replayed journal holds the later message');
});

test('a catalog without a local Chronos (ZooKeeper mode) exports no Chronos series; one that opens its journal exports all four', async (t) => {
  const metrics = new ProxyMetrics(true);
  assert.deepEqual(await chronosSamples(metrics), {});
  const chronos = new LocalChronos(tempDir(t), () => ResultCode.OK, silentLogger(), { metrics: metrics.chronos });
  t.after(() => chronos.close());
  assert.deepEqual(await chronosSamples(metrics), {
    pproxy_chronos_pending_messages: 0,
    pproxy_chronos_delivered_total: 0,
    pproxy_chronos_retried_total: 0,
    pproxy_chronos_dropped_total: 0,
  });
});
