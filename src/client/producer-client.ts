/**
 * A ProducerService client on the stock `thrift` library and the stubs generated from
 * idl/producer.thrift (src/gen), framed + compact like every DDMQ SDK. Used by the CLI, the tests
 * and the benchmark; being independent of the server's own codec, it also checks that codec.
 */
import Int64 from 'node-int64';
import type tls from 'node:tls';
import thrift from 'thrift';
import { Client } from '../gen/ProducerService';
import { DelayMessage, Message } from '../gen/producer_types';
import { TIMED_OUT, timeLimit } from '../time/time-limit';

export interface MessageSpec {
  topic: string;
  body?: Buffer | string;
  /** Legacy field 3; sent only when given. */
  value?: string;
  key?: string;
  tags?: string;
  partitionId?: number;
  hashId?: bigint;
  properties?: Record<string, string>;
  version?: string;
}

export interface DelaySpec {
  topic: string;
  action: number;
  body?: Buffer | string;
  tags?: string;
  uniqDelayMsgId?: string;
  timestamp?: bigint;
  dmsgtype?: number;
  interval?: bigint;
  expire?: bigint;
  times?: bigint;
  uuid?: string;
  properties?: Record<string, string>;
}

export interface CallResult {
  code: number;
  msg: string;
  key?: string | undefined;
}

export interface DelayCallResult extends CallResult {
  uniqDelayMsgId: string;
}

export interface ClientOptions {
  /** Per-call bound: the stock client never fails calls pending on a closed socket. */
  callTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** TLS to the proxy (thriftServer.tls): `ca` to trust it, `cert` and `key` for mutual TLS, `servername` to check. Absent: plain TCP. */
  tls?: tls.ConnectionOptions;
}

export class ProducerClient {
  private closedError: Error | undefined;

  private constructor(
    private readonly connection: thrift.Connection,
    private readonly client: Client,
    private readonly callTimeoutMs: number,
  ) {
    connection.on('error', (err: Error) => (this.closedError = err));
    connection.on('close', () => (this.closedError ??= new Error('connection closed')));
  }

  static connect(host: string, port: number, options: ClientOptions = {}): Promise<ProducerClient> {
    const connect = options.tls ? thrift.createSSLConnection : thrift.createConnection;
    const connection = connect(host, port, {
      // the stock library's default is its legacy SSLv23 method and options; Node's own are safer
      ...(options.tls ? { ...options.tls, secureProtocol: 'TLS_method' } : {}),
      transport: thrift.TFramedTransport,
      protocol: thrift.TCompactProtocol,
      connect_timeout: options.connectTimeoutMs ?? 3000,
      // No reconnection: the stock connection, given max_attempts, reconnects after the server
      // closes it, and a reconnect scheduled before close() still runs after it, opening a socket
      // nobody closes (it kept a test process alive). A closed connection fails its calls instead.
      max_attempts: 0,
    } as thrift.ConnectOptions);
    return new Promise((resolve, reject) => {
      connection.once('connect', () => {
        const client = thrift.createClient(Client, connection) as unknown as Client;
        resolve(new ProducerClient(connection, client, options.callTimeoutMs ?? 10_000));
      });
      connection.once('error', reject);
    });
  }

  sendSync(spec: MessageSpec, timeoutMs = 1000): Promise<CallResult> {
    return this.call(() => this.client.sendSync(toMessage(spec), int64(BigInt(timeoutMs))));
  }

  sendAsync(spec: MessageSpec): Promise<CallResult> {
    return this.call(() => this.client.sendAsync(toMessage(spec)));
  }

  sendBatchSync(specs: MessageSpec[]): Promise<CallResult> {
    return this.call(() => this.client.sendBatchSync(specs.map(toMessage)));
  }

  sendDelaySync(spec: DelaySpec, timeoutMs = 1000): Promise<DelayCallResult> {
    return this.call(() => this.client.sendDelaySync(toDelayMessage(spec), int64(BigInt(timeoutMs))));
  }

  /** Closes at once: ending gracefully would wait on a peer that may never answer. */
  close(): void {
    this.connection.end(); // marks the close as intended, so the library does not reconnect
    this.connection.destroy();
  }

  private async call<T>(invoke: () => Promise<T>): Promise<T> {
    if (this.closedError) throw this.closedError;
    const result = await timeLimit(invoke(), this.callTimeoutMs);
    if (result === TIMED_OUT) throw new Error(`no answer within ${this.callTimeoutMs} ms`);
    return result;
  }
}

/** node-int64 from an exact bigint (the generated code writes i64 only as node-int64). */
export function int64(value: bigint): Int64 {
  const buf = Buffer.alloc(8);
  buf.writeBigInt64BE(BigInt.asIntN(64, value));
  return new Int64(buf);
}

function toMessage(spec: MessageSpec): Message {
  const m = new Message();
  m.topic = spec.topic;
  if (spec.key !== undefined) m.key = spec.key;
  if (spec.value !== undefined) m.value = spec.value;
  m.hashId = int64(spec.hashId ?? 0n);
  if (spec.tags !== undefined) m.tags = spec.tags;
  m.partitionId = spec.partitionId ?? -1;
  if (spec.body !== undefined) m.body = Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body, 'utf8');
  if (spec.version !== undefined) m.version = spec.version;
  if (spec.properties !== undefined) m.properties = spec.properties;
  return m;
}

function toDelayMessage(spec: DelaySpec): DelayMessage {
  const m = new DelayMessage();
  m.topic = spec.topic;
  m.action = spec.action;
  if (spec.body !== undefined) m.body = Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body, 'utf8');
  if (spec.tags !== undefined) m.tags = spec.tags;
  if (spec.uniqDelayMsgId !== undefined) m.uniqDelayMsgId = spec.uniqDelayMsgId;
  if (spec.timestamp !== undefined) m.timestamp = int64(spec.timestamp);
  if (spec.dmsgtype !== undefined) m.dmsgtype = spec.dmsgtype;
  if (spec.interval !== undefined) m.interval = int64(spec.interval);
  if (spec.expire !== undefined) m.expire = int64(spec.expire);
  if (spec.times !== undefined) m.times = int64(spec.times);
  if (spec.uuid !== undefined) m.uuid = spec.uuid;
  if (spec.properties !== undefined) m.properties = spec.properties;
  return m;
}
