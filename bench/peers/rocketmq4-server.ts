/**
 * The real Apache RocketMQ 4 for a test or a benchmark run: one name server and one or two master
 * brokers (broker-a, broker-b of DefaultCluster), each its own JVM, from the jars
 * scripts/fetch-test-peers.sh copies from Maven Central (test/peers/rocketmq-4). Fresh stores and
 * ROCKETMQ_HOME (logs too) in a temp dir, free loopback ports, small heaps. Topics are created, and
 * queues read back, with RocketMQ's own admin tool (mqadmin). With `acl`, the brokers check RocketMQ 4's
 * ACL (aclEnable, conf/plain_acl.yml) and mqadmin signs as the admin account (conf/tools.yml, which
 * 4.9's MQAdminStartup reads from ROCKETMQ_HOME).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { peerJars } from './peer-jars';
import { freePort } from './ports';
import { killNow, readyLine } from './processes';
import { run } from './run-command';
import {
  parseMessagesOfQueue,
  parseTopicRoute,
  parseTopicStatus,
  parseUpdateTopic,
  type QueueStatus,
  type StoredMessage,
  type TopicRoute,
} from './rocketmq4-admin-output';
import { scratchDir, type Scope } from './scope';

export type { QueueStatus, StoredMessage, TopicRoute } from './rocketmq4-admin-output';

export const CLUSTER = 'DefaultCluster';
const BROKER_NAMES = ['broker-a', 'broker-b'] as const;
export type BrokerName = (typeof BROKER_NAMES)[number];
/** The brokers' maxMessageSize. */
export const MAX_MESSAGE_SIZE = 65_536;

const START_TIMEOUT_MS = 90_000;
const ROUTE_TIMEOUT_MS = 60_000;
/** How often a broker registers with the name server (RocketMQ's least): a restarted one hears of it by then. */
const REGISTER_PERIOD_MS = 10_000;
/** mqadmin runs are mostly waiting (its client's shutdown takes seconds): a few at once. */
const ADMIN_CONCURRENCY = 3;

/**
 * JDK 17 options: the store unmaps a mapped file (on a clean shutdown, or deleting an old one)
 * through DirectByteBuffer.attachment() and its jdk.internal.ref.Cleaner, by reflection; without
 * these opens that throws InaccessibleObjectException. The broker starts and serves without them.
 */
const JDK17_OPENS = ['--add-opens=java.base/java.nio=ALL-UNNAMED', '--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED'];
/** UTF-8 on the tools' stdout whatever the locale: property values are printed as text. */
const UTF8_STDOUT = ['-Dfile.encoding=UTF-8', '-Dsun.stdout.encoding=UTF-8'];

export interface TopicSpec {
  /** Read and write queues on every broker. */
  queues: number;
  /** An ordered topic: the name server's order config lists every broker with its queues. */
  order?: boolean;
}

/** Permissions as plain_acl.yml writes them. */
export type AclPermission = 'PUB' | 'SUB' | 'PUB|SUB' | 'DENY';

export interface AclAccount {
  accessKey: string;
  secretKey: string;
  /** For topics not in `topicPerms`; RocketMQ's own default is DENY. */
  defaultTopicPerm?: AclPermission;
  topicPerms?: Record<string, AclPermission>;
}

export interface AclOptions {
  /** The account mqadmin signs with, an admin (topic creation needs one). */
  admin: { accessKey: string; secretKey: string };
  /** The other accounts. */
  accounts: AclAccount[];
}

export interface ClusterOptions {
  brokers: 1 | 2;
  topics: Record<string, TopicSpec>;
  /** Brokers with ACL on; without it they check nothing. */
  acl?: AclOptions;
}

interface Broker {
  name: BrokerName;
  port: number;
  proc: ChildProcess | undefined;
}

/** One name server and N master brokers, each a JVM, on fixed ports and stores for the cluster's life. */
export class RocketMq4Cluster {
  private namesrv: ChildProcess | undefined;
  private readonly brokerTable: Broker[];

  private constructor(
    private readonly dir: string,
    private readonly lib: string,
    private readonly namesrvPort: number,
    brokers: { name: BrokerName; port: number }[],
    private readonly topics: Record<string, TopicSpec>,
    private readonly acl: AclOptions | undefined,
  ) {
    this.brokerTable = brokers.map((b) => ({ ...b, proc: undefined }));
  }

