/**
 * sendDelaySync's protocol over a pipeline stand-in: what is refused before anything is sent, what
 * the inner message is, and that only what was stored reaches the local Chronos.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schemas } from '../helpers/schemas';
import { emptyDelayMessage, type DelayMessage } from '../../src/core/message';
import type { PreparedMessage } from '../../src/core/pipeline';
import { buildRoutingTable, type ServedTopic } from '../../src/core/routing-table';
import { DelaySender } from '../../src/delay/delay-sender';
import type { AcceptedDelay } from '../../src/delay/local-chronos';
import { silentLogger } from '../../src/log';
import { ResultCode } from '../../src/protocol/result-codes';
import { StorageDouble } from '../helpers/storage-double';
import { callerOf } from '../../src/security/caller';

/** A plain-TCP client from loopback, as the server hands its connections to the pipeline. */
const ANY_CLIENT = callerOf('127.0.0.1', []);

const INNER = 'R_test_chronos_inner_0';
const NOW_S = 1_763_800_000n;
const UUID = '14f22520-ad72-11e7-91be-6ee54da579e3';

async function setup(keep: (delay: AcceptedDelay) => void | Promise<void> = () => undefined) {
  const pproxy = schemas.strict.pproxyConfig.parse({
    proxyCluster: 'P',
    brokerClusters: ['C'],
    carreraConfiguration: { localConfigurationMap: { C: {} }, delay: { chronosInnerTopicPrefix: 'R_test_chronos_inner_', innerTopicNum: 1 } },
  });
  const topics = [{ topic: 'orders', delayTopic: true }, { topic: INNER }].map((t) => schemas.strict.topicConfig.parse({ ...t, topicUnits: [{ brokerCluster: 'C' }] }));
  const routingTable = await buildRoutingTable(pproxy, topics, new Map([['C', new StorageDouble().storage]]), { instance: 'i', requireBinding: false });
  const sent: { topic: string; message: PreparedMessage; limitedAs: string }[] = [];
  const accepted: AcceptedDelay[] = [];
  const pipeline = {
    routingTable,
    sendPrepared: (topic: ServedTopic, message: PreparedMessage, limitedAs: ServedTopic) => {
      sent.push({ topic: topic.name, message, limitedAs: limitedAs.name });
      return ResultCode.OK;
    },
    unauthorised: () => ResultCode.FAIL_TOPIC_NOT_ALLOWED,
  };
  const sender = new DelaySender(pipeline, silentLogger(), () => Number(NOW_S) * 1000, { accept: (d) => (accepted.push(d), keep(d)) });
  return { sender, sent, accepted };
}

const add = (over: Partial<DelayMessage>): DelayMessage => ({
  ...emptyDelayMessage(),
  topic: 'orders',
  action: 1,
  body: Buffer.from('b'),
  timestamp: NOW_S + 60n,
  dmsgtype: 2,
  times: 0n,
  uuid: UUID,
  ...over,
});

/** A uuid that makes the add's id exactly `length` characters. */
async function uuidFor(length: number, m: DelayMessage): Promise<string> {
  const { sender } = await setup();
  const probe = sender.send({ ...m, uuid: 'u' }, 1000, ANY_CLIENT) as { uniqDelayMsgId: string };
  return 'u'.repeat(length - probe.uniqDelayMsgId.length + 1);
}

test('an add whose id would be over 255 characters is refused with 11, and nothing is sent or kept', async () => {
  const { sender, sent, accepted } = await setup();
  const reply = sender.send(add({ uuid: 'x'.repeat(300) }), 1000, ANY_CLIENT);
  assert.deepEqual(reply, { code: ResultCode.FAIL_ILLEGAL_MSG, uniqDelayMsgId: '' });
  assert.deepEqual([sent.length, accepted.length], [0, 0]);

  const longest = add({ uuid: await uuidFor(255, add({})) });
  const ok = sender.send(longest, 1000, ANY_CLIENT) as { code: ResultCode; uniqDelayMsgId: string };
  assert.deepEqual([ok.code, ok.uniqDelayMsgId.length], [ResultCode.OK, 255], 'an id of 255 characters is fine');
  assert.deepEqual([sent.length, accepted.length], [1, 1]);
  assert.deepEqual([sent[0]!.topic, sent[0]!.message.key, sent[0]!.limitedAs], [INNER, ok.uniqDelayMsgId, 'orders']);
});

test("a loop whose later firings' ids would be over 255 characters is refused with 11 at add", async () => {
  const { sender, sent } = await setup();
  // firings 0..9 have ids as long as the add's; firing 10 has a two-digit `timed`
  const loop = (times: bigint) => add({ dmsgtype: 3, times, interval: 3n, expire: NOW_S + 60n + 3600n });
  const uuid = await uuidFor(255, loop(11n));
  assert.equal((sender.send({ ...loop(10n), uuid }, 1000, ANY_CLIENT) as { code: ResultCode }).code, ResultCode.OK);
  const refused = sender.send({ ...loop(11n), uuid }, 1000, ANY_CLIENT);
  assert.deepEqual(refused, { code: ResultCode.FAIL_ILLEGAL_MSG, uniqDelayMsgId: '' });
  // past expire there is no firing 10: the same loop expiring 29 s after its start is fine
  assert.equal((sender.send({ ...loop(11n), uuid, expire: NOW_S + 60n + 29n }, 1000, ANY_CLIENT) as { code: ResultCode }).code, ResultCode.OK);
  assert.equal(sent.length, 2);
});

test('a well-formed cancel id over 255 characters is refused with 11, as DDMQ validates the inner message', async () => {
  const { sender, sent, accepted } = await setup();
  const id = `${NOW_S}-2-${NOW_S + 172_800n}-${'0'.repeat(200)}-0-0-0-${UUID}`;
  const reply = sender.send({ ...emptyDelayMessage(), topic: 'orders', action: 2, body: Buffer.from('c'), uniqDelayMsgId: id }, 1000, ANY_CLIENT);
  assert.deepEqual(reply, { code: ResultCode.FAIL_ILLEGAL_MSG, uniqDelayMsgId: '' });
  assert.deepEqual([sent.length, accepted.length], [0, 0]);
});

test('an add the local Chronos could not journal is answered 10 with no id, not OK and not a dropped connection', async () => {
  const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  const { sender } = await setup(() => Promise.reject(full));
  assert.deepEqual(await sender.send(add({}), 1000, ANY_CLIENT), { code: ResultCode.FAIL_UNKNOWN, uniqDelayMsgId: '' });
  const { sender: kept } = await setup(() => Promise.resolve());
  const ok = await kept.send(add({}), 1000, ANY_CLIENT);
  assert.equal(ok.code, ResultCode.OK);
  assert.notEqual(ok.uniqDelayMsgId, '');
});
