/**
 * node-zookeeper-client behind promises, with the few operations the proxy and the binding
 * command use. Data is UTF-8 JSON, as DDMQ's console writes it.
 */
import zookeeper, { type Client, type Event, type Stat } from 'node-zookeeper-client';
import { boundConnectHandshake } from './connect-handshake';
import type { ZkAuth } from './zk-auth';

/** DDMQ's root, appended to a connect string that does not contain it (CC/biz/ZkServiceImpl). */
export const CARRERA_ROOT = '/carrera/v4/config';

/** `host:port[,host:port][/chroot]` with DDMQ's root appended when absent. */
export function withCarreraRoot(connectString: string): string {
  if (connectString.includes(CARRERA_ROOT)) return connectString;
  const slash = connectString.indexOf('/');
  const hosts = slash < 0 ? connectString : connectString.slice(0, slash);
  const chroot = slash < 0 ? '' : connectString.slice(slash).replace(/\/+$/, '');
  return `${hosts}${chroot}${CARRERA_ROOT}`;
}

export type Watcher = (event: Event) => void;

/**
 * The ACL of the nodes a client with credentials creates: everything for whoever authenticated as
 * it did (ZooKeeper's `auth` scheme: the creator's identities), reading for anyone, so that DDMQ's
 * own console and proxies without credentials still read them but cannot change them. Without
 * credentials nodes are open, as DDMQ's console makes them.
 */
function aclsFor(auth: ZkAuth | undefined): zookeeper.ACL[] {
  const anyone = new zookeeper.Id('world', 'anyone');
  if (!auth) return [new zookeeper.ACL(zookeeper.Permission.ALL, anyone)];
  return [new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('auth', '')), new zookeeper.ACL(zookeeper.Permission.READ, anyone)];
}

export interface NodeData {
  readonly data: Buffer;
  /** Epoch ms of the node's last write; undefined when the server did not send its stat. */
  readonly mtimeMs: number | undefined;
}

/**
 * How long a server may take to answer the connect request before the client tries again. A healthy
 * one answers in milliseconds; one that is starting can accept the connection and never answer.
 */
export const CONNECT_HANDSHAKE_TIMEOUT_MS = 5000;

/**
 * Creates the chroot of a connect string (DDMQ's root included), which must exist before a client
 * chrooted there can create anything in it.
 */
export async function ensureChroot(connectString: string, timeoutMs: number, auth?: ZkAuth): Promise<void> {
  const rooted = withCarreraRoot(connectString);
  const slash = rooted.indexOf('/');
  const plain = new ZkClient(rooted.slice(0, slash), { raw: true, auth });
  plain.connect();
  try {
    await plain.waitConnected(timeoutMs);
    await plain.ensure(rooted.slice(slash), '');
  } finally {
    plain.close();
  }
}

export class ZkClient {
  readonly client: Client;
  private readonly acls: zookeeper.ACL[];

  /** `raw`: use the connect string as given, without DDMQ's root. `auth`: digest credentials, sent at every connect. */
  constructor(connectString: string, options: { sessionTimeout?: number; raw?: boolean; handshakeTimeoutMs?: number; auth?: ZkAuth | undefined } = {}) {
    // DDMQ's session timeout; spinDelay bounds the reconnect pace.
    this.client = zookeeper.createClient(options.raw ? connectString : withCarreraRoot(connectString), {
      sessionTimeout: options.sessionTimeout ?? 30_000,
      spinDelay: 500,
      retries: 0,
    });
    boundConnectHandshake(this.client, options.handshakeTimeoutMs ?? CONNECT_HANDSHAKE_TIMEOUT_MS);
    if (options.auth) this.client.addAuthInfo('digest', Buffer.from(`${options.auth.user}:${options.auth.password}`, 'utf8'));
    this.acls = aclsFor(options.auth);
  }

  connect(): void {
    this.client.connect();
  }

  /** Resolves once connected, or rejects after `timeoutMs` (the client keeps trying). */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.client.getState() === zookeeper.State.SYNC_CONNECTED) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.removeListener('connected', onConnected);
        reject(new Error(`no ZooKeeper connection within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnected = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once('connected', onConnected);
    });
  }

  close(): void {
    this.client.close();
  }

  /** The node's data, or undefined when it does not exist. A watcher is set either way. */
  async getData(path: string, watcher?: Watcher): Promise<Buffer | undefined> {
    return (await this.read(path, watcher))?.data;
  }

  /**
   * The node's data and when it was last written (its mtime, by the ZooKeeper server's clock), or
   * undefined when it does not exist. A watcher is set either way.
   */
  read(path: string, watcher?: Watcher): Promise<NodeData | undefined> {
    return new Promise((resolve, reject) => {
      const done = (error: Error | zookeeper.Exception | null, data?: Buffer, stat?: Stat) => {
        if (!error) resolve({ data: data ?? Buffer.alloc(0), mtimeMs: stat ? Number(stat.mtime.readBigInt64BE()) : undefined });
        else if (isNoNode(error)) resolve(undefined);
        else reject(error);
      };
      if (!watcher) {
        this.client.getData(path, done);
        return;
      }
      // getData cannot watch a node that does not exist; exists can, and fires on its creation.
      this.client.getData(path, watcher, (error, data, stat) => {
        if (error && isNoNode(error)) {
          this.client.exists(path, watcher, (existsError, existing) => {
            if (existsError) reject(existsError);
            else if (existing) this.read(path, watcher).then(resolve, reject); // created meanwhile
            else resolve(undefined);
          });
        } else done(error, data, stat);
      });
    });
  }

  /** Creates the node with its parents, or replaces its data. */
  put(path: string, data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.setData(path, Buffer.from(data, 'utf8'), -1, (error) => {
        if (!error) resolve();
        else if (isNoNode(error)) {
          this.client.mkdirp(path, Buffer.from(data, 'utf8'), this.acls, (mkError) => (mkError ? reject(mkError) : resolve()));
        } else reject(error);
      });
    });
  }

  /** Creates the node with `data` unless it exists (parents included). */
  ensure(path: string, data: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.mkdirp(path, Buffer.from(data, 'utf8'), this.acls, (error) => (error ? reject(error) : resolve()));
    });
  }

  children(path: string): Promise<string[]> {
    return new Promise((resolve, reject) => {
      this.client.getChildren(path, (error, children) => {
        if (!error) resolve(children);
        else if (isNoNode(error)) resolve([]);
        else reject(error);
      });
    });
  }

  remove(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.remove(path, -1, (error) => (!error || isNoNode(error) ? resolve() : reject(error)));
    });
  }
}

function isNoNode(error: unknown): boolean {
  return error instanceof zookeeper.Exception && error.getCode() === zookeeper.Exception.NO_NODE;
}
