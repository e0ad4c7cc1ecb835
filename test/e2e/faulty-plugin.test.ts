/**
 * A storage plugin built to break the send contract, one way per topic, loaded by the proxy
 * process beside the local storage: every request is answered (10, or 12 at its deadline), by
 * sendSync, sendBatchSync and auto-batching alike; the process stays up and keeps serving the other
 * topics; each violation is logged with the plugin's name, a line per second at most.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ProducerClient } from '../../src/client/producer-client';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { memoryPluginSource, writePlugin } from '../helpers/plugin-files';
import { startProxyProcess } from '../helpers/proxy';
import { storedMessages } from '../helpers/storage';

/** What the faulty storage's send does, by topic, and the code its callers get. */
const FAULTS = {
  throws: `throw new Error('send threw')`,
  rejects: `return Promise.reject(new Error('send rejected'))`,
  short: `return Promise.resolve([])`,
  extra: `return Promise.resolve([...messages, ...messages].map(() => ({ ok: true, partition: 0, offset: 0n })))`,
  malformed: `return Promise.resolve(messages.map(() => ({ ok: 'yes' })))`,
  unknownCode: `return Promise.resolve(messages.map(() => ({ ok: false, error: { code: 'ON_FIRE', message: 'x', retriable: 'maybe' } })))`,
  notArray: `return Promise.resolve({ outcomes: [] })`,
  hangs: `return new Promise(() => undefined)`,
} as const;
/** Too many outcomes: the extras are dropped, the messages' own are kept. A send never answered: 12 at the deadline. */
const EXPECTED: Record<string, number> = { extra: 0, hangs: 12 };

const faultyCreate = `(config, context) => ({
  cluster: context.cluster,
  kind: 'faulty',
  maxMessageSize: undefined,
  async start() {},
  send(messages) {
    switch (messages[0].topic.replace(/_batched$/, '')) {
${Object.entries(FAULTS).map(([topic, body]) => `      case '${topic}': ${body};`).join('\n')}
    }
    return Promise.resolve(messages.map(() => ({ ok: true, partition: 0, offset: 0n })));
  },
  async close() {},
})`;

test('a plugin that breaks the send contract gets every request answered, and the proxy keeps serving', { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t);
  const pluginFile = writePlugin(dir, 'plugins/faulty.js', memoryPluginSource({ kind: "'faulty'", create: faultyCreate }));
  const faulty = Object.keys(FAULTS);
  const config = localConfig({
    pluginClusters: { faultyConfigurationMap: { F1: {} } },
    topics: [
      ...faulty.map((topic) => ({ topic, clusters: ['F1'] })),
      ...faulty.map((topic) => ({ topic: `${topic}_batched`, clusters: ['F1'], autoBatch: true })),
      { topic: 'test', clusters: ['L_local'] },
    ],
    carreraConfiguration: { useAutoBatch: true },
    extra: { logLevel: 'warn' },
  });
  const proxy = await startProxyProcess(t, writeConfig(dir, config));
  // a sendBatchSync is answered within 10 s: the client waits longer than that
  const client = await ProducerClient.connect('127.0.0.1', proxy.port, { callTimeoutMs: 20_000 });
  t.after(() => client.close());

  for (const topic of faulty) {
    const expected = EXPECTED[topic] ?? 10;
    for (const name of [topic, `${topic}_batched`]) {
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => client.sendSync({ topic: name, body: `m${i}` }, 1500)));
      assert.deepEqual(answers.map((a) => a.code), [expected, expected, expected, expected, expected], `${name}: ${JSON.stringify(answers)}`);
    }
    const batch = await client.sendBatchSync([{ topic, body: 'b1' }, { topic, body: 'b2' }]);
    assert.equal(batch.code, topic === 'hangs' ? 12 : expected, `${topic} batch: ${JSON.stringify(batch)}`);
    assert.equal((await client.sendSync({ topic: 'test', body: `after ${topic}` }, 2000)).code, 0, `local storage still serves after ${topic}`);
  }
  assert.equal(proxy.proc.exitCode, null, proxy.output());
  const stored = (await storedMessages(path.join(dir, 'data'), 'test')).map((m) => m.body.toString());
  assert.deepEqual(stored.sort(), faulty.map((topic) => `after ${topic}`).sort());
  const warnings = proxy.output().split('\n').filter((line) => line.includes(pluginFile));
  assert.ok(warnings.length > 0, proxy.output());
  assert.ok(warnings.length <= 3 * faulty.length * 2, `throttled: ${warnings.length} lines`);
});
