/**
 * The real Apache RocketMQ 5 for a test or a benchmark run: a name server, and the proxy in local
 * mode with its broker in the same JVM, from the jars scripts/fetch-test-peers.sh copies from Maven
 * Central (test/peers/rocketmq-5). Fresh store and ROCKETMQ_HOME (logs too) in a temp dir, free
 * loopback ports, small heaps. Topics are created with RocketMQ's own admin tool (mqadmin updateTopic).
 * On request (RocketMqSecurity) the proxy checks credentials (ACL 2.0) and speaks TLS only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { peerJars } from './peer-jars';
import { freePort } from './ports';
import { killNow, readyLine } from './processes';
import { run } from './run-command';
import { scratchDir, type Scope } from './scope';

const CLUSTER = 'DefaultCluster';
const BROKER = 'broker-a';
const START_TIMEOUT_MS = 90_000;
const AUTHENTICATION_PROVIDER = 'org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider';
/** The broker's maxMessageSize. */
export const MAX_MESSAGE_SIZE = 65_536;

export type TopicType = 'NORMAL' | 'FIFO';

/**
 * What a server started with security asks of its clients; without, plaintext and no credentials.
 */
export interface RocketMqSecurity {
  /**
   * ACL 2.0 authentication by the proxy (gRPC) and the broker (remoting): this user is created as
   * the super user at the broker's first start (initAuthenticationUser), and mqadmin signs its
   * requests with it (conf/tools.yml). No authorization: an authenticated user may do anything.
   */
  readonly user?: { readonly accessKey: string; readonly secretKey: string };
  /**
   * TLS only (tls.server.mode=enforcing, which holds for every server port of the proxy's JVM): the
   * gRPC port with this certificate, the proxy's remoting port and the broker's with a self-signed
   * one (RocketMQ's TLS test mode); mqadmin speaks TLS without checking the certificate. `caFile`
   * signed `certFile`: clients reading back trust it.
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caFile: string };
}

export interface Ports {
  namesrv: number;
  broker: number;
  grpc: number;
  remoting: number;
}

/** One name server and one proxy with its broker (DefaultCluster, broker-a), as two JVMs. */
export class RocketMqLocal {
  private namesrv: ChildProcess | undefined;
  private proxy: ChildProcess | undefined;

  /** Only start() constructs one; public so that a subclass's start() returns the subclass. */
  constructor(
    private readonly dir: string,
    private readonly ports: Ports,
    private readonly lib: string,
    readonly security: RocketMqSecurity,
  ) {}

  /** The proxy's gRPC endpoint (pproxy's `namesrvAddrs`). */
  get address(): string {
    return `127.0.0.1:${this.ports.grpc}`;
  }

  get namesrvAddress(): string {
    return `127.0.0.1:${this.ports.namesrv}`;
  }

  /** Starts both servers and creates `topics`; everything is killed and removed when `scope` ends. */
  static async start<T extends RocketMqLocal>(
    this: new (dir: string, ports: Ports, lib: string, security: RocketMqSecurity) => T,
    scope: Scope,
    topics: Record<string, TopicType> = {},
    security: RocketMqSecurity = {},
  ): Promise<T> {
    const lib = peerJars('rocketmq-5', 'Apache RocketMQ');
    const dir = scratchDir(scope, 'pproxy-rmq-');
    const ports = {
      namesrv: await freePort(),
      // the broker listens on its port - 2 too (its fast channel) and + 1 (replication)
      broker: await freePort([-2, 1]),
      grpc: await freePort(),
      remoting: await freePort(),
    };
    const server = new this(dir, ports, lib, security);
    scope.after(() => server.kill());
    server.writeConfig();
    await server.run();
    await Promise.all(Object.entries(topics).map(([topic, type]) => server.createTopic(topic, type)));
    return server;
  }

  /** Starts the name server and the proxy (again, on the same ports and store). */
  async run(): Promise<void> {
    await this.launch('namesrv', 'org.apache.rocketmq.namesrv.NamesrvStartup', ['-c', this.file('namesrv.properties')], /boot success/, '256m');
    await this.startBroker();
  }

  /** SIGKILL to the proxy and the broker it holds; the name server keeps running. */
  killBroker(): Promise<void> {
    return killNow(this.proxy);
  }

  /** Starts the proxy with its broker (again, on the same ports and store). */
  async startBroker(): Promise<void> {
    await this.launch(
      'proxy',
      'org.apache.rocketmq.proxy.ProxyStartup',
      ['-pm', 'local', '-bc', this.file('broker.conf'), '-pc', this.file('rmq-proxy.json')],
      /rocketmq-proxy startup successfully/,
      '512m',
      this.security.tls ? ['-Dtls.server.mode=enforcing'] : [],
    );
  }

  /** SIGKILL to both: an outage, not a clean stop. */
  async kill(): Promise<void> {
    await killNow(this.proxy);
    await killNow(this.namesrv);
  }

