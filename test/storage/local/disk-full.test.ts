/**
 * A local storage on a full disk (a 1 MiB tmpfs), behind a proxy in this process: 1,000 sends in
 * 2 s fail, and the log gets a few lines, each with its count, and no stack trace at info level.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { ProxyApp } from '../../../src/app';
import { ProducerClient } from '../../../src/client/producer-client';
import { loadNodeConfiguration } from '../../../src/node-configuration';
import { ResultCode } from '../../../src/protocol/result-codes';
import { localConfig, tempDir, writeConfig } from '../../helpers/config';

const SENDS = 1000;

test('1,000 sends failing on a full disk in 2 s write a few lines, each with its count, no stack at info', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  // not under dir: its removal, an earlier cleanup, would meet the mount
  const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-full-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk]);
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const settings = loadNodeConfiguration(writeConfig(dir, localConfig({ extra: { dataDir: disk } })));
  const app = await ProxyApp.start(settings, logger);
  t.after(async () => {
    await app.stop();
    execFileSync('umount', [disk]);
    fs.rmdirSync(disk);
  });
  const client = await ProducerClient.connect('127.0.0.1', app.address().port);
  t.after(() => client.close());
  assert.throws(() => fs.writeFileSync(path.join(disk, 'filler'), Buffer.alloc(2 * 1024 * 1024)), /ENOSPC/);

  const before = lines.length;
  const calls: Promise<number>[] = [];
  const began = Date.now();
  for (let round = 0; round < SENDS / 10; round++) {
    for (let i = 0; i < 10; i++) calls.push(client.sendSync({ topic: 'test', body: 'x'.repeat(100) }, 100).then((r) => r.code));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, began + (round + 1) * 20 - Date.now())));
  }
  const codes = await Promise.all(calls);
  const sendingMs = Date.now() - began;
  await new Promise((resolve) => setTimeout(resolve, 1100)); // the last interval's summary lines
  const written = lines.slice(before);

  assert.equal(codes.length, SENDS);
  assert.ok(!codes.includes(ResultCode.OK), 'nothing is stored on a full disk');
  const appends = written.filter((l) => l['msg'] === 'local log: append failed');
  const appendFailures = appends.reduce((sum, l) => sum + (l['count'] as number), 0);
  t.diagnostic(`${SENDS} sends in ${sendingMs} ms: ${written.length} lines, ${appends.length} of them for ${appendFailures} failed appends`);
  assert.ok(written.length <= 12, `${written.length} lines:\n${written.map((l) => JSON.stringify(l)).join('\n')}`);
  // one line a second, counting what it stands for (how many appends fail depends on the machine's
  // speed: the 100 ms deadline answers the rest 12 first)
  assert.ok(appends.length >= 1 && appends.length <= Math.ceil((sendingMs + 1100) / 1000) + 1, `${appends.length} append lines in ${sendingMs} ms`);
  assert.ok(appendFailures > appends.length, `${appendFailures} failed appends in ${appends.length} lines`);
  for (const line of written) {
    assert.equal(typeof line['count'], 'number', JSON.stringify(line));
    assert.equal(typeof (line['err'] ?? ''), 'string', 'err is a message, not an error with a stack');
    assert.ok(!JSON.stringify(line).includes('\\n    at '), `a stack trace: ${JSON.stringify(line)}`);
  }
  assert.match(String(appends[0]!['err']), /ENOSPC/);
});
