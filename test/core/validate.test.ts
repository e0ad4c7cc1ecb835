/**
 * Validation decided by Java's string rules, over real Thrift calls to a running proxy, on the
 * sendSync, sendAsync, sendBatchSync and sendDelaySync paths: a property name or value is blank
 * when Java's trim() leaves nothing of it, lengths count UTF-16 code units, a cancel id must be the
 * whole id.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { DelaySpec, MessageSpec, ProducerClient } from '../../src/client/producer-client';
import { ResultCode } from '../../src/protocol/result-codes';
import { EDGE_CHARACTERS, hex, javaTrimRemoves } from '../helpers/java-rules';
import { startProxy } from '../helpers/proxy';

const UUID = '14f22520-ad72-11e7-91be-6ee54da579e3';
const now = () => Math.floor(Date.now() / 1000);

async function proxyClient(t: TestContext): Promise<ProducerClient> {
  const proxy = await startProxy(t, { topics: [{ topic: 'test' }, { topic: 'orders', delayTopic: true }, { topic: 'R_test_chronos_inner_0' }] });
  return proxy.client();
}

const delayAdd = (over: Partial<DelaySpec>): DelaySpec => ({
  topic: 'orders', action: 1, body: 'b', timestamp: BigInt(now() + 60), dmsgtype: 2, uuid: UUID, ...over,
});

/** The code each path answers for one message shape; sendDelaySync carries its tags and properties (it has no key). */
async function codes(client: ProducerClient, spec: MessageSpec): Promise<Record<string, number>> {
  const answers: Record<string, number> = {
    sendSync: (await client.sendSync(spec)).code,
    sendAsync: (await client.sendAsync(spec)).code,
    sendBatchSync: (await client.sendBatchSync([spec])).code,
  };
  if (spec.key === undefined) answers['sendDelaySync'] = (await client.sendDelaySync(delayAdd({ tags: spec.tags, properties: spec.properties }))).code;
  return answers;
}

const everywhere = (code: number, delay = true) => ({ sendSync: code, sendAsync: code, sendBatchSync: code, ...(delay && { sendDelaySync: code }) });

test("a property name or value is blank exactly when Java's trim() leaves nothing of it", { timeout: 60_000 }, async (t) => {
  const client = await proxyClient(t);
  for (const c of EDGE_CHARACTERS) {
    const ch = String.fromCharCode(c);
    const expected = everywhere(javaTrimRemoves(c) ? ResultCode.FAIL_ILLEGAL_MSG : ResultCode.OK);
    assert.deepEqual(await codes(client, { topic: 'test', body: 'x', properties: { p: ch } }), expected, `value ${hex(c)}`);
    assert.deepEqual(await codes(client, { topic: 'test', body: 'x', properties: { [ch]: 'v' } }), expected, `name ${hex(c)}`);
    assert.deepEqual(await codes(client, { topic: 'test', body: 'x', properties: { p: ` ${ch} ` } }), expected, `value " ${hex(c)} "`);
  }
});

test("key and tags are limited to 255 UTF-16 code units, as Java's String.length() counts", { timeout: 30_000 }, async (t) => {
  const client = await proxyClient(t);
  const pair = '😀'; // one character, two code units
  assert.deepEqual(await codes(client, { topic: 'test', body: 'x', key: 'k'.repeat(253) + pair }), everywhere(ResultCode.OK, false));
  assert.deepEqual(await codes(client, { topic: 'test', body: 'x', key: 'k'.repeat(254) + pair }), everywhere(ResultCode.FAIL_ILLEGAL_MSG, false));
  assert.deepEqual(await codes(client, { topic: 'test', body: 'x', tags: 't'.repeat(253) + pair }), everywhere(ResultCode.OK));
  assert.deepEqual(await codes(client, { topic: 'test', body: 'x', tags: 't'.repeat(254) + pair }), everywhere(ResultCode.FAIL_ILLEGAL_MSG));
});

test('a delay id longer than the key limit is refused as DDMQ refuses the inner message: 11', { timeout: 30_000 }, async (t) => {
  const client = await proxyClient(t);
  const ts = BigInt(now() + 60);
  const prefixLength = `${ts}-2-${ts + 172800n}-0-0-0-0-`.length;
  const fits = 'u'.repeat(255 - prefixLength - 2) + '😀';
  const ok = await client.sendDelaySync(delayAdd({ timestamp: ts, uuid: fits }));
  assert.deepEqual([ok.code, ok.uniqDelayMsgId.length], [ResultCode.OK, 255]);
  const tooLong = await client.sendDelaySync(delayAdd({ timestamp: ts, uuid: `${fits}u` }));
  assert.deepEqual([tooLong.code, tooLong.uniqDelayMsgId], [ResultCode.FAIL_ILLEGAL_MSG, '']);
});

test('a cancel id followed by a line terminator, or blank in any way, is not an id: 30', { timeout: 30_000 }, async (t) => {
  const client = await proxyClient(t);
  const ts = BigInt(now() + 60);
  const id = `${ts}-2-${ts + 172800n}-0-0-0-0-${UUID}`;
  const cancel = (uniqDelayMsgId: string) => client.sendDelaySync({ topic: 'orders', action: 2, body: 'c', uniqDelayMsgId });
  assert.equal((await cancel(id)).code, ResultCode.OK);
  for (const bad of [`${id}\n`, `${id}\r\n`, `${id}\u2028`, `\n${id}`, ' ', '\u3000', '\u0001']) {
    const r = await cancel(bad);
    assert.deepEqual([r.code, r.uniqDelayMsgId], [ResultCode.FAIL_ILLEGAL_UNIQ_DELAY_MSG_ID, bad], JSON.stringify(bad));
  }
});
