/**
 * A RocketMQ cluster's settings: DDMQ's RocketmqConfiguration keys, and `protocol`, which says what
 * `namesrvAddrs` are (see rocketmqProtocol): RocketMQ name servers, reached over the remoting
 * protocol as DDMQ's own RocketMQ 4 client does (brokers found through their routes), or RocketMQ 5
 * proxies' gRPC endpoints (a RocketMQ 5 client reaches brokers only through such a proxy).
 */
import type { z } from 'zod';
import type { SchemaTools } from '../plugin-api';
import { tlsClientSchema } from '../tls-client';

const DEFAULT_SEND_MSG_TIMEOUT_MS = 3000;

export const ROCKETMQ_PROTOCOLS = ['remoting', 'grpc'] as const;
export type RocketmqProtocol = (typeof ROCKETMQ_PROTOCOLS)[number];

/** RocketMQ 5 proxy's default gRPC port: addresses all on it are proxies, unless `protocol` says otherwise. */
export const GRPC_PROXY_DEFAULT_PORT = 8081;

const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));

/**
 * The protocol of a cluster. DDMQ's console writes name servers into `namesrvAddrs` (its stock
 * configuration: 127.0.0.1:9876) and no `protocol`, so without one the addresses are name servers,
 * spoken to over remoting; addresses that are all on the RocketMQ 5 proxy's default port 8081 are
 * proxies, spoken to over gRPC. `protocol` set says it outright, for any port.
 */
export function rocketmqProtocol(config: { readonly protocol?: RocketmqProtocol | undefined; readonly namesrvAddrs: readonly string[] }): RocketmqProtocol {
  if (config.protocol) return config.protocol;
  return config.namesrvAddrs.every((address) => portOf(address) === GRPC_PROXY_DEFAULT_PORT) ? 'grpc' : 'remoting';
}

/** Without `protocol`, a list mixing port 8081 with others names both kinds of server: refused. */
function refuseAmbiguousAddresses(config: { protocol?: RocketmqProtocol | undefined; namesrvAddrs: string[] }, ctx: z.RefinementCtx): void {
  if (config.protocol) return;
  const onGrpcPort = config.namesrvAddrs.filter((address) => portOf(address) === GRPC_PROXY_DEFAULT_PORT);
  if (onGrpcPort.length === 0 || onGrpcPort.length === config.namesrvAddrs.length) return;
  ctx.addIssue({
    code: 'custom',
    path: ['namesrvAddrs'],
    message:
      `mixes ${onGrpcPort.join(', ')} (port ${GRPC_PROXY_DEFAULT_PORT}: RocketMQ 5 proxies, gRPC) with name servers; ` +
      "say which they all are with protocol: 'remoting' (name servers) or 'grpc' (RocketMQ 5 proxies)",
  });
}

/** TLS is spoken to RocketMQ 5 proxies only: set on a remoting cluster, it would be silently ignored. */
function refuseGrpcOnlyOnRemoting(config: { protocol?: RocketmqProtocol | undefined; namesrvAddrs: string[]; ssl?: unknown }, ctx: z.RefinementCtx): void {
  if (config.ssl === undefined || rocketmqProtocol(config) === 'grpc') return;
  ctx.addIssue({ code: 'custom', path: ['ssl'], message: `is for RocketMQ 5 proxies (protocol: 'grpc'); these namesrvAddrs are name servers, spoken to over remoting` });
}

/**
 * The rules are those of DDMQ's RocketmqConfiguration.validate; the keys it requires are marked,
 * and the host decides whether a missing one is defaulted (carrera.yaml) or refused (ZooKeeper).
 */
export function rocketmqClusterSchema(tools: SchemaTools) {
  const { z, requiredByDdmq, secret } = tools;
  return z.object({
  /**
   * host:port, in failover order: RocketMQ name servers (remoting) or RocketMQ 5 proxy gRPC
   * endpoints (grpc; see endpoint-pool.ts), as `protocol` says.
   */
  namesrvAddrs: z.array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port')).min(1, 'must list at least one endpoint'),
  /** pproxy: what namesrvAddrs are; absent, the rule of rocketmqProtocol. */
  protocol: z.enum(ROCKETMQ_PROTOCOLS).optional(),
  /** Prefix of the client id the proxy sees (DDMQ: the producer group prefix). */
  groupPrefix: requiredByDdmq(z.string().default('pproxy')),
  /**
   * Bound of one send, retries included (remoting), or of one SendMessage or QueryRoute call
   * (grpc), ms. DDMQ accepts 0, with which its client times every send out at once; here 0 means
   * the default.
   */
  sendMsgTimeout: z
    .number()
    .int()
    .nonnegative()
    .default(DEFAULT_SEND_MSG_TIMEOUT_MS)
    .transform((ms) => ms || DEFAULT_SEND_MSG_TIMEOUT_MS),
  /** Body limit on this cluster (and, remoting, of one batch); over gRPC the server's published limit applies too. */
  maxMessageSize: requiredByDdmq(z.number().int().positive().default(2 * 1024 * 1024)),
  /** pproxy, grpc: how long a topic's route is trusted before it is fetched again, ms. */
  routeMaxAge: z.number().int().positive().default(30_000),
  // DDMQ's keys of its RocketMQ 4 client, checked as DDMQ checks them, with the console's values as
  // defaults so that a node written from carrera.yaml passes DDMQ's validate. Remoting uses the
  // first five (see rocketmq4-storage.ts); gRPC none; the executor and offset keys neither.
  /** Remoting: a single message's body from this many bytes on is sent zlib-compressed. */
  compressMsgBodyOverHowmuch: requiredByDdmq(z.number().int().positive().default(4096)),
  /** Remoting: attempts after a failed one, on another broker, within sendMsgTimeout (DDMQ forces 0). */
  retryTimesWhenSendFailed: z.number().int().nonnegative().default(0),
  /** Remoting: a message stored but not flushed or replicated in time is sent again elsewhere instead of answered OK. */
  retryAnotherBrokerWhenNotStoreOK: z.boolean().default(false),
  clientCallbackExecutorThreads: requiredByDdmq(z.number().int().positive().default(4)),
  /** Remoting: how often the routes of the topics sent to are looked up again, ms. */
  pollNameServerInterval: requiredByDdmq(z.number().int().positive().default(2000)),
  /** Remoting: how often the producer groups are registered with the brokers again, ms. */
  heartbeatBrokerInterval: requiredByDdmq(z.number().int().positive().default(10_000)),
  persistConsumerOffsetInterval: requiredByDdmq(z.number().int().positive().default(5000)),
  /**
   * pproxy, grpc: TLS to the proxies. PEM files, read when the cluster's channels are made; the
   * proxy's certificate is checked against `ca` (Node's own CAs when absent) and its name against
   * `servername` (the host of each endpoint address when absent).
   */
  ssl: tlsClientSchema(tools).optional(),
  /**
   * pproxy: the access key every request is signed with, and its secret key; a security token when
   * the server issues temporary ones. gRPC: RocketMQ 5's authentication (the proxy checks the
   * signature with the user's secret key, request-signature.ts); remoting: RocketMQ 4's ACL (the
   * broker checks it against plain_acl.yml, rocketmq4/remoting/acl-signature.ts).
   */
  credentials: z
    .object({
      accessKey: z.string().min(1),
      secretKey: secret(),
      securityToken: secret().optional(),
    })
    .optional(),
}).superRefine(refuseAmbiguousAddresses).superRefine(refuseGrpcOnlyOnRemoting);
}

export type RocketmqClusterConfig = z.output<ReturnType<typeof rocketmqClusterSchema>>;
