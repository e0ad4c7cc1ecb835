/**
 * A RocketMQ cluster's settings: DDMQ's RocketmqConfiguration keys, read for the RocketMQ 5 gRPC
 * protocol. `namesrvAddrs` are the RocketMQ 5 proxy's gRPC endpoints here (host:port), not name
 * servers: a RocketMQ 5 client reaches brokers only through that proxy.
 */
import type { z } from 'zod';
import type { SchemaTools } from '../plugin-api';

const DEFAULT_SEND_MSG_TIMEOUT_MS = 3000;

/**
 * The rules are those of DDMQ's RocketmqConfiguration.validate; the keys it requires are marked,
 * and the host decides whether a missing one is defaulted (carrera.yaml) or refused (ZooKeeper).
 */
export function rocketmqClusterSchema({ z, requiredByDdmq }: SchemaTools) {
  return z.object({
  /** RocketMQ 5 proxy gRPC endpoints, host:port, in failover order (see endpoint-pool.ts). */
  namesrvAddrs: z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port')).min(1, 'must list at least one endpoint'),
  /** Prefix of the client id the proxy sees (DDMQ: the producer group prefix). */
  groupPrefix: requiredByDdmq(z.string().default('pproxy')),
  /**
   * Bound of one SendMessage or QueryRoute call, ms. DDMQ accepts 0, with which its client times
   * every send out at once; here 0 means the default.
   */
  sendMsgTimeout: z
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_SEND_MSG_TIMEOUT_MS)
    .transform((ms) => ms || DEFAULT_SEND_MSG_TIMEOUT_MS),
  /** Body limit on this cluster; the server's published limit applies too. */
  maxMessageSize: requiredByDdmq(z.number().int().positive().default(2 * 1024 * 1024)),
  /** pproxy: how long a topic's route is trusted before it is fetched again, ms. */
  routeMaxAge: z.number().int().positive().default(30_000),
  // DDMQ keys of its RocketMQ 4 remoting client that have no meaning over gRPC, checked as DDMQ
  // checks them, with the console's values as defaults so that a node written from carrera.yaml
  // passes DDMQ's validate.
  compressMsgBodyOverHowmuch: requiredByDdmq(z.number().int().positive().default(4096)),
  retryTimesWhenSendFailed: z.number().int().nonnegative().default(0),
  retryAnotherBrokerWhenNotStoreOK: z.boolean().default(false),
  clientCallbackExecutorThreads: requiredByDdmq(z.number().int().positive().default(4)),
  pollNameServerInterval: requiredByDdmq(z.number().int().positive().default(2000)),
  heartbeatBrokerInterval: requiredByDdmq(z.number().int().positive().default(10_000)),
  persistConsumerOffsetInterval: requiredByDdmq(z.number().int().positive().default(5000)),
});
}

export type RocketmqClusterConfig = z.output<ReturnType<typeof rocketmqClusterSchema>>;