  /** Starts everything and creates `topics`; all is killed and removed when `scope` ends. */
  static async start(scope: Scope, options: ClusterOptions): Promise<RocketMq4Cluster> {
    const lib = peerJars('rocketmq-4', 'Apache RocketMQ 4');
    const dir = scratchDir(scope, 'pproxy-rmq4-');
    const namesrvPort = await freePort();
    const brokers: { name: BrokerName; port: number }[] = [];
    // a broker listens on its port - 2 too (its VIP channel) and + 1 (replication to slaves)
    for (const name of BROKER_NAMES.slice(0, options.brokers)) brokers.push({ name, port: await freePort([-2, 1]) });
    const cluster = new RocketMq4Cluster(dir, lib, namesrvPort, brokers, options.topics, options.acl);
    scope.after(() => cluster.kill());
    cluster.writeConfig();
    await cluster.restartNameServer();
    await Promise.all(cluster.brokerTable.map((b) => cluster.restart(b.name)));
    await cluster.inParallel(Object.entries(options.topics), ([topic, spec]) => cluster.createTopic(topic, spec));
    return cluster;
  }

  get namesrvAddress(): string {
    return `127.0.0.1:${this.namesrvPort}`;
  }

  get brokers(): { name: BrokerName; address: string }[] {
    return this.brokerTable.map((b) => ({ name: b.name, address: `127.0.0.1:${b.port}` }));
  }

  /** SIGKILL to one broker: an outage, not a clean stop. */
  kill(brokerName: BrokerName): Promise<void>;
  /** SIGKILL to every JVM. */
  kill(): Promise<void>;
  async kill(brokerName?: BrokerName): Promise<void> {
    if (brokerName !== undefined) return killNow(this.broker(brokerName).proc);
    for (const b of this.brokerTable) await killNow(b.proc);
    await killNow(this.namesrv);
  }

  /** Starts a broker (again, on the same ports and store): ready once it booted and registered. */
  async restart(brokerName: BrokerName): Promise<void> {
    const broker = this.broker(brokerName);
    await killNow(broker.proc);
    await this.launch(
      brokerName,
      'org.apache.rocketmq.broker.BrokerStartup',
      ['-c', this.file(`${brokerName}.conf`)],
      new RegExp(`The broker\\[${brokerName}, [^\\]]+\\] boot success`),
      '256m',
    );
  }

  /** SIGKILL to the name server; the brokers keep running (and retrying their registration). */
  killNameServer(): Promise<void> {
    return killNow(this.namesrv);
  }

  /**
   * Starts the name server (again, on the same port; its KV config, the order configs, survives).
   * After a restart it is ready when every running broker registered again, within REGISTER_PERIOD_MS.
   */
  async restartNameServer(): Promise<void> {
    await killNow(this.namesrv);
    await this.launch('namesrv', 'org.apache.rocketmq.namesrv.NamesrvStartup', ['-c', this.file('namesrv.properties')], /The Name Server boot success/, '128m');
    const running = this.brokerTable.filter((b) => b.proc !== undefined && b.proc.exitCode === null && b.proc.signalCode === null).map((b) => b.name);
    if (running.length === 0) return;
    await this.inParallel(Object.keys(this.topics), (topic) => this.awaitRoute(topic, running));
  }

  /** The name server's route of `topic` (mqadmin topicRoute). */
  async route(topic: string): Promise<TopicRoute> {
    return parseTopicRoute(await this.mqadmin('topicRoute', '-n', this.namesrvAddress, '-t', topic));
  }

  /** Every queue of `topic` on every broker in its route, with its min and max offset (mqadmin topicStatus). */
  async status(topic: string): Promise<QueueStatus[]> {
    return parseTopicStatus(await this.mqadmin('topicStatus', '-n', this.namesrvAddress, '-t', topic));
  }

  /**
   * Every message stored on one queue, in offset order, as mqadmin printMsgByQueue pulls it. The
   * offsets must run without a gap from the queue's min offset (the pulling client's MIN_OFFSET)
   * to below its max: a pull that failed halfway is an error, not a short read.
   */
  async readQueue(topic: string, brokerName: BrokerName, queueId: number): Promise<StoredMessage[]> {
    const args = ['printMsgByQueue', '-n', this.namesrvAddress, '-t', topic, '-a', brokerName, '-i', String(queueId), '-p', 'true'];
    const pulled = parseMessagesOfQueue(await this.mqadmin(...args), topic);
    pulled.forEach(({ message: m, queueMinOffset, queueMaxOffset }, i) => {
      const expected = i === 0 ? queueMinOffset : pulled[i - 1]!.message.queueOffset + 1;
      if (m.brokerName !== brokerName || m.queueId !== queueId || m.queueOffset !== expected || m.queueOffset >= queueMaxOffset) {
        throw new Error(`printMsgByQueue ${topic} ${brokerName}/${queueId}: message at offset ${m.queueOffset} of ${m.brokerName}/${m.queueId} out of sequence`);
      }
    });
    return pulled.map((p) => p.message);
  }

