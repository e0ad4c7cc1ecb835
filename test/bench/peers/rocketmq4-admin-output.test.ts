/**
 * The mqadmin output parsers on what RocketMQ 4.9.7's tool printed against a two-broker cluster
 * (test/fixtures/rocketmq4/mqadmin/), and their refusal of anything that departs from it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseMessagesOfQueue, parseSendMessage, parseTopicRoute, parseTopicStatus, parseUpdateTopic } from '../../../bench/peers/rocketmq4-admin-output';
import { REPO_ROOT } from '../../../bench/peers/peer-jars';

const fixture = (name: string) => fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/rocketmq4/mqadmin', name), 'utf8');
const unexpected = (what: string) => new RegExp(`unexpected mqadmin ${what} output`);

test('topicRoute: brokers with their bare-integer-keyed addresses, queues, and the order config', () => {
  const plain = parseTopicRoute(fixture('topicRoute-plain.txt'));
  assert.deepEqual(plain.brokers, [
    { name: 'broker-b', cluster: 'DefaultCluster', addresses: { 0: '127.0.0.1:23511' } },
    { name: 'broker-a', cluster: 'DefaultCluster', addresses: { 0: '127.0.0.1:23959' } },
  ]);
  assert.deepEqual(plain.queues, [
    { brokerName: 'broker-b', readQueueNums: 2, writeQueueNums: 2, perm: 6 },
    { brokerName: 'broker-a', readQueueNums: 2, writeQueueNums: 2, perm: 6 },
  ]);
  assert.equal(plain.orderTopicConf, undefined);
  assert.equal(parseTopicRoute(fixture('topicRoute-ordered.txt')).orderTopicConf, 'broker-b:2;broker-a:2');
  for (const bad of ['', 'No topic route info in name server for the topic: x\n{}', '{"brokerDatas":[]}', '{"brokerDatas":[],"queueDatas":[', fixture('topicRoute-plain.txt').replace('"queueDatas"', '"queues"')]) {
    assert.throws(() => parseTopicRoute(bad), unexpected('topicRoute'), JSON.stringify(bad.slice(0, 40)));
  }
});

test('topicStatus: every queue with its offsets, with or without a last update time', () => {
  assert.deepEqual(parseTopicStatus(fixture('topicStatus.txt')), [
    { brokerName: 'broker-a', queueId: 0, minOffset: 0, maxOffset: 0 },
    { brokerName: 'broker-a', queueId: 1, minOffset: 0, maxOffset: 2 },
    { brokerName: 'broker-b', queueId: 0, minOffset: 0, maxOffset: 0 },
    { brokerName: 'broker-b', queueId: 1, minOffset: 0, maxOffset: 0 },
  ]);
  const real = fixture('topicStatus.txt');
  for (const bad of ['', real.replace('#QID', '#Queue'), real.replace('broker-a                          1     0', 'broker-a                          1     x'), `${real}broker-c 0 0\n`]) {
    assert.throws(() => parseTopicStatus(bad), unexpected('topicStatus'));
  }
});

test('updateTopic: the broker addresses created on, plain and ordered; anything else refused', () => {
  assert.deepEqual(parseUpdateTopic(fixture('updateTopic.txt'), 'cap-new'), ['127.0.0.1:23511', '127.0.0.1:23959']);
  assert.deepEqual(parseUpdateTopic(fixture('updateTopic-ordered.txt'), 'cap-new-ordered'), ['127.0.0.1:23511', '127.0.0.1:23959']);
  assert.throws(() => parseUpdateTopic(fixture('updateTopic.txt'), 'other-topic'), unexpected('updateTopic'));
  assert.throws(() => parseUpdateTopic(`${fixture('updateTopic.txt')}\ncreate topic to 127.0.0.1:1 failed.\n`, 'cap-new'), unexpected('updateTopic'));
  assert.throws(() => parseUpdateTopic('create topic to 127.0.0.1:23511 success.\n', 'cap-new'), unexpected('updateTopic'));
});

test('sendMessage: the broker, queue and message id of SEND_OK; another status or extra rows refused', () => {
  assert.deepEqual(parseSendMessage(fixture('sendMessage.txt')), { brokerName: 'broker-a', queueId: 1, msgId: 'FD0000000000000000000000000000020BDE4E0E2F2A07D118D70000' });
  const real = fixture('sendMessage.txt');
  for (const bad of ['', real.replace('SEND_OK', 'FLUSH_DISK_TIMEOUT'), `${real}broker-b 0 SEND_OK AB\n`, real.split('\n').slice(1).join('\n')]) {
    assert.throws(() => parseSendMessage(bad), unexpected('sendMessage'));
  }
});

test('printMsgByQueue: a plain and a compressed message, body, tags, keys and properties exact', () => {
  const [plain, compressed, ...rest] = parseMessagesOfQueue(fixture('printMsgByQueue.txt'), 'cap-plain');
  assert.equal(rest.length, 0);
  assert.deepEqual([plain!.queueMinOffset, plain!.queueMaxOffset], [0, 2]);
  const p = plain!.message;
  assert.deepEqual(
    { ...p, body: p.body.toString() },
    {
      brokerName: 'broker-a',
      queueId: 1,
      queueOffset: 0,
      body: 'hello, world',
      tags: 'tagA',
      keys: ['k1'],
      userProperties: {},
      properties: { KEYS: 'k1', UNIQ_KEY: 'FD0000000000000000000000000000020BDE4E0E2F2A07D118D70000', CLUSTER: 'DefaultCluster', TAGS: 'tagA' },
      offsetMsgId: '7F00000100005D970000000000000000',
      storeTimestamp: 1796214344009,
      compressed: false,
    },
  );
  const c = compressed!.message;
  assert.deepEqual([c.queueOffset, c.compressed, c.tags, c.keys, c.body.toString()], [1, true, 'tagB', ['k2'], 'x'.repeat(5000)]);
  assert.deepEqual(parseMessagesOfQueue('', 'cap-plain'), []);
});

test('printMsgByQueue: another topic, a body off its CRC, properties off the stored size, a missing MIN_OFFSET refused', () => {
  const line = fixture('printMsgByQueue.txt').split('\n')[0]!;
  assert.throws(() => parseMessagesOfQueue(line, 'other'), unexpected('printMsgByQueue'));
  assert.throws(() => parseMessagesOfQueue(line.replace('body=[104, 101', 'body=[105, 101'), 'cap-plain'), /does not match the stored CRC/);
  assert.throws(() => parseMessagesOfQueue(line.replace('TAGS=tagA}', 'TAGS=tagAB}'), 'cap-plain'), /properties parsed \(\d+ bytes\) are not the \d+ stored/);
  assert.throws(() => parseMessagesOfQueue(line.replace('storeSize=218', 'storeSize=219'), 'cap-plain'), /are not the \d+ stored/);
  assert.throws(() => parseMessagesOfQueue(line.replace('MIN_OFFSET=0, ', ''), 'cap-plain'), /lacks MIN_OFFSET/);
  assert.throws(() => parseMessagesOfQueue(line.replace(' BODY: NOT PRINT BODY', ''), 'cap-plain'), unexpected('printMsgByQueue'));
});
