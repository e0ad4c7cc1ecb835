/**
 * A Kafka broker that accepts connections and never answers (the mock cluster frozen with SIGSTOP),
 * under 40 clients sending 1 MiB sendSync calls, with the proxy at the shipped carrera.yaml's
 * settings: every call is answered, the proxy's peak RSS stays bounded, and once the broker thaws
 * new calls are stored.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import YAML from 'yaml';
import { FrameReader, SEQID_MIN, callHead, encodeCall, parseReply, type CallTemplate, type Outcome } from '../../bench/frames';
import { peakRssOf } from '../../bench/rss';
import { tempDir } from '../helpers/config';
import { MockKafka } from '../helpers/kafka';
import { REPO_ROOT, startProxyProcess } from '../helpers/proxy';
import { eventually } from '../helpers/wait';

const CLIENTS = 40;
const BODY_BYTES = 1024 * 1024;
/** The Python SDK's proxyTimeout. */
const CALL_TIMEOUT_MS = 1000;
const HUNG_MS = 40_000;
const PEAK_RSS_BOUND_MIB = 256;
/** A call not answered this long after its timeout counts as never answered. */
const ANSWER_GRACE_MS = 5000;

/** The shipped carrera.yaml with a Kafka cluster added and a topic on it; every setting but the ports and folders left at its shipped value. */
function shippedConfigWithKafka(dir: string, bootstraps: string[], topic: string): string {
  const config = YAML.parse(fs.readFileSync(path.join(REPO_ROOT, 'carrera.yaml'), 'utf8')) as Record<string, any>;
  Object.assign(config, { port: 0, adminPort: 0, dataDir: path.join(dir, 'data'), logDir: path.join(dir, 'logs'), logLevel: 'warn' });
  const pproxy = config['pproxy'];
  pproxy.brokerClusters.push('K1');
  pproxy.topics.push(topic);
  Object.assign(pproxy.carreraConfiguration, { useKafka: true, kafkaConfigurationMap: { K1: { bootstrapServers: bootstraps } } });
  config['defaultTopicInfoConf'].topics.push({ topic, autoBatch: true, topicUnits: [{ brokerCluster: 'K1', maxTps: 1024, totalMaxTps: 1024 }] });
  const file = path.join(dir, 'carrera.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}

/** One connection issuing one call at a time, each answered or given up on after its timeout and a grace. */
class Caller {
  private readonly socket: net.Socket;
  private seqid = SEQID_MIN;
  private waiting: ((outcome: Outcome) => void) | undefined;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    const reader = new FrameReader((buf, start, end) => this.waiting?.(parseReply(buf, start, end).outcome));
    this.socket.on('data', (chunk: Buffer) => reader.feed(chunk));
    this.socket.on('error', () => this.waiting?.('connection error'));
    this.socket.on('close', () => this.waiting?.('connection closed'));
  }

  call(template: CallTemplate, timeoutMs: number): Promise<Outcome> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.waiting?.('not answered'), timeoutMs + ANSWER_GRACE_MS);
      this.waiting = (outcome) => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve(outcome);
      };
      this.socket.write(callHead(template, this.seqid++));
      this.socket.write(template.tail);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

test('a hung broker under 40 clients of 1 MiB calls: every call answered, peak RSS bounded, service back after it thaws', { timeout: 120_000 }, async (t) => {
  const mock = await MockKafka.start(t);
  await mock.createTopic('hung', 4);
  const proxy = await startProxyProcess(t, shippedConfigWithKafka(tempDir(t), mock.bootstraps, 'hung'));
  const pid = proxy.proc.pid!;
  const oneMiB = encodeCall({ topic: 'hung', bodyBytes: BODY_BYTES, batch: 1, timeoutMs: CALL_TIMEOUT_MS });
  const callers = Array.from({ length: CLIENTS }, () => new Caller(proxy.port));
  t.after(() => callers.forEach((c) => c.close()));
  assert.equal(await callers[0]!.call(oneMiB, CALL_TIMEOUT_MS), 0, 'the broker stores before it hangs');
  const rssBefore = peakRssOf(pid);

  await mock.pause();
  const outcomes = new Map<Outcome, number>();
  let overBound = false;
  const hungUntil = Date.now() + HUNG_MS;
  const watch = setInterval(() => (overBound ||= peakRssOf(pid) > PEAK_RSS_BOUND_MIB), 200);
  t.after(() => clearInterval(watch));
  await Promise.all(
    callers.map(async (caller) => {
      // a proxy past the bound is failing already: stop feeding it
      while (Date.now() < hungUntil && !overBound) {
        const outcome = await caller.call(oneMiB, CALL_TIMEOUT_MS);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    }),
  );
  clearInterval(watch);
  const peak = peakRssOf(pid);
  const calls = [...outcomes.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(`${calls} calls while hung: ${JSON.stringify(Object.fromEntries(outcomes))}; peak RSS ${peak.toFixed(0)} MiB (${rssBefore.toFixed(0)} before the hang)`);
  assert.ok(peak <= PEAK_RSS_BOUND_MIB, `peak RSS ${peak.toFixed(0)} MiB, bound ${PEAK_RSS_BOUND_MIB} MiB`);
  assert.deepEqual([...outcomes.keys()], [12], 'every call answered, with 12');
  assert.ok(calls >= CLIENTS * (HUNG_MS / CALL_TIMEOUT_MS) * 0.5, `${calls} calls: each client kept sending`);

  mock.resume();
  await eventually(async () => ((await callers[0]!.call(oneMiB, 5000)) === 0 ? true : undefined), 60_000, 'a call stored after the broker thawed');
  const after = await Promise.all(callers.map((c) => c.call(oneMiB, 5000)));
  assert.deepEqual([...new Set(after)], [0], 'every client is served again');
});
