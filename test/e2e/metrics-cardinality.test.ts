/**
 * Cardinality is bounded by configuration: clients naming topics at random add no series to
 * /metrics, however many names they use; every such message counts under the one unserved topic.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { callHead, encodeCall, FrameReader, parseReply, SEQID_MIN, type Outcome } from '../../bench/frames';
import { UNSERVED_TOPIC } from '../../src/metrics/proxy-metrics';
import { ResultCode } from '../../src/protocol/result-codes';
import { parseExposition, valueOf } from '../helpers/metrics-exposition';
import { freePort } from '../helpers/ports';
import { startProxy } from '../helpers/proxy';

const SENDS = 100_000;
const CONNECTIONS = 4;
/** Calls written to a connection at once; the proxy reads them as its per-connection limit allows. */
const WRITE_CALLS = 1000;
const TOPIC_HEX_DIGITS = 16;

/**
 * The proxy's own series. The process metrics are left out: their labels (GC kinds, handle types)
 * follow what the runtime does, not what clients send.
 */
function proxySeries(text: string): Set<string> {
  return new Set([...parseExposition(text).keys()].filter((key) => !/^pproxy_(nodejs|process)_/.test(key)));
}

/**
 * `calls` sendSync on one connection, pipelined, each to a topic of its own random name: one
 * encoded call whose topic bytes are overwritten. Resolves with how many answers had each outcome.
 */
async function sendToRandomTopics(t: TestContext, port: number, calls: number): Promise<Map<Outcome, number>> {
  const placeholder = `random-${'0'.repeat(TOPIC_HEX_DIGITS)}`;
  const template = encodeCall({ topic: placeholder, bodyBytes: 1, batch: 1, timeoutMs: 1000 });
  const topicAt = callHead(template, SEQID_MIN).length + template.tail.indexOf(placeholder) + 'random-'.length;
  const socket = net.connect({ port, host: '127.0.0.1' });
  t.after(() => socket.destroy());
  const outcomes = new Map<Outcome, number>();
  let answered = 0;
  const done = new Promise<void>((resolve, reject) => {
    const reader = new FrameReader((buf, start, end) => {
      const { outcome } = parseReply(buf, start, end);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (++answered === calls) resolve();
    });
    socket.on('data', (chunk: Buffer) => reader.feed(chunk));
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed after ${answered} answers`)));
  });
  await new Promise((resolve) => socket.once('connect', resolve));
  for (let sent = 0; sent < calls; sent += WRITE_CALLS) {
    const frames: Buffer[] = [];
    for (let i = sent; i < Math.min(calls, sent + WRITE_CALLS); i++) {
      const frame = Buffer.concat([callHead(template, SEQID_MIN + i), template.tail]);
      frame.write(randomBytes(TOPIC_HEX_DIGITS / 2).toString('hex'), topicAt, 'latin1');
      frames.push(frame);
    }
    if (!socket.write(Buffer.concat(frames))) await new Promise((resolve) => socket.once('drain', resolve));
  }
  await done;
  socket.destroy();
  return outcomes;
}

test(`${SENDS.toLocaleString('en-US')} sendSync to random unknown topics add no series`, { timeout: 120_000 }, async (t) => {
  const proxy = await startProxy(t, { extra: { adminPort: await freePort() } });
  // one of each before the first render: an answer's code makes its series on first use
  const client = await proxy.client();
  assert.equal((await client.sendSync({ topic: 'test', body: 'x' })).code, ResultCode.OK);
  assert.equal((await client.sendSync({ topic: 'an-unknown-topic', body: 'x' })).code, ResultCode.FAIL_TOPIC_NOT_ALLOWED);
  const before = await proxy.app.metrics.render();

  const outcomes = await Promise.all(Array.from({ length: CONNECTIONS }, () => sendToRandomTopics(t, proxy.port, SENDS / CONNECTIONS)));
  for (const answers of outcomes) assert.deepEqual([...answers], [[ResultCode.FAIL_TOPIC_NOT_ALLOWED, SENDS / CONNECTIONS]]);

  const after = await proxy.app.metrics.render();
  assert.deepEqual(proxySeries(after), proxySeries(before));
  const unserved = { method: 'sendSync', topic: UNSERVED_TOPIC };
  const counted = (text: string, name: string, labels: Record<string, string>) => valueOf(parseExposition(text), name, labels);
  assert.equal(counted(after, 'pproxy_messages_received_total', unserved) - counted(before, 'pproxy_messages_received_total', unserved), SENDS);
  assert.equal(
    counted(after, 'pproxy_messages_answered_total', { ...unserved, code: String(ResultCode.FAIL_TOPIC_NOT_ALLOWED) }),
    SENDS + 1,
    'every one answered 13 under the unserved topic',
  );
});
