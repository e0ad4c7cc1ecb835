/**
 * How a cluster's gRPC channels are secured: plaintext, or TLS as its `ssl` setting says, in the
 * form grpc-js takes (channel credentials, and channel options for the name the certificate must
 * carry).
 */
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { tlsClientContext, tlsClientOptions } from '../tls-client';
import type { RocketmqClusterConfig } from './rocketmq-config';

export interface ChannelSecurity {
  readonly credentials: grpc.ChannelCredentials;
  readonly options: grpc.ChannelOptions;
}

/** The cluster's channel security, its PEM files read now (once: every channel of the cluster shares them). */
export function channelSecurity(ssl: RocketmqClusterConfig['ssl'], read: (file: string) => Buffer = fs.readFileSync): ChannelSecurity {
  if (ssl === undefined) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const context = tlsClientContext(tlsClientOptions(ssl, read));
  return {
    credentials: grpc.credentials.createFromSecureContext(context, { rejectUnauthorized: ssl.rejectUnauthorized }),
    // grpc-js sends this name as the TLS server name and checks the certificate against it
    options: ssl.servername === undefined ? {} : { 'grpc.ssl_target_name_override': ssl.servername },
  };
}
