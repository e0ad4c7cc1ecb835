/** One Redis cluster's settings, `carreraConfiguration.redisConfigurationMap.<cluster>` in carrera.yaml. */
import type { SchemaTools } from 'pproxy/storage';

/** Redis' default proto-max-bulk-len: no single argument (a body) may be longer. */
export const REDIS_MAX_BULK_LENGTH = 512 * 1024 * 1024;

export function redisConfigSchema({ z }: SchemaTools) {
  const ms = (min: number, fallback: number) => z.number().int().min(min).max(600_000).default(fallback);
  return z.object({
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(1).max(65_535).default(6379),
    db: z.number().int().min(0).default(0),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** Prepended to every stream key: `<keyPrefix><topic>:<partition>`. */
    keyPrefix: z.string().default(''),
    /** Streams per topic; DDMQ's partition hints pick one. */
    partitions: z.number().int().min(1).max(1024).default(1),
    /** Retention: each XADD trims its stream to about this many entries (`MAXLEN ~`). */
    maxLen: z.number().int().min(1).optional(),
    /** XADD with NOMKSTREAM: a message to a stream nobody created is refused with TOPIC_NOT_FOUND. */
    requireExistingStreams: z.boolean().default(false),
    /** Largest body; without it the proxy's default (2 MiB) applies. */
    maxMessageSize: z.number().int().min(1).max(REDIS_MAX_BULK_LENGTH).optional(),
    /** Bound of start() and of each connection attempt. */
    connectTimeoutMs: ms(100, 5000),
    /** Bound of each XADD's reply. */
    commandTimeoutMs: ms(100, 3000),
    /** How long an ordered message's retry is waited for before younger messages of its stream go ahead. */
    orderedRetryWindowMs: ms(10, 1000),
  });
}

/** The parsed settings, typed from the schema itself: the plugin depends on no zod of its own. */
export type RedisClusterConfig = ReturnType<ReturnType<typeof redisConfigSchema>['parse']>;
