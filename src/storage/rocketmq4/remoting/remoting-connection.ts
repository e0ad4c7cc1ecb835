/**
 * One TCP connection to a RocketMQ name server or broker: requests matched to their responses by
 * opaque, each with its own deadline, and oneway requests, each signed on its way out when the
 * options carry a signer (acl-signature.ts). Every failure is a RemotingError; when
 * the connection ends (close(), a socket error, the peer closing, a bad frame) every request still
 * pending fails with kind 'closed' (or 'protocol' for a bad frame) and the connection is unusable.
 */
import net from 'node:net';
import type { RequestSigner } from './acl-signature';
import { FrameReader } from './frame-reader';
import { command, DEFAULT_MAX_FRAME_SIZE, encodeCommand, FLAG_ONEWAY, FLAG_RESPONSE, isOneway, isResponse, type RemotingCommand } from './remoting-command';
import { RemotingError } from './remoting-error';

export interface ConnectionOptions {
  connectTimeoutMs?: number;
  maxFrameSize?: number;
  /** Applied to every request and oneway request before it is written: the cluster's ACL signature. */
  sign?: RequestSigner | undefined;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
/** The answer to a request from the server that a producer does not handle (RocketMQ's code 3). */
const REQUEST_CODE_NOT_SUPPORTED = 3;

interface Pending {
  resolve(response: RemotingCommand): void;
  reject(error: RemotingError): void;
  timer: NodeJS.Timeout;
}

export class RemotingConnection {
  private readonly pending = new Map<number, Pending>();
  private readonly reader: FrameReader;
  private nextOpaque = 1;
  private failure: RemotingError | undefined;

  private constructor(
    readonly address: string,
    private readonly socket: net.Socket,
    maxFrameSize: number,
    private readonly sign: RequestSigner = (request) => request,
  ) {
    this.reader = new FrameReader(maxFrameSize);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(new RemotingError('closed', `connection to ${address} failed: ${error.message}`)));
    socket.on('close', () => this.fail(new RemotingError('closed', `connection to ${address} closed by the peer`)));
  }

  /** Opens a connection to `host:port`; rejects with kind 'connect' on refusal or after the connect timeout. */
  static connect(address: string, options: ConnectionOptions = {}): Promise<RemotingConnection> {
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const { host, port } = parseAddress(address);
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RemotingError('connect', `connecting to ${address} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new RemotingError('connect', `cannot connect to ${address}: ${error.message}`));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RemotingConnection(address, socket, options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, options.sign));
      });
    });
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  /** Sends `request` with a fresh opaque; resolves with its response, or rejects after `timeoutMs`. */
  request(request: RemotingCommand, timeoutMs: number): Promise<RemotingCommand> {
    if (this.failure) return Promise.reject(this.failure);
    const opaque = this.takeOpaque();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // forgotten: a late answer finds no opaque and is dropped
        this.pending.delete(opaque);
        reject(new RemotingError('timeout', `no answer from ${this.address} to request code ${request.code} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(opaque, { resolve, reject, timer });
      this.socket.write(encodeCommand({ ...this.sign(request), opaque, flag: request.flag & ~(FLAG_RESPONSE | FLAG_ONEWAY) }));
    });
  }

  /** Sends `request` marked oneway: the server sends no answer. Throws when the connection has ended. */
  oneway(request: RemotingCommand): void {
    if (this.failure) throw this.failure;
    this.socket.write(encodeCommand({ ...this.sign(request), opaque: this.takeOpaque(), flag: (request.flag | FLAG_ONEWAY) & ~FLAG_RESPONSE }));
  }

  /** Ends the connection; pending requests fail with kind 'closed'. */
  close(): void {
    this.fail(new RemotingError('closed', `connection to ${this.address} closed`));
  }

  private takeOpaque(): number {
    const opaque = this.nextOpaque;
    this.nextOpaque = opaque === 0x7fffffff ? 1 : opaque + 1;
    return opaque;
  }

  private onData(chunk: Buffer): void {
    let commands: RemotingCommand[];
    try {
      commands = this.reader.push(chunk);
    } catch (error) {
      this.fail(error as RemotingError);
      return;
    }
    for (const cmd of commands) {
      if (isResponse(cmd)) {
        const waiting = this.pending.get(cmd.opaque);
        if (!waiting) continue;
        this.pending.delete(cmd.opaque);
        clearTimeout(waiting.timer);
        waiting.resolve(cmd);
      } else if (!isOneway(cmd)) {
        const answer = command(REQUEST_CODE_NOT_SUPPORTED);
        answer.opaque = cmd.opaque;
        answer.flag = FLAG_RESPONSE;
        answer.remark = `request code ${cmd.code} not supported by this producer`;
        this.socket.write(encodeCommand(answer));
      }
    }
  }

  private fail(error: RemotingError): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(error);
    }
  }
}

/** `host:port`, the host an IPv4 address or a name, or `[v6]:port`. */
export function parseAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) throw new RemotingError('connect', `not a host:port address: ${JSON.stringify(address)}`);
  return { host: match[1]!, port };
}
