/**
 * The TCP connections kafkajs opens to brokers, with Nagle's algorithm off, as Kafka's Java client
 * (DDMQ's) opens them. kafkajs' own factory leaves it on, so a request written while an earlier one
 * on the same connection is unacknowledged (several topics' batches to one broker) can wait for that
 * acknowledgement: up to the peer's delayed ACK, tens of milliseconds, on a real network (loopback
 * acknowledges at once, so the bench cannot show it). Keep-alive as in kafkajs. pproxy configures
 * no TLS.
 */
import net from 'node:net';
import type { ISocketFactory } from './kafkajs';

const KEEP_ALIVE_MS = 60_000;

export const noDelaySocketFactory: ISocketFactory = ({ host, port, onConnect }) => {
  const socket = net.connect({ host, port }, onConnect);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, KEEP_ALIVE_MS);
  return socket;
};
