/**
 * Delay messages end to end in local mode, where pproxy plays Chronos' part: delivered to their
 * topic at their trigger time with `from_chronos`, looped, cancelled, kept across a restart.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { ProducerClient } from '../../src/client/producer-client';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { freePort } from '../helpers/ports';
import { CLI_JS, REPO_ROOT, startProxy } from '../helpers/proxy';
import { run } from '../helpers/run';
import { storedMessages } from '../helpers/storage';
import { eventually } from '../helpers/wait';

const TOPICS = [{ topic: 'orders', delayTopic: true }, { topic: 'R_test_chronos_inner_0' }];
const nextSecond = () => Math.ceil(Date.now() / 1000);

test('a message delayed by 2 s arrives after 2 s, not before, with from_chronos', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(t, { topics: TOPICS });
  const client = await proxy.client();
  const trigger = nextSecond() + 2;
  const r = await client.sendDelaySync({ topic: 'orders', action: 1, body: 'later', tags: 'T', timestamp: BigInt(trigger), dmsgtype: 2, uuid: randomUUID(), properties: { traceId: 'd1' } });
  assert.equal(r.code, 0);
  assert.equal((await storedMessages(proxy.dataDir, 'orders')).length, 0, 'not delivered at once');
  const arrivedAt = await eventually(async () => ((await storedMessages(proxy.dataDir, 'orders')).length > 0 ? Date.now() : undefined), 6000, 'the delivery');
  assert.ok(arrivedAt >= trigger * 1000, `not before its trigger time (${arrivedAt - trigger * 1000} ms)`);
  assert.ok(arrivedAt < trigger * 1000 + 1000, `within 1 s of it (${arrivedAt - trigger * 1000} ms)`);
  const [m] = await storedMessages(proxy.dataDir, 'orders');
  assert.deepEqual([m!.body.toString(), m!.tags, m!.key], ['later', 'T', r.uniqDelayMsgId]);
  assert.deepEqual(m!.properties, new Map([['traceId', 'd1'], ['from_chronos', 'from_chronos']]));
});

test('a loop delay with interval 3 and times 3 arrives 3 times; a cancelled one never arrives', { timeout: 40_000 }, async (t) => {
  const proxy = await startProxy(t, { topics: TOPICS });
  const client = await proxy.client();
  const start = nextSecond() + 1;
  const loop = await client.sendDelaySync({ topic: 'orders', action: 1, body: 'tick', timestamp: BigInt(start), dmsgtype: 3, interval: 3n, times: 3n, expire: BigInt(start + 100), uuid: randomUUID() });
  const doomed = await client.sendDelaySync({ topic: 'orders', action: 1, body: 'never', timestamp: BigInt(start + 2), dmsgtype: 2, uuid: randomUUID() });
  assert.deepEqual([loop.code, doomed.code], [0, 0]);
  assert.equal((await client.sendDelaySync({ topic: 'orders', action: 2, body: 'c', uniqDelayMsgId: doomed.uniqDelayMsgId })).code, 0);
  await eventually(async () => ((await storedMessages(proxy.dataDir, 'orders')).length >= 3 ? true : undefined), 15_000, 'three deliveries');
  await new Promise((r) => setTimeout(r, 3500)); // a 4th would be due by now
  const bodies = (await storedMessages(proxy.dataDir, 'orders')).map((m) => m.body.toString());
  assert.deepEqual(bodies, ['tick', 'tick', 'tick']);
});

test('a pending delay message survives control.sh stop and start and still arrives', { timeout: 60_000 }, async (t) => {
  // registered before the temp dir's removal (after-hooks run in order): stop needs its pid file
  let control: (...args: string[]) => ReturnType<typeof run> = async () => ({ status: 0, stdout: '', stderr: '' });
  t.after(() => control('stop'));
  const dir = tempDir(t);
  const port = await freePort();
  const config = writeConfig(dir, localConfig({ port, topics: TOPICS }));
  const env = { ...process.env, PPROXY_RUN_DIR: path.join(dir, 'run'), PPROXY_LOG_DIR: path.join(dir, 'logs') };
  control = (...args: string[]) => run(path.join(REPO_ROOT, 'control.sh'), args, { env, timeoutMs: 60_000 });
  assert.equal((await control('start', config)).status, 0);
  const client = await ProducerClient.connect('127.0.0.1', port);
  const trigger = nextSecond() + 4;
  assert.equal((await client.sendDelaySync({ topic: 'orders', action: 1, body: 'survivor', timestamp: BigInt(trigger), dmsgtype: 2, uuid: randomUUID() })).code, 0);
  client.close();
  // stopped while the message is pending; once started again, it may be due at once (a slow start)
  const stopped = await control('stop');
  assert.equal(stopped.status, 0, stopped.stdout);
  assert.ok(Date.now() < trigger * 1000, 'stopped before the trigger time');
  const dataDir = path.join(dir, 'data');
  assert.equal((await storedMessages(dataDir, 'orders')).length, 0, 'not delivered before the stop');
  const started = await control('start', config);
  assert.equal(started.status, 0, started.stdout);
  const bodies = await eventually(async () => {
    const stored = await storedMessages(dataDir, 'orders');
    return stored.length > 0 ? stored.map((m) => m.body.toString()) : undefined;
  }, 10_000, 'the delivery after the restart');
  assert.deepEqual(bodies, ['survivor']);
  assert.ok(Date.now() >= trigger * 1000);
  assert.equal((await control('stop')).status, 0);
});

test('the CLI schedules a delay message and cancels it', { timeout: 30_000 }, async (t) => {
  const proxy = await startProxy(t, { topics: TOPICS });
  const cli = (...args: string[]) => run(process.execPath, [CLI_JS, 'delay', ...args, '-p', String(proxy.port)]);
  const added = await cli('add', '-t', 'orders', '-b', 'from the cli', '--in', '30');
  assert.equal(added.status, 0, added.stdout + added.stderr);
  const id = /^0 OK "OK" id=(\S+)$/m.exec(added.stdout)?.[1];
  assert.match(id ?? '', /^\d{10}-2-\d{10}-0-0-0-0-[0-9a-f-]{36}$/);
  const cancelled = await cli('cancel', '-t', 'orders', '--id', id!);
  assert.equal(cancelled.status, 0, cancelled.stdout);
  assert.match(cancelled.stdout, /^0 OK "OK" id=/m);
  const refused = await cli('add', '-t', 'orders', '-b', 'x', '--type', '3', '--interval', '1', '--times', '2', '--in', '5');
  assert.equal(refused.status, 1);
  assert.match(refused.stdout, /^37 FAIL_ILLEGAL_DELAY_LOOP_INTERVAL/m);
});
