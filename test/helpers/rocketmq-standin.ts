/**
 * A stand-in for the RocketMQ 5 proxy (`apache.rocketmq.v2.MessagingService` over gRPC), built from
 * the .proto stubs rocketmq-client-nodejs ships, behaving as Apache RocketMQ's proxy does rather than
 * as any one client needs:
 * - QueryRoute lists every broker's write queues (READ_WRITE), with the topic's accepted message type;
 *   an unknown topic is TOPIC_NOT_FOUND;
 * - Telemetry answers a client's settings with the server's (publishing.max_body_size, an exponential
 *   backoff policy), which the official client waits for at startup;
 * - SendMessage picks the queue itself (SendMessageActivity): a single message with a message_group
 *   goes to Hashing.consistentHash(group.hashCode(), writeQueues) (Guava), anything else round-robin,
 *   a batch to one queue at consecutive offsets, answered with one entry for the whole batch (the
 *   first offset, the messages' ids joined by commas); FIFO messages only on FIFO topics and the
 *   other way round
 *   (MESSAGE_PROPERTY_CONFLICT_WITH_TYPE); bodies over max_body_size are MESSAGE_BODY_TOO_LARGE;
 * - stop() ends the Telemetry streams with OK and stops listening; a new stand-in started on the same
 *   port is the proxy restarted, possibly with other settings;
 * - every stored entry is recorded with its queue, every settings answer counted; errors, latency and
 *   outages can be injected.
 */
import * as grpc from '@grpc/grpc-js';
import { javaStringHashCode } from '../../src/core/java-string';
// The generated stubs are CommonJS without types we need here.
/* eslint-disable @typescript-eslint/no-require-imports */
const definition = require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb.js');
const service = require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_pb.js');
const { MessagingServiceService } = require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_grpc_pb.js');

export const Code = {
  OK: 20000,
  BAD_REQUEST: 40000,
  MESSAGE_PROPERTY_CONFLICT_WITH_TYPE: 40014,
  CLIENT_ID_REQUIRED: 40017,
  TOPIC_NOT_FOUND: 40402,
  MESSAGE_BODY_TOO_LARGE: 41301,
  TOO_MANY_REQUESTS: 42900,
  INTERNAL_SERVER_ERROR: 50001,
  PROXY_TIMEOUT: 50400,
} as const;

const MessageType = { NORMAL: 1, FIFO: 2 } as const;
const READ_WRITE = 3; // Permission.READ_WRITE
const IPv4 = 1; // AddressScheme.IPv4

export interface StandInTopic {
  type: 'NORMAL' | 'FIFO';
}

export interface StandInOptions {
  /** Broker name -> write queues per topic on it. */
  brokers: Record<string, number>;
  topics: Record<string, StandInTopic>;
  maxBodySize?: number;
}

/** A message as the stand-in stored it. */
export interface StoredEntry {
  topic: string;
  broker: string;
  queueId: number;
  offset: number;
  messageId: string;
  tag: string | undefined;
  keys: string[];
  messageGroup: string | undefined;
  userProperties: Record<string, string>;
  body: Buffer;
  /** How many messages the SendMessage call that carried it had. */
  callSize: number;
}

interface Queue {
  broker: string;
  id: number;
}

export class RocketMqStandIn {
  readonly stored: StoredEntry[] = [];
  /** Every SendMessage call: how many messages it carried. */
  readonly sendCalls: number[] = [];
  /** Codes the next SendMessage calls answer with (whole call), in order. */
  readonly failNext: { code: number; message: string }[] = [];
  /** Added to every SendMessage. */
  latencyMs = 0;
  /** How many times Telemetry answered a client's settings with the server's. */
  settingsAnswered = 0;
  private readonly server = new grpc.Server();
  private readonly telemetryStreams = new Set<grpc.ServerDuplexStream<unknown, unknown>>();
  private readonly offsets = new Map<string, number>();
  private roundRobin = 0;
  private port = 0;

