/**
 * A real Apache Kafka broker for a test or a benchmark run: one KRaft node (broker and controller in
 * one process) from the jars scripts/fetch-test-peers.sh fetches from Maven Central into
 * test/peers/kafka-<version>/target/lib, on free loopback ports with a fresh log dir, in a small heap.
 * It can be killed and started again on the same ports and data, as an outage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from '../../src/storage/kafka/kafkajs';
import { peerJars } from './peer-jars';
import { freePort } from './ports';
import { killNow } from './processes';
import { run } from './run-command';
import { scratchDir, type Scope } from './scope';

export type KafkaVersion = 4 | 3;

const JVM_OPTIONS = ['-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true'];
const READY_TIMEOUT_MS = 60_000;

/**
 * A 22-character URL-safe base64 UUID, the form `kafka-storage random-uuid` prints, never starting
 * with '-' (as Kafka's Uuid.randomUuid ensures): the storage tool would take it for an option.
 */
export function kafkaClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Authenticated listeners beside the PLAINTEXT one (which stays, for the broker's readiness check
 * and the tests' own admin and kcat calls): SASL_PLAINTEXT, SASL_SSL when `tls` is given, and an SSL
 * listener that requires a client certificate when `tls.clientCaFile` is given too.
 * Every user may log in with every mechanism: PLAIN users inline in the listener's JAAS
 * configuration, SCRAM credentials written into the metadata log when the storage is formatted.
 */
export interface KafkaSecurityOptions {
  readonly users: readonly { readonly name: string; readonly password: string }[];
  /**
   * The broker's certificate chain and its unencrypted PKCS#8 key, as PEM files; `clientCaFile`, the
   * CA whose client certificates the mutual-TLS listener accepts.
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly clientCaFile?: string };
}

export class KafkaBroker {
  private proc: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly version: KafkaVersion,
    readonly port: number,
    private readonly lib: string,
    private readonly properties: string,
    /** The broker's log.dirs: a folder `<topic>-<partition>` of segments per partition. */
    readonly logDir: string,
    /** The SASL_PLAINTEXT, SASL_SSL and mutual-TLS SSL listeners' ports, with `security`. */
    readonly securePorts: { readonly saslPlaintext?: number; readonly saslSsl?: number; readonly mutualTls?: number } = {},
  ) {}

  /** The bootstrap list of the SASL_PLAINTEXT listener. */
  get saslPlaintextBootstraps(): string[] {
    if (this.securePorts.saslPlaintext === undefined) throw new Error('this broker was started without security listeners');
    return [`127.0.0.1:${this.securePorts.saslPlaintext}`];
  }

  /** The bootstrap list of the SASL_SSL listener. */
  get saslSslBootstraps(): string[] {
    if (this.securePorts.saslSsl === undefined) throw new Error('this broker was started without a TLS certificate');
    return [`127.0.0.1:${this.securePorts.saslSsl}`];
  }

  /** The bootstrap list of the SSL listener that requires a client certificate. */
  get mutualTlsBootstraps(): string[] {
    if (this.securePorts.mutualTls === undefined) throw new Error('this broker was started without a client CA');
    return [`127.0.0.1:${this.securePorts.mutualTls}`];
  }

  get bootstraps(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  /** Formats a fresh log dir and starts the node; it is killed and its dir removed when `scope` ends. */
  /**
   * `advertisedPort`: the loopback port the broker tells clients to reach it on, instead of its own
   * (a TcpForwarder listening there puts itself in every connection after the bootstrap one).
   */
  static async start(scope: Scope, options: { version: KafkaVersion; advertisedPort?: number; security?: KafkaSecurityOptions }): Promise<KafkaBroker> {
    const lib = peerJars(`kafka-${options.version}`, `Kafka ${options.version}`);
    const java = await run('java', ['-version']).catch(() => undefined);
    if (java?.status !== 0) throw new Error('java not found: the real Kafka brokers need it (scripts/install-test-deps.sh installs it, then scripts/fetch-test-peers.sh fetches them)');
    const dir = scratchDir(scope, `pproxy-kafka${options.version}-`);
    const [port, controllerPort] = [await freePort(), await freePort()];
    const properties = path.join(dir, 'server.properties');
    const logDir = path.join(dir, 'data');
    const security = options.security;
    const securePorts = {
      saslPlaintext: security ? await freePort() : undefined,
      saslSsl: security?.tls ? await freePort() : undefined,
      mutualTls: security?.tls?.clientCaFile ? await freePort() : undefined,
    };
    const secureListeners = [
      ...(securePorts.saslPlaintext === undefined ? [] : [`SASL_PLAINTEXT://127.0.0.1:${securePorts.saslPlaintext}`]),
      ...(securePorts.saslSsl === undefined ? [] : [`SASL_SSL://127.0.0.1:${securePorts.saslSsl}`]),
      ...(securePorts.mutualTls === undefined ? [] : [`SSL://127.0.0.1:${securePorts.mutualTls}`]),
    ];
    fs.writeFileSync(
      properties,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        `listeners=${[`PLAINTEXT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controllerPort}`, ...secureListeners].join(',')}`,
        `advertised.listeners=${[`PLAINTEXT://127.0.0.1:${options.advertisedPort ?? port}`, ...secureListeners].join(',')}`,
        'controller.listener.names=CONTROLLER',
        `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${security ? ',SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL' : ''}`,
        ...(security ? securityProperties(security) : []),
        'inter.broker.listener.name=PLAINTEXT',
        `log.dirs=${logDir}`,
        'auto.create.topics.enable=false',
        'offsets.topic.replication.factor=1',
        'offsets.topic.num.partitions=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        'num.network.threads=2',
        'num.io.threads=2',
        'background.threads=2',
        // a restarted node waits out its previous registration's session (9 s by default) before it
        // serves again; 5 s still outlasts a busy machine's pauses between heartbeats
        'broker.heartbeat.interval.ms=1000',
        'broker.session.timeout.ms=5000',
        '',
      ].join('\n'),
    );
    const broker = new KafkaBroker(options.version, port, lib, properties, logDir, securePorts);
    scope.after(() => broker.kill());
    const scramUsers = (security?.users ?? []).flatMap(({ name, password }) =>
      SCRAM_MECHANISMS.flatMap((mechanism) => ['--add-scram', `${mechanism}=[name=${name},password=${password}]`]),
    );
    const format = await run('java', [...JVM_OPTIONS, '-cp', `${lib}/*`, 'kafka.tools.StorageTool', 'format', '-t', kafkaClusterId(), '-c', properties, ...scramUsers], { timeoutMs: 60_000 });
    if (format.status !== 0) throw new Error(`kafka-storage format failed (${format.status}):\n${format.stdout}${format.stderr}`);
    await broker.restart();
    return broker;
  }

  /** Starts (again) on the same ports and data; ready when a Metadata request is answered. */
  async restart(): Promise<void> {
    await this.kill();
    this.output = '';
    const proc = spawn('java', [...JVM_OPTIONS, '-cp', `${this.lib}/*`, 'kafka.Kafka', this.properties], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    this.proc = proc;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`Kafka ${this.version} exited (${proc.exitCode}):\n${this.output}`);
      const metadata = await run('kcat', ['-b', this.bootstraps[0]!, '-L', '-m', '2'], { timeoutMs: 5000 });
      if (metadata.status === 0 && metadata.stdout.includes('1 brokers')) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`Kafka ${this.version} did not answer Metadata within ${READY_TIMEOUT_MS / 1000} s:\n${this.output}`);
  }

  /** SIGKILL: an outage, not a clean stop. */
  kill(): Promise<void> {
    return killNow(this.proc);
  }

  /**
   * The record batches the broker stored for these topics, by partition folder (`<topic>-<n>`), as
   * Kafka's own DumpLogSegments prints them from the segment files (one JVM for all): where each
   * starts, how many records it holds and its compression codec as Kafka names it (NONE, GZIP,
   * SNAPPY, LZ4, ZSTD).
   */
  async storedBatches(topics: readonly string[]): Promise<Map<string, StoredBatch[]>> {
    const partitionFolder = (d: string) => topics.some((topic) => d.startsWith(`${topic}-`) && /^\d+$/.test(d.slice(topic.length + 1)));
    const segments = fs
      .readdirSync(this.logDir)
      .filter(partitionFolder)
      .flatMap((d) => fs.readdirSync(path.join(this.logDir, d)).filter((f) => f.endsWith('.log')).map((f) => path.join(this.logDir, d, f)));
    if (segments.length === 0) throw new Error(`no log segments of ${topics.join(', ')} in ${this.logDir}`);
    // Kafka 4 moved the tool from the broker's Scala core to the tools module
    const tool = this.version === 4 ? 'org.apache.kafka.tools.DumpLogSegments' : 'kafka.tools.DumpLogSegments';
    const dump = await run('java', [...JVM_OPTIONS, '-cp', `${this.lib}/*`, tool, '--files', segments.join(',')], { timeoutMs: 60_000 });
    if (dump.status !== 0) throw new Error(`DumpLogSegments failed (${dump.status}):\n${dump.stdout}${dump.stderr}`);
    const batches = new Map<string, StoredBatch[]>();
    let current: StoredBatch[] | undefined;
    for (const line of dump.stdout.split('\n')) {
      const file = /^Dumping (.+)$/.exec(line);
      if (file) {
        const folder = path.basename(path.dirname(file[1]!));
        current = batches.get(folder) ?? [];
        batches.set(folder, current);
        continue;
      }
      const batch = /^baseOffset: (\d+) .*\bcount: (\d+) .*\bcompresscodec: (\w+)/.exec(line);
      if (batch) current!.push({ baseOffset: Number(batch[1]), count: Number(batch[2]), codec: batch[3]!.toUpperCase() });
    }
    return batches;
  }

  /** Creates a topic through the broker's admin API; `config` holds topic configs such as max.message.bytes. */
  async createTopic(name: string, partitions: number, config: Record<string, string> = {}): Promise<void> {
    const admin = new Kafka({ brokers: this.bootstraps, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const configEntries = Object.entries(config).map(([name, value]) => ({ name, value }));
      await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1, configEntries }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
  }
}

