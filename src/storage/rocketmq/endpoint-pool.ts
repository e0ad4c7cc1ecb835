/**
 * The RocketMQ 5 proxy endpoints of a cluster (`namesrvAddrs`), one gRPC channel each, and the
 * failover rule between them:
 * - a call goes to the first endpoint, in configuration order, that is not held off;
 * - an endpoint whose call fails at the connection level (UNAVAILABLE, or the deadline passed while
 *   its channel was not connected) is held off for ENDPOINT_HOLD_OFF_MS and the call moves on to the
 *   next endpoint while its deadline allows, each endpoint once per call;
 * - an endpoint entering its hold-off gets a fresh channel, so that once the hold-off is over it is
 *   dialled at once rather than after gRPC's own reconnect backoff (up to two minutes); it is then
 *   preferred again; a failure during the hold-off extends it, on the same channel;
 * - when every endpoint is held off they are still tried, the one back soonest first.
 */
import * as grpc from '@grpc/grpc-js';
import * as pb from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb';
import { MessagingServiceClient } from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_grpc_pb';
import type { Timers } from '../../time/timers';
import type { ChannelSecurity } from './channel-security';

export const ENDPOINT_HOLD_OFF_MS = 30_000;

/** Starts one unary call on `client` and reports its end through `done`. */
export type UnaryInvoker<T> = (client: MessagingServiceClient, deadline: number, done: (error: grpc.ServiceError | null, response?: T) => void) => void;

interface Endpoint {
  readonly address: string;
  client: MessagingServiceClient;
  heldOffUntil: number;
}

export class EndpointPool {
  private readonly endpoints: Endpoint[];

  constructor(
    addresses: readonly string[],
    private readonly timers: Timers,
    private readonly security: ChannelSecurity,
  ) {
    this.endpoints = addresses.map((address) => ({ address, client: this.dial(address), heldOffUntil: -Infinity }));
  }

  /** The endpoint the next call goes to first. */
  preferred(): { readonly address: string; readonly client: MessagingServiceClient } {
    return this.order()[0]!;
  }

  /**
   * Makes the call on the endpoints in failover order until one answers, a failure is not at the
   * connection level, or the deadline has passed. Rejects with the last attempt's gRPC error.
   */
  async unary<T>(deadline: number, invoke: UnaryInvoker<T>): Promise<T> {
    let failure: grpc.ServiceError | undefined;
    for (const endpoint of this.order()) {
      if (failure && Date.now() >= deadline) break;
      const client = endpoint.client;
      try {
        const response = await new Promise<T>((resolve, reject) =>
          invoke(client, deadline, (error, response) => (error ? reject(error) : resolve(response as T))),
        );
        endpoint.heldOffUntil = -Infinity;
        return response;
      } catch (error) {
        failure = error as grpc.ServiceError;
        if (!this.failedAtConnection(failure.code, client)) throw failure;
      }
    }
    throw failure!;
  }

  /**
   * Holds off the endpoint `client` belongs to if a call made on it ended with a connection-level
   * failure, and says whether it was one.
   */
  failedAtConnection(code: grpc.status, client: MessagingServiceClient): boolean {
    const connectionLevel =
      code === grpc.status.UNAVAILABLE ||
      (code === grpc.status.DEADLINE_EXCEEDED && client.getChannel().getConnectivityState(false) !== grpc.connectivityState.READY);
    const endpoint = this.endpoints.find((e) => e.client === client);
    // a client already replaced belongs to an endpoint held off by an earlier failure
    if (connectionLevel && endpoint) {
      const now = this.timers.now();
      // a fresh channel once per hold-off: one per failed call would be a connect storm while all are down
      if (endpoint.heldOffUntil <= now) {
        endpoint.client.close();
        endpoint.client = this.dial(endpoint.address);
      }
      endpoint.heldOffUntil = now + ENDPOINT_HOLD_OFF_MS;
    }
    return connectionLevel;
  }

  close(): void {
    for (const endpoint of this.endpoints) endpoint.client.close();
  }

  /** The `Endpoints` message listing every address, as QueryRoute and the client settings carry it. */
  accessPoint(): pb.Endpoints {
    const endpoints = new pb.Endpoints();
    endpoints.setScheme(pb.AddressScheme.IPV4);
    for (const { address } of this.endpoints) {
      const [host, port] = address.split(':');
      endpoints.addAddresses(new pb.Address().setHost(host!).setPort(Number(port)));
    }
    return endpoints;
  }

  /** Endpoints not held off in configuration order, then the held-off ones, the one back soonest first. */
  private order(): Endpoint[] {
    const now = this.timers.now();
    const held = this.endpoints.filter((e) => e.heldOffUntil > now).sort((a, b) => a.heldOffUntil - b.heldOffUntil);
    return [...this.endpoints.filter((e) => e.heldOffUntil <= now), ...held];
  }

  /** A channel of its own (no subchannel shared with an earlier one, and so none of its backoff). */
  private dial(address: string): MessagingServiceClient {
    return new MessagingServiceClient(address, this.security.credentials, { ...this.security.options, 'grpc.use_local_subchannel_pool': 1 });
  }
}