  constructor(private readonly options: StandInOptions) {
    this.server.addService(MessagingServiceService, {
      queryRoute: this.queryRoute.bind(this),
      heartbeat: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, withStatus(new service.HeartbeatResponse(), Code.OK)),
      notifyClientTermination: (_call: unknown, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, withStatus(new service.NotifyClientTerminationResponse(), Code.OK)),
      sendMessage: this.sendMessage.bind(this),
      telemetry: this.telemetry.bind(this),
    });
  }

  /** Listens on 127.0.0.1 (port 0: a free one) and returns host:port. */
  async start(port = 0): Promise<string> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return this.address;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /**
   * Stops serving. Telemetry streams are ended with OK and calls allowed to finish: cancelling a
   * stream crashes rocketmq-client-nodejs 1.0.8, whose release() removes the stream's error
   * listener. What is still open after a second is dropped.
   */
  async stop(): Promise<void> {
    for (const stream of this.telemetryStreams) stream.end();
    this.telemetryStreams.clear();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  /** Queues of a topic in route order (broker name order, then id). */
  writeQueues(topic: string): Queue[] {
    const queues: Queue[] = [];
    for (const broker of Object.keys(this.options.brokers).sort()) {
      for (let id = 0; id < this.options.brokers[broker]!; id++) queues.push({ broker, id });
    }
    return this.options.topics[topic] ? queues : [];
  }

  private queryRoute(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<unknown>): void {
    const name: string = call.request.getTopic().getName();
    const response = new service.QueryRouteResponse();
    if (!hasClientId(call)) {
      callback(null, withStatus(response, Code.CLIENT_ID_REQUIRED, 'x-mq-client-id is required'));
      return;
    }
    const topic = this.options.topics[name];
    if (!topic) {
      callback(null, withStatus(response, Code.TOPIC_NOT_FOUND, `topic ${name} not found`));
      return;
    }
    const [host, port] = [this.address.split(':')[0]!, Number(this.address.split(':')[1])];
    for (const q of this.writeQueues(name)) {
      const endpoints = new definition.Endpoints();
      endpoints.setScheme(IPv4);
      const address = new definition.Address();
      address.setHost(host);
      address.setPort(port);
      endpoints.addAddresses(address);
      const broker = new definition.Broker();
      broker.setName(q.broker);
      broker.setId(0);
      broker.setEndpoints(endpoints);
      const mq = new definition.MessageQueue();
      mq.setTopic(resource(name));
      mq.setId(q.id);
      mq.setPermission(READ_WRITE);
      mq.setBroker(broker);
      mq.addAcceptMessageTypes(MessageType[topic.type]);
      response.addMessageQueues(mq);
    }
    callback(null, withStatus(response, Code.OK));
  }

  private telemetry(call: grpc.ServerDuplexStream<any, any>): void {
    this.telemetryStreams.add(call);
    call.on('close', () => this.telemetryStreams.delete(call));
    call.on('data', (command: any) => {
      if (!command.hasSettings()) return;
      const settings = command.getSettings();
      const publishing = settings.getPublishing() ?? new definition.Publishing();
      publishing.setMaxBodySize(this.options.maxBodySize ?? 4 * 1024 * 1024);
      publishing.setValidateMessageType(true);
      const backoff = new definition.ExponentialBackoff();
      backoff.setInitial(duration(10));
      backoff.setMax(duration(1000));
      backoff.setMultiplier(2);
      const policy = new definition.RetryPolicy();
      policy.setMaxAttempts(3);
      policy.setExponentialBackoff(backoff);
      settings.setBackoffPolicy(policy);
      settings.setPublishing(publishing);
      const reply = new service.TelemetryCommand();
      reply.setStatus(status(Code.OK));
      reply.setSettings(settings);
      call.write(reply);
      this.settingsAnswered++;
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  }

  private sendMessage(call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<unknown>): void {
    if (!hasClientId(call)) {
      callback(null, withStatus(new service.SendMessageResponse(), Code.CLIENT_ID_REQUIRED, 'x-mq-client-id is required'));
      return;
    }
    const answer = () => callback(null, this.store(call.request.getMessagesList()));
    if (this.latencyMs > 0) setTimeout(answer, this.latencyMs);
    else answer();
  }

  private store(messages: any[]): unknown {
    const response = new service.SendMessageResponse();
    this.sendCalls.push(messages.length);
    const injected = this.failNext.shift();
    if (injected) return withStatus(response, injected.code, injected.message);
    if (messages.length === 0) return withStatus(response, Code.BAD_REQUEST, 'no message');
    const topicName: string = messages[0].getTopic().getName();
    if (messages.some((m) => m.getTopic().getName() !== topicName)) return withStatus(response, Code.BAD_REQUEST, 'messages of a batch must share one topic');
    const topic = this.options.topics[topicName];
    if (!topic) return withStatus(response, Code.TOPIC_NOT_FOUND, `topic ${topicName} not found`);
    for (const m of messages) {
      const fifo = m.getSystemProperties().hasMessageGroup();
      if (fifo !== (topic.type === 'FIFO')) {
        return withStatus(response, Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, `${fifo ? 'FIFO' : 'NORMAL'} message on ${topic.type} topic ${topicName}`);
      }
      if (m.getBody_asU8().length > (this.options.maxBodySize ?? 4 * 1024 * 1024)) {
        return withStatus(response, Code.MESSAGE_BODY_TOO_LARGE, 'message body too large');
      }
    }
    const queues = this.writeQueues(topicName);
    const group = messages.length === 1 && messages[0].getSystemProperties().hasMessageGroup() ? messages[0].getSystemProperties().getMessageGroup() : undefined;
    const queue = group !== undefined ? queues[consistentHash(BigInt(javaStringHashCode(group)), queues.length)]! : queues[this.roundRobin++ % queues.length]!;
    withStatus(response, Code.OK);
    const entries: InstanceType<typeof service.SendResultEntry>[] = [];
    for (const m of messages) {
      const system = m.getSystemProperties();
      const key = `${topicName}/${queue.broker}/${queue.id}`;
      const offset = this.offsets.get(key) ?? 0;
      this.offsets.set(key, offset + 1);
      this.stored.push({
        topic: topicName,
        broker: queue.broker,
        queueId: queue.id,
        offset,
        messageId: system.getMessageId(),
        tag: system.hasTag() ? system.getTag() : undefined,
        keys: system.getKeysList(),
        messageGroup: system.hasMessageGroup() ? system.getMessageGroup() : undefined,
        userProperties: Object.fromEntries(m.getUserPropertiesMap().entries()),
        body: Buffer.from(m.getBody_asU8()),
        callSize: messages.length,
      });
      const entry = new service.SendResultEntry();
      entry.setStatus(status(Code.OK));
      entry.setMessageId(system.getMessageId());
      entry.setOffset(offset);
      entries.push(entry);
    }
    // as Apache RocketMQ's proxy does: several messages are one broker batch with a single result,
    // its message ids joined by commas and the first message's offset
    if (entries.length > 1) entries[0]!.setMessageId(entries.map((e) => e.getMessageId()).join(','));
    response.addEntries(entries[0]);
    return response;
  }
}

/**
 * Guava's Hashing.consistentHash(long, int): a linear congruential generator on the 64-bit input
 * (Java long arithmetic), as Apache RocketMQ's proxy uses it to pick a FIFO message's queue.
 */
export function consistentHash(input: bigint, buckets: number): number {
  let state = BigInt.asUintN(64, input);
  let candidate = 0;
  for (;;) {
    state = BigInt.asUintN(64, 2862933555777941757n * state + 1n);
    const next = Math.trunc((candidate + 1) / ((Number(BigInt.asIntN(32, state >> 33n)) + 1) / 2 ** 31));
    if (next >= 0 && next < buckets) candidate = next;
    else return candidate;
  }
}

/** The RocketMQ 5 proxy refuses calls without the client id header (transport.md). */
function hasClientId(call: grpc.ServerUnaryCall<unknown, unknown>): boolean {
  return call.metadata.get('x-mq-client-id').length > 0;
}

function resource(name: string): unknown {
  const r = new definition.Resource();
  r.setName(name);
  return r;
}

function status(code: number, message = ''): unknown {
  const s = new definition.Status();
  s.setCode(code);
  s.setMessage(message);
  return s;
}

function withStatus<T extends { setStatus(s: unknown): void }>(response: T, code: number, message = ''): T {
  response.setStatus(status(code, message));
  return response;
}

function duration(ms: number): unknown {
  const { Duration } = require('google-protobuf/google/protobuf/duration_pb.js');
  const d = new Duration();
  d.setSeconds(Math.floor(ms / 1000));
  d.setNanos((ms % 1000) * 1e6);
  return d;
}
