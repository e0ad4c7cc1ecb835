/**
 * The Telemetry stream: this client reports its settings, the server answers with its own (among
 * them the largest body it accepts). A stream that fails or is ended by the server is opened again,
 * on the endpoint a call would go to first, after a backoff of TELEMETRY_REOPEN_MIN_MS doubling up
 * to TELEMETRY_REOPEN_MAX_MS (back to the minimum once a stream has brought settings), as the
 * official clients renew theirs; a proxy restarted with other limits is so heard again. A server
 * that refuses the client (its credentials) answers with a status instead of settings and keeps
 * the stream open: that is logged once per stream.
 */
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { Duration } from 'google-protobuf/google/protobuf/duration_pb';
import * as pb from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb';
import * as rpc from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_pb';
import type { StorageLogger as Logger } from '../plugin-api';
import type { Timers } from '../../time/timers';
import type { EndpointPool } from './endpoint-pool';
import { RmqCode } from './rocketmq-errors';

export const TELEMETRY_REOPEN_MIN_MS = 1000;
export const TELEMETRY_REOPEN_MAX_MS = 30_000;

export interface TelemetryOptions {
  readonly pool: EndpointPool;
  readonly timers: Timers;
  readonly logger: Logger;
  /** Bound of one call, reported to the server as the request timeout. */
  readonly requestTimeoutMs: number;
  readonly clientVersion: string;
  /** Fresh transport headers for a new stream. */
  readonly metadata: () => grpc.Metadata;
  /** The server's settings, each time it sends them. */
  readonly onSettings: (settings: pb.Settings) => void;
}

export class TelemetrySession {
  private stream: grpc.ClientDuplexStream<rpc.TelemetryCommand, rpc.TelemetryCommand> | undefined;
  private reopenTimer: unknown;
  private reopenDelay = TELEMETRY_REOPEN_MIN_MS;
  private closed = false;

  constructor(private readonly options: TelemetryOptions) {}

  open(): void {
    const { pool, logger } = this.options;
    const { address, client } = pool.preferred();
    const stream = client.telemetry(this.options.metadata());
    this.stream = stream;
    stream.on('data', (command: rpc.TelemetryCommand) => {
      const settings = command.getSettings();
      if (!settings) {
        const status = command.getStatus();
        if (status && status.getCode() !== RmqCode.OK) {
          logger.warn({ endpoint: address, code: status.getCode(), details: status.getMessage() }, 'rocketmq telemetry stream refused by the server');
        }
        return;
      }
      this.reopenDelay = TELEMETRY_REOPEN_MIN_MS;
      this.options.onSettings(settings);
    });
    // the status event below reports the failure; without a listener an error would be thrown
    stream.on('error', () => undefined);
    stream.on('status', (status: grpc.StatusObject) => {
      if (this.closed) return;
      this.stream = undefined;
      const report = { endpoint: address, code: status.code, details: status.details, reopenInMs: this.reopenDelay };
      if (status.code === grpc.status.OK) {
        logger.info(report, 'rocketmq telemetry stream ended by the server; reopening it');
      } else {
        pool.failedAtConnection(status.code, client);
        logger.warn(report, 'rocketmq telemetry stream failed; reopening it');
      }
      this.reopenTimer = this.options.timers.set(() => {
        this.reopenTimer = undefined;
        this.open();
      }, this.reopenDelay);
      this.reopenDelay = Math.min(this.reopenDelay * 2, TELEMETRY_REOPEN_MAX_MS);
    });
    stream.write(new rpc.TelemetryCommand().setSettings(this.clientSettings()));
  }

  /** Ends the stream and any reopening. */
  close(): void {
    this.closed = true;
    if (this.reopenTimer !== undefined) this.options.timers.clear(this.reopenTimer);
    this.reopenTimer = undefined;
    this.stream?.end();
  }

  private clientSettings(): pb.Settings {
    const settings = new pb.Settings();
    settings.setClientType(pb.ClientType.PRODUCER);
    settings.setAccessPoint(this.options.pool.accessPoint());
    settings.setRequestTimeout(new Duration().setSeconds(Math.ceil(this.options.requestTimeoutMs / 1000)));
    settings.setPublishing(new pb.Publishing());
    const ua = new pb.UA();
    ua.setLanguage(pb.Language.LANGUAGE_UNSPECIFIED);
    ua.setVersion(this.options.clientVersion);
    ua.setPlatform(`${os.platform()} ${os.release()}`);
    ua.setHostname(os.hostname());
    settings.setUserAgent(ua);
    return settings;
  }
}
