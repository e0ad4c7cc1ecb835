/**
 * Systems (e) and (f), an application without a proxy, as a child process of its own so that its
 * peak RSS is kafkajs' (plus this small load loop) rather than the bench process's. Takes one job
 * over IPC, drives it, answers with the measurement and exits.
 */
import { KafkaDirect } from './kafka-direct';
import { drive, type Load, type Timing } from './load';
import type { Measurement } from './recorder';
import { peakRssOf } from './rss';

export interface KafkaJob {
  brokers: string[];
  topic: string;
  partitions: number;
  /** Messages per send(). */
  batch: number;
  bodyBytes: number;
  load: Load;
  timing: Timing;
}

export type KafkaReply = { measurement: Measurement; peakRssMiB: number } | { error: string };

async function run(job: KafkaJob): Promise<KafkaReply> {
  const direct = await KafkaDirect.connect(job.brokers, job.topic, job.partitions, job.batch, job.bodyBytes);
  try {
    const measurement = await drive(direct, job.load, job.timing);
    return { measurement, peakRssMiB: peakRssOf(process.pid) };
  } finally {
    await direct.close();
  }
}

process.once('message', (job: KafkaJob) => {
  void run(job)
    .catch((err: unknown): KafkaReply => ({ error: (err as Error).stack ?? String(err) }))
    .then((reply) => process.send!(reply, () => process.disconnect()));
});