  /** mqadmin updateTopic: 4 read and write queues, the topic's message type as an attribute. */
  async createTopic(topic: string, type: TopicType): Promise<void> {
    const args = ['updateTopic', '-n', this.namesrvAddress, '-c', CLUSTER, '-t', topic, '-r', '4', '-w', '4', '-a', `+message.type=${type}`];
    const deadline = Date.now() + 60_000;
    for (;;) {
      const tls = this.security.tls ? ['-Dtls.enable=true'] : [];
      const result = await run('java', [...this.jvm('128m'), '-XX:TieredStopAtLevel=1', ...tls, 'org.apache.rocketmq.tools.command.MQAdminStartup', ...args], {
        env: this.env(),
        timeoutMs: 60_000,
      });
      if (result.status === 0 && /success/.test(result.stdout)) return;
      // the broker registers with the name server a moment after the proxy reports it started
      if (!/clusterName exists/.test(result.stdout) || Date.now() > deadline) {
        throw new Error(`mqadmin updateTopic ${topic} failed:\n${result.stdout}${result.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  private writeConfig(): void {
    fs.mkdirSync(path.join(this.dir, 'conf'), { recursive: true });
    const store = path.join(this.dir, 'store');
    const user = this.security.user;
    fs.writeFileSync(this.file('namesrv.properties'), `listenPort=${this.ports.namesrv}\n`);
    fs.writeFileSync(
      this.file('broker.conf'),
      [
        `brokerClusterName=${CLUSTER}`,
        `brokerName=${BROKER}`,
        'brokerId=0',
        'brokerIP1=127.0.0.1',
        `listenPort=${this.ports.broker}`,
        `namesrvAddr=${this.namesrvAddress}`,
        `storePathRootDir=${store}`,
        `storePathCommitLog=${path.join(store, 'commitlog')}`,
        // topics exist only when mqadmin created them, as in production
        'autoCreateTopicEnable=false',
        // small mapped files: the store preallocates one of each per queue
        'mappedFileSizeCommitLog=67108864',
        'mappedFileSizeConsumeQueue=300000',
        // the broker's body limit, below pproxy's and the proxy's: a larger body is the broker's to refuse
        `maxMessageSize=${MAX_MESSAGE_SIZE}`,
        ...(user
          ? [
              'authenticationEnabled=true',
              `authenticationProvider=${AUTHENTICATION_PROVIDER}`,
              // the broker keeps its users in a RocksDB under its store; the proxy asks the broker
              'authenticationMetadataProvider=org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider',
              `initAuthenticationUser=${JSON.stringify({ username: user.accessKey, password: user.secretKey })}`,
            ]
          : []),
        '',
      ].join('\n'),
    );
    const proxy = { rocketMQClusterName: CLUSTER, grpcServerPort: this.ports.grpc, remotingListenPort: this.ports.remoting, namesrvAddr: this.namesrvAddress };
    // the proxy's own AuthConfig is read from this file, not from the broker's
    const authentication = user
      ? { authenticationEnabled: true, authenticationProvider: AUTHENTICATION_PROVIDER, authenticationMetadataProvider: 'org.apache.rocketmq.proxy.auth.ProxyAuthenticationMetadataProvider' }
      : {};
    // without tlsTestModeEnable false the gRPC port has a self-signed certificate of its own
    const tls = this.security.tls ? { tlsTestModeEnable: false, tlsCertPath: this.security.tls.certFile, tlsKeyPath: this.security.tls.keyFile } : {};
    fs.writeFileSync(this.file('rmq-proxy.json'), JSON.stringify({ ...proxy, ...authentication, ...tls }));
    // mqadmin reads the credentials it signs with from $ROCKETMQ_HOME/conf/tools.yml
    if (user) fs.writeFileSync(this.file('tools.yml'), `accessKey: ${user.accessKey}\nsecretKey: ${user.secretKey}\n`);
  }

  private file(name: string): string {
    return path.join(this.dir, 'conf', name);
  }

  /** ROCKETMQ_HOME and user.home (where RocketMQ writes its logs) in the test's dir. */
  private env(): NodeJS.ProcessEnv {
    return { ...process.env, ROCKETMQ_HOME: this.dir };
  }

  private jvm(heap: string): string[] {
    return [`-Xmx${heap}`, `-Xms${heap === '512m' ? '256m' : heap}`, '-XX:+UseSerialGC', `-Duser.home=${this.dir}`, '-cp', `${this.lib}/*`];
  }

  /** Spawns one JVM and waits for its `ready` line; kill() ends it from the moment it is spawned. */
  private async launch(what: 'namesrv' | 'proxy', main: string, args: string[], ready: RegExp, heap: string, properties: string[] = []): Promise<void> {
    const proc = spawn('java', [...this.jvm(heap), ...properties, main, ...args], { cwd: this.dir, env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    this[what] = proc;
    await readyLine(proc, `rocketmq ${what}`, ready, START_TIMEOUT_MS);
  }
}
