/**
 * Pipelined Thrift calls over many framed connections from one process, plain TCP or TLS. Each call
 * is a fresh 10-byte head and a pre-encoded tail shared by all calls (see frames.ts); writes of one
 * tick are corked into one writev per connection. Servers may answer out of order, so replies are
 * matched by seqid.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { FrameReader, SEQID_MIN, SEQID_SPAN, callHead, parseReply, type CallTemplate, type Outcome } from './frames';
import type { Target } from './load';
import { writeCoalesced } from '../src/server/coalesce';
import { LOST } from './recorder';

type Done = (outcome: Outcome) => void;

/**
 * Replies are read into one buffer per connection, reused for every read (net's `onread`): the
 * generator handles tens of thousands of reads a second, and a fresh buffer for each is garbage its
 * own collector would have to sweep while calls wait.
 */
const READ_BUFFER_BYTES = 64 * 1024;

class Connection {
  private readonly pending = new Map<number, Done>();
  private nextSeqid = 0;
  closed = false;
  protocolError: string | undefined;
  private readonly socket: net.Socket;

  /** Connects; the connection is usable once `opened` resolves. */
  readonly opened: Promise<void>;

  /** `caFile`: connect over TLS, the server's certificate checked against this CA. */
  constructor(port: number, caFile: string | undefined) {
    const reader = new FrameReader((buf, start, end) => {
      const { seqid, outcome } = parseReply(buf, start, end);
      const done = this.pending.get(seqid);
      if (!done) throw new Error(`reply with unknown seqid ${seqid}`);
      this.pending.delete(seqid);
      done(outcome);
    });
    const options = {
      host: '127.0.0.1',
      port,
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (bytes: number, buffer: Uint8Array) => {
          try {
            reader.feed(Buffer.from(buffer.buffer, buffer.byteOffset, bytes));
          } catch (err) {
            // a reply that cannot be matched: the connection's calls become unanswered, and say why
            this.protocolError = (err as Error).message;
            socket.destroy();
          }
          return true;
        },
      },
    };
    const socket: net.Socket = caFile === undefined ? net.connect(options) : tls.connect({ ...options, ca: fs.readFileSync(caFile) });
    this.socket = socket;
    this.opened = new Promise((resolve, reject) => {
      socket.once(caFile === undefined ? 'connect' : 'secureConnect', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
    });
    socket.on('error', () => undefined); // 'close' follows and fails what is pending
    socket.on('close', () => {
      this.closed = true;
      const lost = [...this.pending.values()];
      this.pending.clear();
      for (const done of lost) done(LOST);
    });
  }

  send(template: CallTemplate, done: Done): void {
    const seqid = SEQID_MIN + this.nextSeqid;
    this.nextSeqid = (this.nextSeqid + 1) % SEQID_SPAN;
    this.pending.set(seqid, done);
    writeCoalesced(this.socket, callHead(template, seqid));
    writeCoalesced(this.socket, template.tail);
  }

  close(): void {
    this.socket.destroy();
  }
}

export class ThriftTarget implements Target {
  private next = 0;

  private constructor(
    private readonly connections: Connection[],
    private readonly templateOf: (index: number) => CallTemplate,
  ) {}

  /**
   * `templateOf` picks the request of each call, e.g. an occasional large one among small ones;
   * `caFile`: over TLS, trusting this CA.
   */
  static async connect(port: number, connections: number, templateOf: (index: number) => CallTemplate, caFile?: string): Promise<ThriftTarget> {
    const all = Array.from({ length: connections }, () => new Connection(port, caFile));
    const opened = await Promise.allSettled(all.map((c) => c.opened));
    const failed = opened.find((r) => r.status === 'rejected');
    if (failed) {
      for (const c of all) c.close();
      throw failed.reason;
    }
    return new ThriftTarget(all, templateOf);
  }

  messagesOf(index: number): number {
    return this.templateOf(index).messages;
  }

  /** Round robin over the connections still open. */
  call(index: number, done: Done): void {
    for (let tried = 0; tried < this.connections.length; tried++) {
      const connection = this.connections[this.next++ % this.connections.length]!;
      if (!connection.closed) {
        connection.send(this.templateOf(index), done);
        return;
      }
    }
    process.nextTick(done, LOST);
  }

  /** Why connections were dropped by this side: replies that could not be parsed or matched. */
  protocolErrors(): string[] {
    return [...new Set(this.connections.flatMap((c) => (c.protocolError ? [c.protocolError] : [])))];
  }

  close(): void {
    for (const c of this.connections) c.close();
  }
}
