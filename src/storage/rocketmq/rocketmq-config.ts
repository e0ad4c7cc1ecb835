/**
 * A RocketMQ cluster's settings: DDMQ's RocketmqConfiguration keys, read for the RocketMQ 5 gRPC
 * protocol. `namesrvAddrs` are the RocketMQ 5 proxy's gRPC endpoints here (host:port), not name
 * servers: a RocketMQ 5 client reaches brokers only through that proxy.
 */
import { z } from 'zod';

export const rocketmqClusterSchema = z.looseObject({
  /** RocketMQ 5 proxy gRPC endpoints, host:port, in failover order (see endpoint-pool.ts). */
  namesrvAddrs: z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port')).min(1, 'must list at least one endpoint'),
  /** Prefix of the client id the proxy sees (DDMQ: the producer group prefix). */
  groupPrefix: z.string().min(1).default('pproxy'),
  /** Bound of one SendMessage or QueryRoute call, ms. */
  sendMsgTimeout: z.number().int().positive().default(3000),
  /** Body limit on this cluster; the server's published limit applies too. */
  maxMessageSize: z.number().int().positive().default(2 * 1024 * 1024),
  /** pproxy: how long a topic's route is trusted before it is fetched again, ms. */
  routeMaxAge: z.number().int().positive().default(30_000),
  // DDMQ keys of its RocketMQ 4 remoting client that have no meaning over gRPC.
  compressMsgBodyOverHowmuch: z.unknown().optional(),
  retryTimesWhenSendFailed: z.unknown().optional(),
  retryAnotherBrokerWhenNotStoreOK: z.unknown().optional(),
  clientCallbackExecutorThreads: z.unknown().optional(),
  pollNameServerInterval: z.unknown().optional(),
  heartbeatBrokerInterval: z.unknown().optional(),
  persistConsumerOffsetInterval: z.unknown().optional(),
});

export type RocketmqClusterConfig = z.output<typeof rocketmqClusterSchema>;
