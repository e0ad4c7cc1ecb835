/**
 * The README's quick start on a copy of the repository: build.sh assembles output/, control.sh
 * starts it on the shipped local-mode config, the CLI sends and tails, and control.sh tells the
 * truth about every state.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/config';
import { REPO_ROOT } from '../helpers/proxy';
import { run, type RunResult } from '../helpers/run';
import { freePort } from '../helpers/ports';

test('build.sh, control.sh start|status|stop|restart, pproxy send and tail', { timeout: 300_000 }, async (t) => {
  // Registered before the copy's own cleanup, so it runs first (after-hooks run in order).
  let controlScript: string | undefined;
  t.after(async () => {
    if (controlScript) await run(controlScript, ['stop'], { timeoutMs: 60_000 });
  });
  const repo = copyRepository(t);
  const build = await run('bash', ['build.sh'], { cwd: repo, timeoutMs: 240_000 });
  assert.equal(build.status, 0, `build.sh failed:\n${build.stdout}\n${build.stderr}`);
  const output = path.join(repo, 'output');
  for (const f of ['control.sh', 'carrera.yaml', 'bin/pproxy', 'bin/pproxy-server', 'dist/src/main.js', 'node_modules/thrift/package.json']) {
    assert.ok(fs.existsSync(path.join(output, f)), `output/${f} exists`);
  }
  assert.ok(!fs.existsSync(path.join(output, 'node_modules/typescript')), 'no dev dependencies in output/');

  // The shipped config with only the ports changed, so the test cannot collide with a running proxy.
  const port = await freePort();
  const adminPort = await freePort();
  const configFile = path.join(output, 'carrera.yaml');
  const shipped = fs.readFileSync(configFile, 'utf8');
  assert.match(shipped, /^adminPort: 9614 /m);
  fs.writeFileSync(configFile, shipped.replace(/^port: 9613$/m, `port: ${port}`).replace(/^adminPort: 9614 /m, `adminPort: ${adminPort} `));
  controlScript = path.join(output, 'control.sh');
  const control = (...args: string[]) => run(controlScript!, args, { timeoutMs: 60_000 });
  const cli = (...args: string[]) => run(path.join(output, 'bin/pproxy'), args, { timeoutMs: 30_000 });

  expectExit(await control('status'), 3, /not running/);
  expectExit(await control('start'), 0, new RegExp(`started \\(pid \\d+\\): .*listening on 127\\.0\\.0\\.1:${port}`));
  expectExit(await control('start'), 1, /already running/);
  const startedPid = fs.readFileSync(path.join(output, 'run/pproxy.pid'), 'utf8').trim();
  const argv = fs.readFileSync(`/proc/${startedPid}/cmdline`, 'utf8').split('\0');
  assert.deepEqual(argv.slice(1, 3), ['--no-allocation-site-pretenuring', path.join(output, 'dist/src/main.js')], 'node runs with the proxy V8 flags');
  const statusLine = new RegExp(`running \\(pid \\d+\\), answering on 127\\.0\\.0\\.1:${port}; 1 topic\\(s\\) from config file; storage plugins: kafka \\S+ \\(built-in\\), rocketmq \\S+ \\(built-in\\), local \\S+ \\(built-in\\)$`, 'm');
  expectExit(await control('status'), 0, statusLine);
  // with the admin port on, status comes from GET /status, not from the status file
  assert.equal((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status, 200);
  fs.rmSync(path.join(output, 'run/pproxy.status'));
  expectExit(await control('status'), 0, statusLine);

  const body = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0x80, 0xc3, 0x28]);
  const bodyFile = path.join(output, 'body.bin');
  fs.writeFileSync(bodyFile, body);
  const sent = await cli('send', '-p', String(port), '-t', 'test', '--body-file', bodyFile, '-k', 'order-42', '--tags', 'TagA', '-P', 'traceId=abc', '-P', 'region=eu', '--partition-id', '2');
  expectExit(sent, 0, /^0 OK "OK"$/m);
  expectExit(await cli('send', '-p', String(port), '-t', 'no_such_topic', '-b', 'x'), 1, /^13 FAIL_TOPIC_NOT_ALLOWED/m);

  const tailed = await cli('tail', '-c', configFile, '-t', 'test', '--partition', '2', '--format', 'json');
  expectExit(tailed, 0, /order-42/);
  const record = JSON.parse(tailed.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.equal(record['key'], 'order-42');
  assert.equal(record['tags'], 'TagA');
  assert.deepEqual(record['properties'], { traceId: 'abc', region: 'eu' });
  assert.deepEqual(Buffer.from(record['body'] as string, 'base64'), body);
  expectExit(await cli('tail', '-c', configFile, '-t', 'test'), 0, /test\/2@0 .* key="order-42" tags="TagA" properties=\{"traceId":"abc","region":"eu"\} body\(base64\)=/);

  expectExit(await control('stop'), 0, /stopped/);
  expectExit(await control('status'), 3, /not running/);
  assert.match(fs.readFileSync(path.join(output, 'logs/pproxy.log'), 'utf8'), /"msg":"pproxy stopped"/);

  // restart from stopped; then a crash leaves a stale pid file, which status reports and start clears
  expectExit(await control('restart'), 0, /started/);
  const pid = Number(fs.readFileSync(path.join(output, 'run/pproxy.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  await waitForExit(pid);
  expectExit(await control('status'), 1, new RegExp(`not running, but .*pproxy\\.pid names pid ${pid}`));
  expectExit(await control('start'), 0, /started/);

  // a proxy that does not stop on SIGTERM (here: frozen) is killed after the timeout, and stop says so
  const frozen = Number(fs.readFileSync(path.join(output, 'run/pproxy.pid'), 'utf8'));
  process.kill(frozen, 'SIGSTOP');
  expectExit(await control('status'), 4, /running \(pid \d+\), but not answering/);
  const killed = await run(controlScript, ['stop'], {
    env: { ...process.env, PPROXY_STOP_TIMEOUT: '1' },
    timeoutMs: 30_000,
  });
  expectExit(killed, 2, /killed with SIGKILL/);
  expectExit(await control('status'), 3, /not running/);
  // the message sent before is still there after all of this
  const again = await cli('tail', '-c', configFile, '-t', 'test', '--partition', '2', '--format', 'json');
  assert.deepEqual(Buffer.from((JSON.parse(again.stdout.trim()) as { body: string }).body, 'base64'), body);
});

function expectExit(r: RunResult, status: number, pattern: RegExp): void {
  assert.equal(r.status, status, `exit status ${r.status}, expected ${status}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, pattern);
}

/** The repository's files as a clean clone has them (tracked, plus new files not ignored). */
function copyRepository(t: import('node:test').TestContext): string {
  const dir = tempDir(t, 'pproxy-clone-');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: REPO_ROOT })
    .toString()
    .split('\0')
    .filter((f) => f && fs.existsSync(path.join(REPO_ROOT, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, f), path.join(dir, f));
    fs.chmodSync(path.join(dir, f), fs.statSync(path.join(REPO_ROOT, f)).mode);
  }
  return dir;
}

/** Waits until pid is gone or a zombie (an orphan may wait for a reaper that never comes). */
async function waitForExit(pid: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    let state: string;
    try {
      state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.charAt(0);
    } catch {
      return;
    }
    if (state === 'Z') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`pid ${pid} did not exit`);
}
