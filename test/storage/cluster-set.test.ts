/**
 * How a configuration change swaps storages: started and warmed up before the caller routes to
 * them, the unchanged ones kept, the replaced ones closed only on retire().
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/log';
import { ClusterSet } from '../../src/storage/cluster-set';
import type { ClusterSpec } from '../../src/storage/registry';
import type { ClusterStorage } from '../../src/storage/storage';

class FakeStorage {
  readonly events: string[] = [];
  warmUpDone: Promise<void> = Promise.resolve();
  readonly storage: ClusterStorage;

  constructor(readonly cluster: string) {
    this.storage = {
      cluster,
      kind: 'kafka',
      maxMessageSize: undefined,
      start: async () => void this.events.push('start'),
      warmUp: async (topics: readonly string[]) => {
        this.events.push(`warmUp ${topics.join(',')}`);
        await this.warmUpDone;
        this.events.push('warm');
      },
      send: async () => [],
      close: async () => void this.events.push('close'),
    };
  }
}

function specs(keys: Record<string, string>, made: FakeStorage[]): ClusterSpec[] {
  return Object.entries(keys).map(([name, key]) => ({
    name,
    kind: 'kafka',
    key,
    create: () => {
      const fake = new FakeStorage(name);
      made.push(fake);
      return fake.storage;
    },
  }));
}

const topicsOf = (cluster: string) => (cluster === 'K1' ? ['a', 'b'] : ['c']);

test('storages started by a change are warmed up for their topics before the change is returned', async () => {
  const set = new ClusterSet(silentLogger());
  const made: FakeStorage[] = [];
  await set.apply(specs({ K1: 'v1', K2: 'v1' }, made)); // boot: no warm-up asked
  assert.deepEqual(made.map((f) => f.events), [['start'], ['start']]);

  const change = await set.apply(specs({ K1: 'v2', K2: 'v1', K3: 'v1' }, made), { topicsOf, timeoutMs: 5000 });
  const [, , k1, k3] = made;
  assert.deepEqual(k1!.events, ['start', 'warmUp a,b', 'warm'], 'the replacement of K1');
  assert.deepEqual(k3!.events, ['start', 'warmUp c', 'warm'], 'the added K3');
  assert.equal(made.length, 4, 'K2 unchanged: kept, not recreated');
  assert.equal(change.storages.get('K1'), k1!.storage);
  assert.deepEqual(made[0]!.events, ['start'], 'the old K1 still serves until retire()');
  await change.retire();
  assert.deepEqual(made[0]!.events, ['start', 'close']);
});

test('a warm-up that does not finish delays the change by the timeout, no longer', async () => {
  const set = new ClusterSet(silentLogger());
  const made: FakeStorage[] = [];
  await set.apply(specs({ K1: 'v1' }, made));
  const stuck = specs({ K1: 'v2' }, made);
  const create = stuck[0]!.create;
  stuck[0] = {
    ...stuck[0]!,
    create: () => {
      const storage = create();
      made.at(-1)!.warmUpDone = new Promise(() => undefined); // an unreachable cluster
      return storage;
    },
  };
  const began = Date.now();
  const change = await set.apply(stuck, { topicsOf, timeoutMs: 100 });
  const waited = Date.now() - began;
  assert.ok(waited >= 95 && waited < 1000, `waited ${waited} ms`);
  assert.equal(change.storages.get('K1'), made[1]!.storage, 'routed to the new storage anyway');
  assert.deepEqual(made[1]!.events, ['start', 'warmUp a,b']);
});
