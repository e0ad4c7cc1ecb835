/**
 * TopicRoutes on a scripted route source and a manual clock: what a name server's answer does to
 * the route held. A found route survives TOPIC_NOT_EXIST and a name server with no broker (both what
 * a name server says while a broker restarts); an unknown topic is held until the next poll; a topic
 * looked up while no broker is registered is a retriable failure, not held.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteLookup } from '../../../src/storage/rocketmq4/remoting/name-server';
import { StorageError } from '../../../src/storage/storage';
import { TopicRoutes, type RouteSource } from '../../../src/storage/rocketmq4/topic-routes';
import { FakeTimers } from '../../helpers/fake-timers';

const POLL_MS = 2000;

const found = (brokerName: string): RouteLookup => ({
  kind: 'found',
  route: { orderTopicConf: undefined, queueDatas: [{ brokerName, readQueueNums: 1, writeQueueNums: 1, perm: 6 }], brokerDatas: [{ cluster: 'c', brokerName, brokerAddrs: { 0: `${brokerName}:10911` } }] },
  queues: [{ brokerName, queueId: 0 }],
});

/** Answers each lookup with the next of `answers` (the last one again once they run out), counting lookups. */
function scripted(...answers: RouteLookup[]): RouteSource & { lookups: number } {
  return {
    lookups: 0,
    topicRoute(): Promise<RouteLookup> {
      return Promise.resolve(answers[Math.min(this.lookups++, answers.length - 1)]!);
    },
  };
}

function routes(source: RouteSource, timers: FakeTimers): TopicRoutes {
  const held = new TopicRoutes(source, timers, POLL_MS, 1000);
  held.start();
  return held;
}

test('a found route is kept when a later poll answers TOPIC_NOT_EXIST or no broker, and replaced by a new one', async (t) => {
  const timers = new FakeTimers();
  const source = scripted(found('broker-a'), { kind: 'topic-not-exist' }, { kind: 'no-broker' }, found('broker-b'));
  const held = routes(source, timers);
  t.after(() => held.stop());
  const first = await held.get('t');
  assert.equal(first.kind, 'found');
  for (const polls of [2, 3]) {
    await timers.advance(POLL_MS);
    assert.equal(source.lookups, polls);
    assert.deepEqual(held.held('t'), first, `after poll ${polls}`);
  }
  await timers.advance(POLL_MS);
  assert.deepEqual(held.held('t'), { kind: 'found', route: { queues: [{ brokerName: 'broker-b', queueId: 0 }], masters: new Map([['broker-b', 'broker-b:10911']]) } });
  assert.deepEqual([...held.masterAddresses()], ['broker-b:10911']);
});

test('an unknown topic is held as such, one lookup per poll, until it is found', async (t) => {
  const timers = new FakeTimers();
  const source = scripted({ kind: 'topic-not-exist' }, found('broker-a'));
  const held = routes(source, timers);
  t.after(() => held.stop());
  assert.deepEqual(await held.get('t'), { kind: 'topic-not-exist' });
  assert.deepEqual(await held.get('t'), { kind: 'topic-not-exist' });
  assert.equal(source.lookups, 1);
  await timers.advance(POLL_MS);
  assert.equal((await held.get('t')).kind, 'found');
});

test('a first lookup while the name server has no broker fails UNAVAILABLE, retriable, and is not held', async (t) => {
  const timers = new FakeTimers();
  const source = scripted({ kind: 'no-broker' }, found('broker-a'));
  const held = routes(source, timers);
  t.after(() => held.stop());
  await assert.rejects(Promise.resolve(held.get('t')), (error: unknown) => error instanceof StorageError && error.code === 'UNAVAILABLE' && error.retriable);
  assert.equal(held.held('t'), undefined);
  assert.equal((await held.get('t')).kind, 'found');
  assert.equal(source.lookups, 2);
});
