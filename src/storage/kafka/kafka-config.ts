/**
 * A Kafka cluster's settings: DDMQ's KafkaConfiguration keys, a few of pproxy's own, and how each
 * maps to kafkajs. The rules are those of DDMQ's KafkaConfiguration.validate; the keys it requires
 * are marked, and the host decides whether a missing one is defaulted (carrera.yaml) or refused
 * (ZooKeeper). DDMQ keys without a kafkajs equivalent are checked as DDMQ checks them and listed in
 * the README.
 */
import os from 'node:os';
import type { SASLOptions } from './kafkajs';
import type { z } from 'zod';
import type { SchemaTools } from '../plugin-api';
import { tlsClientSchema } from '../tls-client';

export function kafkaClusterSchema(tools: SchemaTools) {
  const { z, requiredByDdmq, secret } = tools;
  return z.object({
  /** host:port list; required. */
  bootstrapServers: z.array(z.string().min(1)).min(1, 'must list at least one broker'),
  /** "all" / "-1", "1" or "0": what Kafka's producer accepts (DDMQ's producer fails to start on anything else). */
  acks: requiredByDdmq(z.enum(['all', '-1', '1', '0']).default('all')),
  /** kafkajs retries of a failed request, within the request's deadline. */
  retries: z.number().int().min(0).default(2),
  /** kafkajs initialRetryTime, ms. */
  retryBackoff: requiredByDdmq(z.number().int().positive().default(100)),
  clientId: requiredByDdmq(z.string().default('pproxy')),
  /** How long a topic's partition count is trusted before it is fetched again, ms. */
  metadataMaxAge: requiredByDdmq(z.number().int().positive().default(300_000)),
  /** Bound of one metadata fetch, ms. */
  metadataFetchTimeout: requiredByDdmq(z.number().int().positive().default(5000)),
  /** Broker-side acknowledgement timeout (Kafka's timeout.ms), ms. */
  ackTimeout: requiredByDdmq(z.number().int().positive().default(30_000)),
  /** pproxy: bound of one request to a broker, ms (kafkajs requestTimeout). */
  requestTimeout: z.number().int().positive().default(30_000),
  /** pproxy: record batch compression; snappy, lz4 and zstd load their library when the cluster starts. */
  compression: z.enum(['none', 'gzip', 'snappy', 'lz4', 'zstd']).default('none'),
  /**
   * pproxy: kafkajs' idempotent producer (a producer id, and a sequence number per partition the
   * broker checks, so that a retried produce the broker had already written is not written twice).
   */
  enableIdempotence: z.boolean().default(false),
  // DDMQ keys with no kafkajs equivalent (kafkajs neither buffers nor batches on its own), with the
  // Kafka producer's defaults, so that a node written from carrera.yaml passes DDMQ's validate.
  batchSize: requiredByDdmq(z.number().int().positive().default(16_384)),
  bufferMemory: requiredByDdmq(z.number().int().positive().default(33_554_432)),
  /**
   * pproxy: TLS to the brokers (Kafka's SSL and SASL_SSL listeners). PEM files, read when the
   * cluster's clients are made; the broker's certificate is checked against `ca` (Node's own CAs
   * when absent) and its name against `servername` (the host of each broker address when absent).
   */
  ssl: tlsClientSchema(tools).optional(),
  /** pproxy: SASL authentication (Kafka's SASL_PLAINTEXT and SASL_SSL listeners). */
  sasl: z
    .object({
      mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
      username: z.string().min(1),
      password: secret(),
    })
    .optional(),
}).superRefine(refuseIdempotenceConflicts);
}

/**
 * What the idempotent producer cannot work with, as kafkajs would refuse it only at the first send
 * (acks) or at the producer's creation (retries): the broker deduplicates only what it replicated
 * before answering, and a produce that may have been written is safe only if it is sent again.
 */
function refuseIdempotenceConflicts(config: { enableIdempotence: boolean; acks?: string; retries: number }, ctx: z.RefinementCtx): void {
  if (!config.enableIdempotence) return;
  if (config.acks !== undefined && config.acks !== 'all' && config.acks !== '-1') {
    ctx.addIssue({ code: 'custom', path: ['acks'], message: `enableIdempotence needs acks "all" (or "-1"), not "${config.acks}"` });
  }
  if (config.retries < 1) {
    ctx.addIssue({ code: 'custom', path: ['retries'], message: 'enableIdempotence needs retries of at least 1: a produce whose answer was lost is only safe if sent again' });
  }
}

export type KafkaClusterConfig = z.output<ReturnType<typeof kafkaClusterSchema>>;

/** The cluster's SASL settings as kafkajs takes them: the one place the password is revealed. */
export function kafkaSasl(sasl: KafkaClusterConfig['sasl']): SASLOptions | undefined {
  if (sasl === undefined) return undefined;
  return { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password.reveal() } as SASLOptions;
}

/** acks as kafkajs takes it. */
export function kafkaAcks(acks: KafkaClusterConfig['acks']): -1 | 0 | 1 {
  if (acks === '1') return 1;
  if (acks === '0') return 0;
  return -1;
}

/** DDMQ's client id: `<clientId>-<startMs>-<hostname><index>`, unique per producer instance. */
export function kafkaClientId(config: KafkaClusterConfig, startedAt: number, index: number): string {
  return `${config.clientId}-${startedAt}-${os.hostname()}${index}`;
}