const SCRAM_MECHANISMS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

/** server.properties lines of the SASL_PLAINTEXT, SASL_SSL and SSL listeners. */
function securityProperties(security: KafkaSecurityOptions): string[] {
  const plainUsers = security.users.map(({ name, password }) => `user_${name}="${password}"`).join(' ');
  const listeners = security.tls ? ['sasl_plaintext', 'sasl_ssl'] : ['sasl_plaintext'];
  const lines = ['sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512'];
  for (const listener of listeners) {
    lines.push(`listener.name.${listener}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`);
    for (const mechanism of SCRAM_MECHANISMS) {
      lines.push(`listener.name.${listener}.${mechanism.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`);
    }
  }
  if (security.tls) {
    // a PEM keystore takes the key and its chain inline, one property each, newlines escaped
    const inline = (file: string) => fs.readFileSync(file, 'utf8').trim().replace(/\r?\n/g, '\\n');
    const tlsListeners = security.tls.clientCaFile ? ['sasl_ssl', 'ssl'] : ['sasl_ssl'];
    for (const listener of tlsListeners) {
      lines.push(
        `listener.name.${listener}.ssl.keystore.type=PEM`,
        `listener.name.${listener}.ssl.keystore.certificate.chain=${inline(security.tls.certFile)}`,
        `listener.name.${listener}.ssl.keystore.key=${inline(security.tls.keyFile)}`,
      );
    }
    if (security.tls.clientCaFile) {
      lines.push(
        'listener.name.ssl.ssl.client.auth=required',
        'listener.name.ssl.ssl.truststore.type=PEM',
        `listener.name.ssl.ssl.truststore.certificates=${inline(security.tls.clientCaFile)}`,
      );
    }
  }
  return lines;
}

export interface StoredBatch {
  baseOffset: number;
  count: number;
  codec: string;
}
