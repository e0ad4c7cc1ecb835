/**
 * Cross-language wire check: Apache Thrift's Python library (Debian python3-thrift), with stubs
 * generated from idl/producer.thrift by the Thrift compiler, gets the same answers as the Node client.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DelaySpec, MessageSpec, ProducerClient } from '../../src/client/producer-client';
import { generatePythonStubs, PYTHON, PYTHON_CLIENT } from '../helpers/python-thrift';
import { startProxy } from '../helpers/proxy';
import { run } from '../helpers/run';
import { storedMessages } from '../helpers/storage';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));

type Case =
  | { method: 'sendSync' | 'sendAsync'; message: MessageSpec }
  | { method: 'sendBatchSync'; messages: MessageSpec[] }
  | { method: 'sendDelaySync'; message: DelaySpec }
  | { method: 'sendNotifySync' };

const CASES: Case[] = [
  { method: 'sendSync', message: { topic: 'test', body: ALL_BYTES, key: 'py-key', tags: 'tag', hashId: -(2n ** 63n), properties: { traceId: 'tr' } } },
  { method: 'sendAsync', message: { topic: 'test', body: 'async', partitionId: 3 } },
  { method: 'sendSync', message: { topic: 'carrera_heartbeat' } },
  { method: 'sendSync', message: { topic: 'unknown', body: 'x' } },
  { method: 'sendSync', message: { topic: 'test', body: 'x', properties: { KEYS: 'reserved' } } },
  { method: 'sendSync', message: { topic: 'test', value: 'legacy-value', partitionId: 2 } },
  { method: 'sendSync', message: { topic: 'test', body: 'x', key: 'k'.repeat(256) } },
  { method: 'sendBatchSync', messages: [] },
  { method: 'sendBatchSync', messages: [{ topic: 'test', body: 'b1', partitionId: 1 }, { topic: 'test', body: 'b2', partitionId: 1 }] },
  { method: 'sendBatchSync', messages: [{ topic: 'test', body: 'b3' }, { topic: 'test', body: '' }] },
  { method: 'sendDelaySync', message: { topic: 'test', action: 1, body: 'd', timestamp: 1_900_000_000n, dmsgtype: 2, uuid: 'u' } },
  { method: 'sendDelaySync', message: { topic: 'nope', action: 2, body: 'c' } },
  { method: 'sendNotifySync' },
];

test('the Python Thrift client and the Node client get identical answers', async (t) => {
  const stubs = generatePythonStubs(t);
  const proxy = await startProxy(t);
  const node = await proxy.client();
  const nodeResults = [];
  for (const c of CASES) nodeResults.push(await callNode(node, c));
  const python = await run(PYTHON, [PYTHON_CLIENT, stubs, '127.0.0.1', String(proxy.port)], {
    input: JSON.stringify(CASES.map(toJson)),
  });
  assert.equal(python.status, 0, `python client failed:\n${python.stderr}`);
  const pythonResults = JSON.parse(python.stdout) as unknown[];
  assert.deepEqual(pythonResults, nodeResults);
  // The answers are the expected ones, not merely equal.
  assert.deepEqual(
    pythonResults.map((r) => (r as { code?: number; exception?: number }).code ?? `exception ${(r as { exception: number }).exception}`),
    [0, 0, 0, 13, 11, 0, 11, 0, 0, 11, 18, 13, 'exception 1'],
  );
  // The Python client's binary body and 64-bit hashId arrived exactly (-2^63 -> partition 0 of 4).
  const fromPython = (await storedMessages(proxy.dataDir, 'test')).filter((m) => m.key === 'py-key');
  assert.equal(fromPython.length, 2, 'stored once by each client');
  for (const m of fromPython) {
    assert.deepEqual(m.body, ALL_BYTES);
    assert.equal(m.partition, 0);
    assert.deepEqual(m.properties, new Map([['traceId', 'tr']]));
  }
});


async function callNode(client: ProducerClient, c: Case): Promise<unknown> {
  switch (c.method) {
    case 'sendSync':
      return plain(await client.sendSync(c.message));
    case 'sendAsync':
      return plain(await client.sendAsync(c.message));
    case 'sendBatchSync':
      return plain(await client.sendBatchSync(c.messages));
    case 'sendDelaySync': {
      const r = await client.sendDelaySync(c.message);
      return { code: r.code, msg: r.msg, uniqDelayMsgId: r.uniqDelayMsgId };
    }
    case 'sendNotifySync':
      // The generated Node client cannot call a method the IDL lacks; the proxy's answer is fixed.
      return { exception: 1, message: "Invalid method name: 'sendNotifySync'" };
  }
}

function plain(r: { code: number; msg: string; key?: string | undefined }) {
  return r.key === undefined || r.key === null ? { code: r.code, msg: r.msg } : { code: r.code, msg: r.msg, key: r.key };
}

/** Cases as JSON for the Python side: bodies base64, 64-bit integers as decimal strings. */
function toJson(c: Case): unknown {
  const convert = (m: MessageSpec | DelaySpec) =>
    Object.fromEntries(
      Object.entries(m).map(([k, v]) => {
        if (k === 'body') return [k, (Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8')).toString('base64')];
        return [k, typeof v === 'bigint' ? v.toString() : v];
      }),
    );
  if (c.method === 'sendBatchSync') return { method: c.method, messages: c.messages.map(convert) };
  if (c.method === 'sendNotifySync') return c;
  return { method: c.method, message: convert(c.message) };
}
