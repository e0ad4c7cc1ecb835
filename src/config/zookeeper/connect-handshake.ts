/**
 * A bound on ZooKeeper's connect handshake, which node-zookeeper-client lacks.
 *
 * Once the TCP connection is up, that client waits for the server's answer to its connect request
 * with no timeout at all. A server that is still starting (or overloaded, or half-dead) can accept
 * the connection and never answer: the client then hangs there for good, and the proxy never sees
 * a configuration change again. ZooKeeper's Java client gives up on such a server and tries the
 * next; this does the same, by closing the socket, which the client answers with its ordinary
 * reconnect (next server, spin delay, session resumed).
 *
 * It reaches into the client's connection manager, so it is written against one release: loading
 * this module with another installed throws, and the proxy refuses to start and says why.
 */
import type { Socket } from 'node:net';
import type { Client } from 'node-zookeeper-client';

export const PATCHED_ZOOKEEPER_CLIENT_VERSION = '1.1.3';

const installed = (require('node-zookeeper-client/package.json') as { version: string }).version;
if (installed !== PATCHED_ZOOKEEPER_CLIENT_VERSION) {
  throw new Error(
    `pproxy bounds the connect handshake of node-zookeeper-client ${PATCHED_ZOOKEEPER_CLIENT_VERSION} and cannot run ` +
      `on ${installed} (${require.resolve('node-zookeeper-client/package.json')}): install ` +
      `node-zookeeper-client@${PATCHED_ZOOKEEPER_CLIENT_VERSION} exactly`,
  );
}

/** What this module uses of node-zookeeper-client's ConnectionManager. */
interface ConnectionManager {
  state: number;
  socket: Socket | undefined;
  /** Called on the socket's 'connect'; sends the connect request. Looked up at each connect. */
  onSocketConnected(this: ConnectionManager): void;
}

const { STATES } = require('node-zookeeper-client/lib/ConnectionManager') as { STATES: { CONNECTING: number; CLOSING: number } };

/**
 * Closes a connection whose connect request the server has not answered within `timeoutMs` of the
 * TCP connection, so that the client tries again; or, when the client was closed meanwhile (its
 * close request will not be answered either), so that it ends.
 */
export function boundConnectHandshake(client: Client, timeoutMs: number): void {
  const manager = (client as unknown as { connectionManager: ConnectionManager }).connectionManager;
  const sendConnectRequest = manager.onSocketConnected;
  manager.onSocketConnected = function onSocketConnected(this: ConnectionManager) {
    sendConnectRequest.call(this);
    const socket = this.socket;
    if (!socket) return;
    const timer = setTimeout(() => {
      if (this.socket === socket && (this.state === STATES.CONNECTING || this.state === STATES.CLOSING)) socket.destroy();
    }, timeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
}
