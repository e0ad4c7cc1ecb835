/**
 * Route bodies as real name servers wrote them (test/fixtures/rocketmq4/route-*.json: 4.9.7 to an
 * old client's request version, with fastjson's unquoted integer keys; 4.9.7 and 5.3.3 to ours) and
 * the write-queue order of the 4.x producer.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../../bench/peers/peer-jars';
import { decodeTopicRoute, masterAddress, parseFastjson, writeQueues, type TopicRoute } from '../../../src/storage/rocketmq4/remoting/topic-route';

const fixture = (name: string) => fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/rocketmq4', name));

test('real route bodies, unquoted integer keys included, decode to broker-a master and 4 write queues', () => {
  assert.match(fixture('route-namesrv-4.9.7-old-client.json').toString(), /\{0:"/);
  for (const name of ['route-namesrv-4.9.7-old-client.json', 'route-namesrv-4.9.7.json', 'route-namesrv-5.3.3.json']) {
    const route = decodeTopicRoute(fixture(name));
    assert.match(masterAddress(route, 'broker-a') ?? '', /^127\.0\.0\.1:\d+$/, name);
    assert.deepEqual(writeQueues(route), [0, 1, 2, 3].map((queueId) => ({ brokerName: 'broker-a', queueId })), name);
  }
});

test('parseFastjson quotes integer keys only outside strings', () => {
  assert.deepEqual(parseFastjson('{0:"a", -1 :"b","s":"{1:x,2:y}","l":[1,2],"m":{10:{3:"c"}}}'), { 0: 'a', '-1': 'b', s: '{1:x,2:y}', l: [1, 2], m: { 10: { 3: 'c' } } });
  assert.deepEqual(parseFastjson('{"e":"q\\"{5:","k":{7:"v"}}'), { e: 'q"{5:', k: { 7: 'v' } });
});

test('write queues: QueueDatas sorted by brokerName, skipping no-write and master-less brokers; orderTopicConf wins', () => {
  const route: TopicRoute = {
    orderTopicConf: undefined,
    queueDatas: [
      { brokerName: 'broker-c', readQueueNums: 2, writeQueueNums: 2, perm: 6 },
      { brokerName: 'broker-a', readQueueNums: 3, writeQueueNums: 1, perm: 6 },
      { brokerName: 'broker-b', readQueueNums: 2, writeQueueNums: 2, perm: 4 },
      { brokerName: 'broker-d', readQueueNums: 2, writeQueueNums: 2, perm: 6 },
    ],
    brokerDatas: [
      { cluster: 'c', brokerName: 'broker-a', brokerAddrs: { 0: 'a:1', 1: 'a:2' } },
      { cluster: 'c', brokerName: 'broker-b', brokerAddrs: { 0: 'b:1' } },
      { cluster: 'c', brokerName: 'broker-c', brokerAddrs: { 0: 'c:1' } },
      { cluster: 'c', brokerName: 'broker-d', brokerAddrs: { 1: 'd:2' } },
    ],
  };
  assert.deepEqual(writeQueues(route), [
    { brokerName: 'broker-a', queueId: 0 },
    { brokerName: 'broker-c', queueId: 0 },
    { brokerName: 'broker-c', queueId: 1 },
  ]);
  assert.deepEqual(writeQueues({ ...route, orderTopicConf: 'broker-b:2;broker-a:1' }), [
    { brokerName: 'broker-b', queueId: 0 },
    { brokerName: 'broker-b', queueId: 1 },
    { brokerName: 'broker-a', queueId: 0 },
  ]);
});
