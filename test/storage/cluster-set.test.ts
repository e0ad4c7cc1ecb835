/**
 * How a configuration change swaps storages: started and warmed up before the caller routes to
 * them, the unchanged ones kept, the replaced ones closed only on retire(), a changed local cluster
 * closed and reopened only after the others are ready.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/log';
import { ClusterSet } from '../../src/storage/cluster-set';
import type { ClusterSpec } from '../../src/storage/storage-registry';
import type { ClusterStorage } from '../../src/storage/storage';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Fake storages that write what happens to them, in order, to one shared log. */
class Fakes {
  readonly log: string[] = [];
  readonly made: ClusterStorage[] = [];
  /** How each new storage's warm-up behaves, by cluster name. */
  warmUpOf: (cluster: string) => Promise<void> = () => Promise.resolve();

  specs(keys: Record<string, string>, kind: (name: string) => string = (name) => (name.startsWith('L') ? 'local' : 'kafka')): ClusterSpec[] {
    return Object.entries(keys).map(([name, key]) => ({ name, kind: kind(name), key, exclusive: kind(name) === 'local', create: () => this.create(name, kind(name), key) }));
  }

  private create(cluster: string, kind: string, key: string): ClusterStorage {
    const id = `${cluster}@${key}`;
    const storage: ClusterStorage = {
      cluster,
      kind,
      maxMessageSize: undefined,
      start: async () => void this.log.push(`start ${id}`),
      send: async () => [],
      close: async () => void this.log.push(`close ${id}`),
      ...(kind !== 'local' && {
        warmUp: async (topics: readonly string[]) => {
          this.log.push(`warmUp ${id} ${topics.join(',')}`);
          await this.warmUpOf(cluster);
          this.log.push(`warm ${id}`);
        },
      }),
    };
    this.made.push(storage);
    return storage;
  }
}

const topicsOf = (cluster: string) => (cluster === 'K1' ? ['a', 'b'] : ['c']);

test('storages started by a change are warmed up for their topics before the change is returned', async () => {
  const fakes = new Fakes();
  const set = new ClusterSet(silentLogger());
  await set.apply(fakes.specs({ K1: 'v1', K2: 'v1' })); // boot: no warm-up asked
  assert.deepEqual(fakes.log, ['start K1@v1', 'start K2@v1']);

  fakes.log.length = 0;
  fakes.warmUpOf = () => delay(50);
  const change = await set.apply(fakes.specs({ K1: 'v2', K2: 'v1', K3: 'v1' }), { topicsOf, timeoutMs: 5000 });
  assert.deepEqual(fakes.log, ['start K1@v2', 'start K3@v1', 'warmUp K1@v2 a,b', 'warmUp K3@v1 c', 'warm K1@v2', 'warm K3@v1']);
  assert.equal(fakes.made.length, 4, 'K2 unchanged: kept, not recreated');
  assert.deepEqual([...change.storages.keys()], ['K1', 'K2', 'K3']);
  assert.equal(change.storages.get('K1'), fakes.made[2]);
  await change.retire();
  assert.deepEqual(fakes.log.slice(6), ['close K1@v1'], 'the old K1 served until retire()');
});

test('a warm-up that does not finish, or fails, delays the change by the timeout at most', async () => {
  const fakes = new Fakes();
  const set = new ClusterSet(silentLogger());
  await set.apply(fakes.specs({ K1: 'v1', K2: 'v1' }));
  fakes.warmUpOf = (cluster) => (cluster === 'K1' ? new Promise(() => undefined) : Promise.reject(new Error('unreachable')));
  const began = Date.now();
  const change = await set.apply(fakes.specs({ K1: 'v2', K2: 'v2' }), { topicsOf, timeoutMs: 100 });
  const waited = Date.now() - began;
  assert.ok(waited >= 95 && waited < 1000, `waited ${waited} ms`);
  assert.equal(change.storages.get('K1'), fakes.made[2], 'routed to the new storages anyway');
  assert.equal(change.storages.get('K2'), fakes.made[3]);
});

test('a changed local cluster is closed and reopened only once the other clusters are warm', async () => {
  const fakes = new Fakes();
  const set = new ClusterSet(silentLogger());
  await set.apply(fakes.specs({ L1: 'v1', K1: 'v1' }));
  fakes.log.length = 0;
  fakes.warmUpOf = () => delay(100);
  const change = await set.apply(fakes.specs({ L1: 'v2', K1: 'v2' }), { topicsOf, timeoutMs: 5000 });
  assert.deepEqual(fakes.log, ['start K1@v2', 'warmUp K1@v2 a,b', 'warm K1@v2', 'close L1@v1', 'start L1@v2']);
  assert.deepEqual([...change.storages.keys()], ['L1', 'K1'], 'in configuration order');
});
