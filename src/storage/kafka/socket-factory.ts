/**
 * The TCP connections kafkajs opens to brokers.
 *
 * - Nagle's algorithm off, as Kafka's Java client (DDMQ's) opens them. kafkajs' own factory leaves it
 *   on, so a request written while an earlier one on the same connection is unacknowledged (several
 *   topics' batches to one broker) can wait for that acknowledgement: up to the peer's delayed ACK,
 *   tens of milliseconds, on a real network (loopback acknowledges at once, so the bench cannot show
 *   it). Keep-alive as in kafkajs. With the cluster's `ssl`, a TLS connection as kafkajs' own factory
 *   makes it (the broker's host as the server name unless the settings name one).
 * - A connection whose writes have not moved for `stallTimeoutMs` (the cluster's requestTimeout) is
 *   destroyed, as Kafka's Java client closes a connection on a request timeout. kafkajs keeps it and
 *   writes every retry into it: with a broker that accepts connections and never reads, those
 *   buffers grow for as long as the hang lasts and no budget of the proxy's can see them. Destroyed,
 *   the connection fails its requests (retried by kafkajs on a new one) and frees its buffers.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from './kafkajs';

const KEEP_ALIVE_MS = 60_000;
/** How many times per stall timeout a connection's write queue is looked at. */
const STALL_CHECKS = 4;

export function brokerSocketFactory(stallTimeoutMs: number): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...(ssl as tls.ConnectionOptions) }, onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEP_ALIVE_MS);
    destroyOnWriteStall(socket, stallTimeoutMs);
    return socket;
  };
}

/**
 * A stall: bytes queued in the socket and none of them taken by the kernel for `timeoutMs`. A slow
 * but moving connection (a broker throttling, a saturated link) makes progress and is kept.
 */
function destroyOnWriteStall(socket: net.Socket, timeoutMs: number): void {
  let stuckSince: number | undefined;
  let dispatched = 0;
  const check = setInterval(
    () => {
      // bytesWritten counts the queued bytes too: what the kernel took is the difference
      const taken = (socket.bytesWritten ?? 0) - socket.writableLength;
      if (socket.writableLength === 0 || taken !== dispatched) {
        dispatched = taken;
        stuckSince = undefined;
        return;
      }
      const now = Date.now();
      stuckSince ??= now;
      if (now - stuckSince >= timeoutMs) {
        socket.destroy(new Error(`broker connection ${socket.remoteAddress}:${socket.remotePort} took no bytes for ${timeoutMs} ms`));
      }
    },
    Math.max(1, Math.floor(timeoutMs / STALL_CHECKS)),
  );
  check.unref();
  socket.once('close', () => clearInterval(check));
}
