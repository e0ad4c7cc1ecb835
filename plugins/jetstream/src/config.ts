/**
 * One JetStream cluster's settings (carrera.yaml's `jetstreamConfigurationMap.<cluster>`), built
 * with the host's zod so the host applies its strictness to it. Keys are flat: the host makes only
 * the top-level object strict, so a typo inside a nested object would pass unseen.
 */
import type { SchemaTools } from 'pproxy/storage';

export function jetStreamConfigSchema({ z }: SchemaTools) {
  const ms = () => z.number().int().positive();
  return z.object({
    /** NATS server URLs or host:port; the client fails over between them. */
    servers: z.array(z.string().min(1)).min(1, 'must list at least one NATS server'),
    /** Subjects a DDMQ partition maps to per topic: `<subjectPrefix><topic>.<0..partitions-1>`. */
    partitions: z.number().int().min(1).max(10_000).default(1),
    /** Prepended to the (escaped) topic to make its subjects. */
    subjectPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_\-.%]*$/, 'may hold letters, digits, _ - . % only')
      .refine((p) => !p.startsWith('.') && !p.includes('..'), 'must not start with "." nor hold an empty token')
      .default('carrera.'),
    /** Prepended to the (escaped) topic to make its stream's name. */
    streamPrefix: z.string().regex(/^[A-Za-z0-9_\-%]*$/, 'may hold letters, digits, _ - % only').default(''),
    /** Create a topic's stream when it does not exist; when false a missing stream answers TOPIC_NOT_FOUND. */
    createStreams: z.boolean().default(true),
    /** Limits of the streams this plugin creates (an existing stream keeps its own). -1: unlimited. */
    streamMaxBytes: z.number().int().min(-1).default(-1),
    /** 0: messages never expire. */
    streamMaxAgeMs: z.number().int().min(0).default(0),
    streamReplicas: z.number().int().min(1).max(5).default(1),
    streamStorage: z.enum(['file', 'memory']).default('file'),
    /** At a limit: `new` refuses the publish (the producer hears of it), `old` drops the oldest messages. */
    streamDiscard: z.enum(['new', 'old']).default('new'),
    /**
     * The server deduplicates a message id within this window: it must outlast every retry of a
     * message (the host bounds a send at 60 s). Created streams get it; on an existing stream with a
     * shorter window, a publish whose ack is lost is answered without a retry.
     */
    duplicateWindowMs: ms().default(120_000),
    /** Bound of one publish: no ack by then answers TIMEOUT (retriable: the retry carries the same id). */
    publishTimeoutMs: ms().default(3000),
    /** Bound of the first connection, in start(). */
    connectTimeoutMs: ms().default(5000),
    /** First wait between reconnect attempts, doubled per failed round up to maxReconnectWaitMs. */
    reconnectWaitMs: ms().default(250),
    maxReconnectWaitMs: ms().default(5000),
    /**
     * How long a strongOrder message that failed retriably is waited for again before the younger
     * ones of its partition go without it; at most 60 s, the host's bound of one send.
     */
    orderedRetryWindowMs: z.number().int().min(10).max(60_000).default(1000),
    /** A further bound on bodies, below the server's max_payload. */
    maxMessageSize: ms().optional(),
  });
}

export type JetStreamConfig = ReturnType<ReturnType<typeof jetStreamConfigSchema>['parse']>;
