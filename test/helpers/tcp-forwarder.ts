/**
 * A loopback TCP forwarder in front of a real server, for faults the server itself will not make:
 * a connection it accepts and never answers ("swallow"), one forwarded as usual, (Kafka) a
 * request the server receives and handles whose answer never reaches the client, or a server that
 * stops answering for a while (its answers held back, then passed on).
 */
import net from 'node:net';
import type { TestContext } from 'node:test';

/** What the forwarder does with a connection, by its index (0 for the first). */
export type ConnectionPolicy = (index: number) => 'forward' | 'swallow';

interface ArmedDrop {
  apiKey: number;
  dropped: () => void;
}

export class TcpForwarder {
  /** Connections accepted so far. */
  accepted = 0;
  private readonly sockets = new Set<net.Socket>();
  private armed: ArmedDrop | undefined;
  /** While answers are held: per forwarded connection, what to do to pass its held answers on. */
  private holding: Set<() => void> | undefined;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  /** `listenPort` 0: any free port. */
  static async start(t: TestContext, targetPort: number, policy: ConnectionPolicy = () => 'forward', listenPort = 0): Promise<TcpForwarder> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, '127.0.0.1', resolve);
    });
    const forwarder = new TcpForwarder(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client) => forwarder.accept(client, targetPort, policy(forwarder.accepted++)));
    t.after(() => forwarder.close());
    return forwarder;
  }

  /**
   * Kafka: the next request with this API key (the int16 after a frame's 4-byte size) is forwarded,
   * and when the server's answer to it (the response with its correlation id) comes back, the
   * forwarder destroys both sides of that connection instead of passing the answer on: the server
   * has handled the request, the client only sees its connection close. Resolves once that
   * happened.
   */
  dropAnswerToNext(apiKey: number): Promise<void> {
    if (this.armed) throw new Error('a drop is already armed');
    return new Promise((dropped) => (this.armed = { apiKey, dropped }));
  }

  /** From now on the server's answers are held back on every connection, as if it had stopped answering. */
  holdAnswers(): void {
    this.holding ??= new Set();
  }

  /** Passes the held answers on, in order, and forwards as usual again. */
  releaseAnswers(): void {
    const held = this.holding;
    this.holding = undefined;
    for (const release of held ?? []) release();
  }

  private accept(client: net.Socket, targetPort: number, action: 'forward' | 'swallow'): void {
    this.track(client);
    if (action === 'swallow') {
      client.resume(); // read and drop: the peer sees an open connection that never answers
      return;
    }
    const upstream = this.track(net.connect(targetPort, '127.0.0.1'));
    // the armed drop and the correlation id of the request it waits for the answer to
    let doomed: { drop: ArmedDrop; correlationId: number } | undefined;
    let answered = false;
    const requests = new FrameScanner(REQUEST_HEAD_BYTES, (head) => {
      if (doomed || this.armed?.apiKey !== head.readInt16BE(4)) return;
      doomed = { drop: this.armed, correlationId: head.readInt32BE(8) };
      this.armed = undefined;
    });
    const responses = new FrameScanner(RESPONSE_HEAD_BYTES, (head) => {
      if (doomed && head.readInt32BE(4) === doomed.correlationId) answered = true;
    });
    client.on('data', (chunk: Buffer) => {
      requests.scan(chunk);
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    const held: Buffer[] = [];
    const passHeld = () => {
      for (const chunk of held.splice(0)) client.write(chunk);
    };
    upstream.on('data', (chunk: Buffer) => {
      if (this.holding) {
        held.push(chunk);
        this.holding.add(passHeld);
        return;
      }
      responses.scan(chunk);
      if (answered) {
        client.destroy();
        upstream.destroy();
        doomed!.drop.dropped();
        return;
      }
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  private track(socket: net.Socket): net.Socket {
    this.sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    return socket;
  }

  /** Connections open now, counting both sides of a forwarded one. */
  get openSockets(): number {
    return this.sockets.size;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A Kafka request's size, API key, API version and correlation id. */
const REQUEST_HEAD_BYTES = 12;
/** A Kafka response's size and correlation id. */
const RESPONSE_HEAD_BYTES = 8;

/** Follows the size-prefixed frames of a Kafka stream and hands over each frame's first bytes. */
class FrameScanner {
  /** Bytes of the current frame still to skip. */
  private remaining = 0;
  /** The current frame's first bytes as far as they have arrived. */
  private head = Buffer.alloc(0);

  constructor(
    private readonly headBytes: number,
    private readonly onFrame: (head: Buffer) => void,
  ) {}

  scan(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, chunk.length - at);
        this.remaining -= skip;
        at += skip;
        continue;
      }
      const take = Math.min(this.headBytes - this.head.length, chunk.length - at);
      this.head = Buffer.concat([this.head, chunk.subarray(at, at + take)]);
      at += take;
      if (this.head.length < this.headBytes) return;
      this.remaining = 4 + this.head.readInt32BE(0) - this.headBytes;
      this.onFrame(this.head);
      this.head = Buffer.alloc(0);
    }
  }
}