  /**
   * Every message of `topic` on every broker and queue (by broker, queue and offset), read while no
   * one writes to it: each queue's read must cover what topicStatus counted there.
   */
  async readAll(topic: string): Promise<StoredMessage[]> {
    const queues = await this.status(topic);
    const read = await this.inParallel(
      queues.filter((q) => q.maxOffset > q.minOffset),
      async (q) => {
        const messages = await this.readQueue(topic, this.broker(q.brokerName).name, q.queueId);
        if (messages[0]?.queueOffset !== q.minOffset || messages.length < q.maxOffset - q.minOffset) {
          throw new Error(`${topic} ${q.brokerName}/${q.queueId}: read ${messages.length} messages from offset ${messages[0]?.queueOffset}, the queue holds ${q.minOffset}..${q.maxOffset}`);
        }
        return messages;
      },
    );
    return read.flat();
  }

  /** Runs mqadmin with `args`: its stdout; a failure (an exception, anything on stderr) throws. */
  async mqadmin(...args: string[]): Promise<string> {
    const result = await run('java', [...this.jvm('128m'), ...UTF8_STDOUT, '-XX:TieredStopAtLevel=1', 'org.apache.rocketmq.tools.command.MQAdminStartup', ...args], {
      env: this.env(),
      timeoutMs: 60_000,
    });
    // MQAdminStartup prints a failed command's exception and exits 0
    if (result.status !== 0 || result.stderr.trim() !== '' || /Exception/.test(result.stdout)) {
      throw new Error(`mqadmin ${args.join(' ')} failed (${result.status}):\n${result.stdout}${result.stderr}`);
    }
    return result.stdout;
  }

  /**
   * Creates (or updates) `topic` with mqadmin updateTopic -c on every master of the cluster, then
   * waits for the route to list them all; a restarted name server waits for its route too.
   */
  async createTopic(topic: string, spec: TopicSpec): Promise<void> {
    this.topics[topic] = spec;
    const queues = String(spec.queues);
    const args = ['updateTopic', '-n', this.namesrvAddress, '-c', CLUSTER, '-t', topic, '-r', queues, '-w', queues, ...(spec.order ? ['-o', 'true'] : [])];
    const created = parseUpdateTopic(await this.mqadmin(...args), topic).sort();
    const expected = this.brokers.map((b) => b.address).sort();
    if (created.join() !== expected.join()) throw new Error(`mqadmin updateTopic ${topic} created it on ${created.join(', ')}, not on ${expected.join(', ')}`);
    await this.awaitRoute(topic, this.brokerTable.map((b) => b.name));
  }

