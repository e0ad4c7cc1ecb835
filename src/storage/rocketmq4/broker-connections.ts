/**
 * One remoting connection per broker address, opened on first use and shared by every send to that
 * broker (requests are matched to answers by opaque, so they need no connection of their own). A
 * connection that ended is replaced on the next use; a failed connect is not remembered, so the
 * next send tries again.
 */
import { RemotingConnection, type ConnectionOptions } from './remoting/remoting-connection';
import { RemotingError } from './remoting/remoting-error';

export class BrokerConnections {
  private readonly connections = new Map<string, Promise<RemotingConnection>>();
  private closed = false;

  constructor(private readonly options: ConnectionOptions) {}

  get(address: string): Promise<RemotingConnection> {
    const held = this.connections.get(address);
    if (held) {
      // a connection that ended is dropped here; a connect under way or failed is handled below
      return held.then((connection) => (connection.closed ? this.open(address) : connection));
    }
    return this.open(address);
  }

  /** The connections open now, by address. */
  async openConnections(): Promise<Map<string, RemotingConnection>> {
    const open = new Map<string, RemotingConnection>();
    for (const [address, connection] of this.connections) {
      const c = await connection.catch(() => undefined);
      if (c && !c.closed) open.set(address, c);
    }
    return open;
  }

  close(): void {
    this.closed = true;
    for (const connection of this.connections.values()) void connection.then((c) => c.close(), () => undefined);
    this.connections.clear();
  }

  private open(address: string): Promise<RemotingConnection> {
    if (this.closed) return Promise.reject(new RemotingError('closed', `not connecting to ${address}: the storage is closed`));
    const opening = RemotingConnection.connect(address, this.options);
    this.connections.set(address, opening);
    opening.catch(() => {
      if (this.connections.get(address) === opening) this.connections.delete(address);
    });
    return opening;
  }
}
