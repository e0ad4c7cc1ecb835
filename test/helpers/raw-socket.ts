/** A bare TCP client for sending bytes that no Thrift client would. */
import net from 'node:net';

export interface RawExchange {
  /** Everything the server sent. */
  data: Buffer;
  /** Whether the server closed the connection (within the wait). */
  closedByServer: boolean;
}

/** Writes `bytes`, then collects replies until the server closes or `waitMs` passes. */
export function rawExchange(port: number, bytes: Buffer, waitMs = 2000): Promise<RawExchange> {
  return exchange(port, bytes, waitMs, false);
}

/**
 * Writes `bytes` and shuts down the sending side (a half-close), then collects replies until the
 * server closes or `waitMs` passes.
 */
export function rawExchangeThenShutdown(port: number, bytes: Buffer, waitMs = 2000): Promise<RawExchange> {
  return exchange(port, bytes, waitMs, true);
}

function exchange(port: number, bytes: Buffer, waitMs: number, shutdown: boolean): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: shutdown });
    const chunks: Buffer[] = [];
    let closedByServer = false;
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => (closedByServer = true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') closedByServer = true;
      else reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), closedByServer });
    });
    if (shutdown) socket.end(bytes);
    else socket.write(bytes);
  });
}

export function lengthPrefix(length: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length);
  return b;
}
