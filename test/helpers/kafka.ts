/**
 * Kafka test peers: librdkafka's mock cluster (test/fixtures/kafka_mock.py over the mock C API) and
 * kcat to read back what was produced. Both come from Debian (kcat pulls librdkafka1); the test
 * command installs them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { TestContext } from 'node:test';
import { Kafka, logLevel } from '../../src/storage/kafka/kafkajs';
import { REPO_ROOT } from './proxy';
import { run } from './run';
import { stopNow } from './processes';

/** Kafka API keys and error codes used by the tests (Kafka protocol numbering). */
export const ApiKey = { Produce: 0, Metadata: 3 } as const;
export const KafkaError = {
  UNKNOWN_TOPIC_OR_PART: 3,
  NOT_LEADER_FOR_PARTITION: 6,
  REQUEST_TIMED_OUT: 7,
  MESSAGE_TOO_LARGE: 10,
  TOPIC_AUTHORIZATION_FAILED: 29,
} as const;

export class MockKafka {
  private readonly replies: ((line: string) => void)[] = [];
  readonly exited: Promise<void>;

  private constructor(
    readonly proc: ChildProcess,
    readonly bootstraps: string[],
    lines: readline.Interface,
  ) {
    lines.on('line', (line) => this.replies.shift()?.(line));
    this.exited = new Promise((resolve) => proc.on('exit', () => resolve()));
  }

  static async start(t: TestContext, brokers = 3): Promise<MockKafka> {
    const proc = spawn('/usr/bin/python3', [path.join(REPO_ROOT, 'test/fixtures/kafka_mock.py'), String(brokers)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = readline.createInterface({ input: proc.stdout! });
    t.after(() => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGCONT');
        proc.kill('SIGKILL');
      }
    });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      proc.once('exit', (code) => reject(new Error(`kafka mock exited (${code}): ${stderr}`)));
      proc.once('error', reject);
    });
    const m = /^bootstraps (.+)$/.exec(first);
    if (!m) throw new Error(`unexpected first line from the kafka mock: ${first}`);
    return new MockKafka(proc, m[1]!.split(','), lines);
  }

  /** Sends one controller command; rejects with the mock's error. */
  command(line: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.replies.push((reply) => (reply === 'ok' ? resolve() : reject(new Error(`kafka mock: ${line}: ${reply}`))));
      this.proc.stdin!.write(`${line}\n`);
    });
  }

  createTopic(name: string, partitions: number): Promise<void> {
    return this.command(`topic ${name} ${partitions}`);
  }

  /**
   * Freezes the mock: a broker that keeps its connections and answers nothing. SIGSTOP takes effect
   * when each of the process's threads next stops running, so this waits until /proc shows them all
   * stopped: a request sent after it can only be answered after resume().
   */
  pause(): Promise<void> {
    return stopNow(this.proc, 'kafka mock');
  }

  resume(): void {
    this.proc.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    await this.exited;
  }
}

export interface ConsumedRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
}

/**
 * Every record of a topic, read with kcat. Keys and values are framed by their lengths (%K, %S), so
 * binary payloads with newlines come back exactly.
 */
export async function consumeAll(bootstraps: string[], topic: string): Promise<ConsumedRecord[]> {
  const r = await run('kcat', ['-b', bootstraps.join(','), '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %K %S %k%s %h\n'], {
    timeoutMs: 30_000,
    encoding: 'latin1',
  });
  if (r.status !== 0) throw new Error(`kcat failed (${r.status}): ${r.stderr}`);
  const data = Buffer.from(r.stdout, 'latin1');
  const records: ConsumedRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    const readWord = () => {
      const end = data.indexOf(0x20, pos);
      const word = data.toString('latin1', pos, end);
      pos = end + 1;
      return word;
    };
    const partition = Number(readWord());
    const offset = Number(readWord());
    const keyLength = Number(readWord());
    const valueLength = Number(readWord());
    const key = keyLength < 0 ? null : data.subarray(pos, pos + keyLength);
    pos += Math.max(keyLength, 0);
    const value = data.subarray(pos, pos + Math.max(valueLength, 0));
    pos += Math.max(valueLength, 0) + 1; // the space before the headers
    const newline = data.indexOf(0x0a, pos);
    const headerText = data.toString('utf8', pos, newline);
    pos = newline + 1;
    const headers: Record<string, string> = {};
    for (const pair of headerText ? headerText.split(',') : []) {
      const eq = pair.indexOf('=');
      headers[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    records.push({ partition, offset, key, value, headers });
  }
  return records;
}

export interface StoredBatchRecord {
  partition: number;
  value: string;
  /** First offset of the record batch the broker stored it in: one per produce request and partition. */
  batchFirstOffset: string;
}

/**
 * Reads `count` records with a kafkajs consumer, which, unlike kcat, shows which record batch each
 * record was stored in (a producer's request lands as one batch per partition).
 */
export async function consumeRecordBatches(bootstraps: string[], topic: string, count: number, timeoutMs = 30_000): Promise<StoredBatchRecord[]> {
  const consumer = new Kafka({ brokers: bootstraps, logLevel: logLevel.NOTHING }).consumer({ groupId: `test-${topic}-${Date.now()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const records: StoredBatchRecord[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${records.length} of ${count} records of ${topic}`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          const context = (message as unknown as { batchContext: { firstOffset: string } }).batchContext;
          records.push({ partition, value: message.value!.toString(), batchFirstOffset: context.firstOffset });
          if (records.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    return records;
  } finally {
    await consumer.disconnect();
  }
}
