import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ThrottledWarning } from '../src/log';
import { FakeTimers } from './helpers/fake-timers';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

test('a kind of failure is written once per interval, each line with its count, the counts adding up', async () => {
  const timers = new FakeTimers();
  const { logger, lines } = capture('info');
  const warnings = new ThrottledWarning(logger, 1000, timers.now, timers);
  for (let i = 0; i < 500; i++) {
    warnings.warn('append', { attempt: i }, 'append failed');
    if (i % 2 === 0) warnings.warn('open', { attempt: i }, 'open failed');
    await timers.advance(5); // 500 occurrences over 2.5 s
  }
  await timers.advance(1000); // the last interval's summary
  const of = (msg: string) => lines.filter((l) => l['msg'] === msg);
  for (const [msg, occurrences] of [['append failed', 500], ['open failed', 250]] as const) {
    const written = of(msg);
    assert.ok(written.length >= 3 && written.length <= 4, `${written.length} lines of ${msg}`);
    assert.equal(written[0]!['count'], 1);
    assert.equal(written.reduce((sum, l) => sum + (l['count'] as number), 0), occurrences);
  }
  // a summary carries the latest occurrence's fields
  assert.equal(of('append failed').at(-1)!['attempt'], 499);
  // nothing more once the failures stop
  const before = lines.length;
  await timers.advance(5000);
  assert.equal(lines.length, before);
});

test('an error is written as its message at warn; its stack only at debug', () => {
  const timers = new FakeTimers();
  const error = new Error('ENOSPC: no space left on device, write');
  const atInfo = capture('info');
  new ThrottledWarning(atInfo.logger, 1000, timers.now, timers).warn('append', { segment: 's' }, 'append failed', error);
  assert.deepEqual(atInfo.lines.map((l) => [l['level'], l['err'], l['count']]), [[40, error.message, 1]]);
  assert.ok(!JSON.stringify(atInfo.lines).includes('at '), 'no stack frame at info level');

  const atDebug = capture('debug');
  new ThrottledWarning(atDebug.logger, 1000, timers.now, timers).warn('append', { segment: 's' }, 'append failed', error);
  assert.deepEqual(atDebug.lines.map((l) => l['level']), [40, 20]);
  assert.equal((atDebug.lines[1]!['err'] as { stack: string }).stack, error.stack);
});
