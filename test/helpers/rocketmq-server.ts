/**
 * The real Apache RocketMQ 5 for a test (name server, proxy in local mode with its broker; the
 * benchmark starts the same one), and reading a topic back with rocketmq-client-nodejs'
 * SimpleConsumer (with the server's user, and over TLS, when it was started with security).
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { SimpleConsumer, type MessageView } from 'rocketmq-client-nodejs';
import { RocketMqLocal } from '../../bench/peers/rocketmq-server';

export { MAX_MESSAGE_SIZE, type TopicType } from '../../bench/peers/rocketmq-server';

/** A message read back, with the queue it was stored on. */
export interface ReadMessage {
  queueId: number;
  offset: number;
  body: Buffer;
  tag: string | undefined;
  keys: string[];
  messageGroup: string | undefined;
  properties: Record<string, string>;
}

/** RocketMqLocal, with `RocketMqServer.start(t, topics)` and a consumer that reads topics back. */
export class RocketMqServer extends RocketMqLocal {
  /**
   * Everything on `topic`, read with a SimpleConsumer of a fresh group (a new group starts at the
   * queues' first message): receives until `count` messages arrived, within `timeoutMs`.
   */
  readAll(topic: string, count: number, timeoutMs = 30_000): Promise<ReadMessage[]> {
    return this.readUntil(topic, (read) => read.length >= count, timeoutMs);
  }

  /**
   * Everything on `topic` as readAll reads it, until `done` holds for the messages read so far (in
   * arrival order), within `timeoutMs`.
   */
  async readUntil(topic: string, done: (read: ReadMessage[]) => boolean, timeoutMs = 30_000): Promise<ReadMessage[]> {
    const { user, tls } = this.security;
    const untrust = tls ? trustInSslChannels(fs.readFileSync(tls.caFile)) : () => undefined;
    try {
      return await this.consume(topic, done, timeoutMs, {
        sslEnabled: tls !== undefined,
        sessionCredentials: user ? { accessKey: user.accessKey, accessSecret: user.secretKey } : undefined,
      });
    } finally {
      untrust();
    }
  }

  private async consume(
    topic: string,
    done: (read: ReadMessage[]) => boolean,
    timeoutMs: number,
    security: Pick<ConstructorParameters<typeof SimpleConsumer>[0], 'sslEnabled' | 'sessionCredentials'>,
  ): Promise<ReadMessage[]> {
    const consumer = new SimpleConsumer({
      ...security,
      endpoints: this.address,
      consumerGroup: `pproxy-test-${topic}-${Date.now()}`,
      subscriptions: new Map([[topic, '*']]),
      namespace: '',
      // the proxy refuses a long poll shorter than its minimum (5 s)
      awaitDuration: 5000,
      logger: silentLogger(),
    } as ConstructorParameters<typeof SimpleConsumer>[0]);
    const closeTelemetry = keepTelemetryErrorsHandled(consumer);
    await consumer.startup();
    const read = new Map<string, ReadMessage>();
    try {
      const deadline = Date.now() + timeoutMs;
      while (!done([...read.values()]) && Date.now() < deadline) {
        const messages: MessageView[] = await consumer.receive(32, 30_000).catch(() => []);
        for (const m of messages) {
          const queueId = queueIdOf(m.receiptHandle);
          read.set(`${queueId}/${m.offset}`, {
            queueId,
            offset: Number(m.offset),
            body: m.body,
            // the client reports an absent tag or group as ''
            tag: m.tag || undefined,
            keys: m.keys,
            messageGroup: m.messageGroup || undefined,
            properties: Object.fromEntries(m.properties),
          });
          await consumer.ack(m);
        }
      }
    } finally {
      await consumer.shutdown().finally(closeTelemetry);
    }
    return [...read.values()].sort((a, b) => a.queueId - b.queueId || a.offset - b.offset);
  }
}

/**
 * A broker receipt handle is its pop check point: space-separated fields, the broker name and
 * queue id among them (RocketMQ's ExtraInfoUtil layout: startOffset, popTime, invisibleTime,
 * reviveQueueId, topicType, brokerName, queueId, offset, ...).
 */
function queueIdOf(receiptHandle: string): number {
  const fields = receiptHandle.split(' ');
  const queueId = Number(fields[6]);
  if (!Number.isInteger(queueId)) throw new Error(`unexpected receipt handle: ${receiptHandle}`);
  return queueId;
}

/**
 * rocketmq-client-nodejs 1.0.8 ends a Telemetry stream on shutdown and then removes all its
 * listeners, so the server closing the connection later is an uncaught 'error'; and a stream the
 * server ends is renewed a second later, after shutdown too, on a fresh channel that keeps the
 * process alive. The stream keeps an error listener here, and the returned close() cancels every
 * stream and makes later renewals inert.
 */
function keepTelemetryErrorsHandled(consumer: SimpleConsumer): () => void {
  type Stream = NodeJS.EventEmitter & { cancel?(): void };
  const client = consumer as unknown as { createTelemetryStream(endpoints: unknown): Stream };
  const create = client.createTelemetryStream.bind(client);
  const streams = new Set<Stream>();
  let closed = false;
  client.createTelemetryStream = (endpoints) => {
    if (closed) return Object.assign(new EventEmitter(), { write: () => true, end: () => undefined });
    const stream = create(endpoints);
    streams.add(stream);
    const removeAll = stream.removeAllListeners.bind(stream);
    stream.removeAllListeners = (event?: string | symbol) => {
      removeAll(event);
      stream.removeAllListeners = removeAll;
      return stream.on('error', () => undefined);
    };
    return stream;
  };
  return () => {
    closed = true;
    for (const stream of streams) {
      stream.on('error', () => undefined);
      stream.cancel?.();
    }
    streams.clear();
  };
}

/**
 * rocketmq-client-nodejs' TLS channels trust only Node's CAs (it calls createSsl() with no roots, and
 * grpc-js reads GRPC_DEFAULT_SSL_ROOTS_FILE_PATH only when it loads): until the returned function is
 * called, a channel made so trusts `ca` instead. pproxy's channels are made otherwise (channel-security.ts).
 */
function trustInSslChannels(ca: Buffer): () => void {
  const createSsl = grpc.ChannelCredentials.createSsl;
  grpc.ChannelCredentials.createSsl = (rootCerts, ...rest) => createSsl(rootCerts ?? ca, ...rest);
  return () => {
    grpc.ChannelCredentials.createSsl = createSsl;
  };
}

function silentLogger(): unknown {
  const nothing = () => undefined;
  return { info: nothing, warn: nothing, error: nothing, debug: nothing, trace: nothing };
}