  /** Until the name server's route of `topic` lists each of `brokers` with the topic's queues. */
  private async awaitRoute(topic: string, brokers: BrokerName[]): Promise<void> {
    const { queues, order } = this.topics[topic]!;
    const deadline = Date.now() + ROUTE_TIMEOUT_MS;
    for (;;) {
      const route = await this.route(topic).catch((error: Error) => error);
      const complete =
        !(route instanceof Error) &&
        brokers.every((name) => route.brokers.some((b) => b.name === name) && route.queues.some((q) => q.brokerName === name && q.readQueueNums === queues && q.writeQueueNums === queues)) &&
        (!order || brokers.every((name) => route.orderTopicConf?.split(';').includes(`${name}:${queues}`)));
      if (complete) return;
      if (Date.now() > deadline) throw new Error(`the route of ${topic} does not list ${brokers.join(', ')} with ${queues} queues within ${ROUTE_TIMEOUT_MS} ms: ${route instanceof Error ? route.message : JSON.stringify(route)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  private broker(name: string): Broker {
    const broker = this.brokerTable.find((b) => b.name === name);
    if (!broker) throw new Error(`no broker ${name} in this cluster (${this.brokerTable.map((b) => b.name).join(', ')})`);
    return broker;
  }

  private writeConfig(): void {
    const conf = path.join(this.dir, 'conf');
    fs.mkdirSync(conf, { recursive: true });
    // without orderMessageEnable the name server keeps the order configs mqadmin sets but leaves them out of routes
    fs.writeFileSync(this.file('namesrv.properties'), `listenPort=${this.namesrvPort}\norderMessageEnable=true\n`);
    for (const b of this.brokerTable) {
      const store = path.join(this.dir, 'store', b.name);
      fs.writeFileSync(
        this.file(`${b.name}.conf`),
        [
          `brokerClusterName=${CLUSTER}`,
          `brokerName=${b.name}`,
          'brokerId=0',
          'brokerRole=ASYNC_MASTER',
          'brokerIP1=127.0.0.1',
          `listenPort=${b.port}`,
          `namesrvAddr=${this.namesrvAddress}`,
          `storePathRootDir=${store}`,
          `storePathCommitLog=${path.join(store, 'commitlog')}`,
          // topics exist only when mqadmin created them, as in production
          'autoCreateTopicEnable=false',
          `registerNameServerPeriod=${REGISTER_PERIOD_MS}`,
          // small mapped files: the store preallocates one of each per queue
          'mappedFileSizeCommitLog=67108864',
          'mappedFileSizeConsumeQueue=300000',
          // the broker's body limit, below pproxy's: a larger body is the broker's to refuse
          `maxMessageSize=${MAX_MESSAGE_SIZE}`,
          // a send waiting longer in the broker's queue is refused SYSTEM_BUSY: the stock 200 ms is
          // shorter than the pauses of a JVM on two cores shared with its clients
          'waitTimeMillsInSendQueue=1000',
          ...(this.acl ? ['aclEnable=true'] : []),
          '',
        ].join('\n'),
      );
    }
    if (this.acl) this.writeAclConfig(this.acl);
    // RocketMQ 4 configures logback from $ROCKETMQ_HOME/conf/logback_<process>.xml and will not start without it
    for (const process of ['namesrv', 'broker', 'tools']) {
      fs.writeFileSync(
        path.join(conf, `logback_${process}.xml`),
        [
          '<configuration>',
          '  <appender name="FILE" class="ch.qos.logback.core.FileAppender">',
          `    <file>\${ROCKETMQ_HOME}/logs/${process}.log</file>`,
          '    <encoder><pattern>%d{HH:mm:ss.SSS} %p %t %c - %m%n</pattern></encoder>',
          '  </appender>',
          '  <root level="INFO"><appender-ref ref="FILE"/></root>',
          '</configuration>',
          '',
        ].join('\n'),
      );
    }
  }

  /**
   * conf/plain_acl.yml, which the brokers read from ROCKETMQ_HOME: the admin account and the
   * others, none white-listed by address (so every request is checked by its signature); and
   * conf/tools.yml, the credentials mqadmin signs with.
   */
  private writeAclConfig(acl: AclOptions): void {
    const accounts = [
      { accessKey: acl.admin.accessKey, secretKey: acl.admin.secretKey, admin: true },
      ...acl.accounts.map((a) => ({
        accessKey: a.accessKey,
        secretKey: a.secretKey,
        admin: false,
        defaultTopicPerm: a.defaultTopicPerm ?? 'DENY',
        defaultGroupPerm: 'PUB|SUB',
        topicPerms: Object.entries(a.topicPerms ?? {}).map(([topic, perm]) => `${topic}=${perm}`),
      })),
    ];
    fs.writeFileSync(this.file('plain_acl.yml'), YAML.stringify({ globalWhiteRemoteAddresses: [], accounts }));
    fs.writeFileSync(this.file('tools.yml'), YAML.stringify({ accessKey: acl.admin.accessKey, secretKey: acl.admin.secretKey }));
  }

  private file(name: string): string {
    return path.join(this.dir, 'conf', name);
  }

  /** ROCKETMQ_HOME (the logback configs, the logs) and user.home (the name server's KV config, the client's logs) in the cluster's dir. */
  private env(): NodeJS.ProcessEnv {
    return { ...process.env, ROCKETMQ_HOME: this.dir };
  }

  private jvm(heap: string): string[] {
    return [`-Xmx${heap}`, `-Xms${heap}`, '-XX:+UseSerialGC', ...JDK17_OPENS, `-Duser.home=${this.dir}`, '-cp', `${this.lib}/*`];
  }

  /** `step` over `items`, ADMIN_CONCURRENCY at a time; the results in the items' order. */
  private async inParallel<T, R>(items: readonly T[], step: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await step(items[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(ADMIN_CONCURRENCY, items.length) }, worker));
    return results;
  }

  /** Spawns one JVM and waits for its `ready` line; kill() ends it from the moment it is spawned. */
  private async launch(what: 'namesrv' | BrokerName, main: string, args: string[], ready: RegExp, heap: string): Promise<void> {
    const proc = spawn('java', [...this.jvm(heap), main, ...args], { cwd: this.dir, env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    if (what === 'namesrv') this.namesrv = proc;
    else this.broker(what).proc = proc;
    await readyLine(proc, `rocketmq 4 ${what}`, ready, START_TIMEOUT_MS);
  }
}
