/**
 * RocketMQ 5 stopped while it is still starting (the bench interrupted, a test's before() timing
 * out): every JVM already spawned is killed, not only those that reported ready.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import test from 'node:test';
import { RocketMqLocal } from '../../../bench/peers/rocketmq-server';

/** This process's child JVMs whose command line has `main`. */
function childJvms(main: string): number[] {
  return fs.readdirSync('/proc').filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      const ppid = Number(fs.readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]);
      return ppid === process.pid && fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(main);
    } catch {
      return false; // ended meanwhile
    }
  }).map(Number);
}

/** CPU seconds a process has used (user + system). */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat's times. */
const CLOCK_TICKS_PER_SECOND = 100;
const PROXY_CPU_SECONDS = 3;

test('a RocketMQ stopped while its proxy is starting leaves no JVM behind', { timeout: 120_000 }, async (t) => {
  const steps: (() => unknown)[] = [];
  const scope = { after: (step: () => unknown) => void steps.push(step) };
  const endScope = async () => {
    for (const step of steps.splice(0).reverse()) await step();
  };
  t.after(async () => {
    await endScope();
    for (const pid of childJvms('org.apache.rocketmq')) process.kill(pid, 'SIGKILL');
  });
  const starting = RocketMqLocal.start(scope).then(
    () => 'started',
    (err: Error) => err.message,
  );
  // the proxy is spawned once the name server booted, and reports ready some seconds of CPU later;
  // stopped in its first moments it gives up by itself, so the scope ends once it is well under way
  const deadline = Date.now() + 90_000;
  while (!childJvms('ProxyStartup').some((pid) => cpuSeconds(pid) >= PROXY_CPU_SECONDS)) {
    assert.ok(Date.now() < deadline, 'the proxy JVM was not spawned and under way within 90 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await endScope();
  assert.match(await starting, /rocketmq proxy exited/);
  assert.deepEqual(childJvms('org.apache.rocketmq'), []);
});
