/**
 * SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE requests field by field (SendMessageRequestHeaderV2's
 * one-letter names), through the frame codec as a broker decodes them, and the answer's parsing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestCode, ResponseCode } from '../../../src/storage/rocketmq4/remoting/codes';
import { decodeProperties, SYSFLAG_COMPRESSED, UniqIdGenerator } from '../../../src/storage/rocketmq4/remoting/message-codec';
import { command, decodeFrame, encodeCommand, FLAG_RESPONSE, type RemotingCommand } from '../../../src/storage/rocketmq4/remoting/remoting-command';
import { RemotingError } from '../../../src/storage/rocketmq4/remoting/remoting-error';
import { parseSendResponse, sendBatchRequest, sendMessageRequest } from '../../../src/storage/rocketmq4/remoting/send-message';

const NOW = new Date(2026, 11, 2, 12, 0, 0).getTime();
const ids = () => new UniqIdGenerator(Buffer.from([10, 0, 0, 9]), 77, Buffer.from([1, 2, 3, 4]));
const target = { producerGroup: 'pproxy_17000000000000', topic: 'orders', queueId: 3 };
/** Encoded and decoded again, as the broker reads it. */
const onWire = (cmd: RemotingCommand) => decodeFrame(encodeCommand(cmd).subarray(4));

test('SEND_MESSAGE_V2: every header field, the properties string and the body as given', () => {
  const body = Buffer.from('compressed-already');
  const message = { body: Buffer.from('ignored: the wire body is sent'), tags: 'tagA', keys: ['k1'], properties: { color: 'red' }, flag: 9 };
  const { request, uniqIds } = sendMessageRequest(target, message, { body, sysFlag: SYSFLAG_COMPRESSED }, ids(), NOW);
  const cmd = onWire(request);
  assert.equal(cmd.code, RequestCode.SEND_MESSAGE_V2);
  assert.equal(uniqIds.length, 1);
  assert.match(uniqIds[0]!, /^0A000009004D01020304[0-9A-F]{12}$/);
  assert.deepEqual(cmd.extFields, {
    a: 'pproxy_17000000000000',
    b: 'orders',
    c: 'TBW102',
    d: '4',
    e: '3',
    f: '1',
    g: String(NOW),
    h: '9',
    i: `TAGS\u0001tagA\u0002KEYS\u0001k1\u0002WAIT\u0001true\u0002color\u0001red\u0002UNIQ_KEY\u0001${uniqIds[0]}`,
    j: '0',
    k: 'false',
    m: 'false',
  });
  assert.deepEqual(cmd.body, body);
});

test('SEND_MESSAGE_V2 without tags, keys or flag: WAIT and UNIQ_KEY only, flag 0, sysFlag 0', () => {
  const { request, uniqIds } = sendMessageRequest(target, { body: Buffer.from('b') }, { body: Buffer.from('b'), sysFlag: 0 }, ids(), NOW);
  const ext = onWire(request).extFields;
  assert.deepEqual([ext.f, ext.h], ['0', '0']);
  assert.deepEqual(decodeProperties(ext.i!), { WAIT: 'true', UNIQ_KEY: uniqIds[0] });
});

test('SEND_BATCH_MESSAGE: batch header (sysFlag 0, flag 0, WAIT only, m=true), each message\'s properties in the body', () => {
  const messages = [
    { body: Buffer.from('first'), tags: 't1', keys: ['a', 'b'] },
    { body: Buffer.from('second'), properties: { p: 'q' }, flag: 4 },
  ];
  const { request, uniqIds } = sendBatchRequest(target, messages, ids(), NOW);
  const cmd = onWire(request);
  assert.equal(cmd.code, RequestCode.SEND_BATCH_MESSAGE);
  assert.deepEqual(cmd.extFields, { a: target.producerGroup, b: 'orders', c: 'TBW102', d: '4', e: '3', f: '0', g: String(NOW), h: '0', i: 'WAIT\u0001true', j: '0', k: 'false', m: 'true' });
  assert.equal(uniqIds.length, 2);
  assert.notEqual(uniqIds[0], uniqIds[1]);
  const body = cmd.body!;
  const decoded: { flag: number; body: string; properties: Record<string, string> }[] = [];
  for (let at = 0; at < body.length; ) {
    const size = body.readInt32BE(at);
    const flag = body.readInt32BE(at + 12);
    const bodyLength = body.readInt32BE(at + 16);
    const text = body.toString('utf8', at + 20, at + 20 + bodyLength);
    const propertiesLength = body.readInt16BE(at + 20 + bodyLength);
    const properties = decodeProperties(body.toString('utf8', at + 22 + bodyLength, at + 22 + bodyLength + propertiesLength));
    decoded.push({ flag, body: text, properties });
    at += size;
  }
  assert.deepEqual(decoded, [
    { flag: 0, body: 'first', properties: { TAGS: 't1', KEYS: 'a b', WAIT: 'true', UNIQ_KEY: uniqIds[0]! } },
    { flag: 4, body: 'second', properties: { WAIT: 'true', p: 'q', UNIQ_KEY: uniqIds[1]! } },
  ]);
  assert.throws(() => sendBatchRequest(target, [], ids(), NOW), /empty batch/);
});

function response(code: number, extFields: Record<string, string>, remark?: string): RemotingCommand {
  return onWire({ ...command(code, extFields), flag: FLAG_RESPONSE, remark });
}

test('parseSendResponse: SUCCESS and the not-flushed or not-replicated codes are stored, with their fields', () => {
  const fields = { msgId: '0A00000900002A9F0000000000001234', queueId: '3', queueOffset: '9007199254740991' };
  for (const code of [ResponseCode.SUCCESS, ResponseCode.FLUSH_DISK_TIMEOUT, ResponseCode.FLUSH_SLAVE_TIMEOUT, ResponseCode.SLAVE_NOT_AVAILABLE]) {
    assert.deepEqual(parseSendResponse(response(code, fields), ['U']), {
      code,
      remark: undefined,
      stored: true,
      msgId: fields.msgId,
      queueId: 3,
      queueOffset: 9007199254740991,
      uniqIds: ['U'],
    });
  }
  for (const code of [ResponseCode.SYSTEM_ERROR, ResponseCode.SYSTEM_BUSY, ResponseCode.MESSAGE_ILLEGAL, ResponseCode.TOPIC_NOT_EXIST, ResponseCode.SERVICE_NOT_AVAILABLE, ResponseCode.NO_PERMISSION]) {
    const outcome = parseSendResponse(response(code, {}, 'refused'), []);
    assert.deepEqual([outcome.stored, outcome.code, outcome.remark, outcome.queueId, outcome.queueOffset, outcome.msgId], [false, code, 'refused', undefined, undefined, undefined]);
  }
});

test('parseSendResponse: a queueId or queueOffset that is no safe integer is a protocol error', () => {
  for (const [name, value] of [['queueId', 'x'], ['queueId', '1.5'], ['queueOffset', '9007199254740993'], ['queueOffset', ''], ['queueOffset', 'NaN'], ['queueOffset', ' 1'], ['queueId', '0x10'], ['queueOffset', '1e3']] as const) {
    assert.throws(
      () => parseSendResponse(response(ResponseCode.SUCCESS, { queueId: '0', queueOffset: '0', [name]: value }), []),
      (e) => e instanceof RemotingError && e.kind === 'protocol' && e.message.includes(name),
      `${name}=${value}`,
    );
  }
});
