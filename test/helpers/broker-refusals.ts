/**
 * What the security tests check of a cluster whose broker refuses the proxy (credentials, a
 * certificate): every send answered 10 at once, not at its deadline; one log line a second naming
 * the cluster and the cause; and the secrets of every cluster in no log line, not on /status, in no
 * answer.
 */
import assert from 'node:assert/strict';
import type { ProducerClient } from '../../src/client/producer-client';
import { ResultCode } from '../../src/protocol/result-codes';

/** The storages' throttled line for a refused connection or request. */
const REFUSAL = /refused the (connection|request): authentication/;

/**
 * `sends` sendSyncs to `topic`, each answered FAIL_UNKNOWN (DDMQ has no code of its own for a
 * broker that refuses the proxy) in under 3 s; every answer is added to `answers`. The slowest, ms.
 */
export async function sendRefused(client: ProducerClient, topic: string, answers: string[], sends = 5): Promise<number> {
  let slowestMs = 0;
  for (let i = 0; i < sends; i++) {
    const sentAt = Date.now();
    const r = await client.sendSync({ topic, body: `${topic}-${i}` }, 10_000);
    const tookMs = Date.now() - sentAt;
    answers.push(JSON.stringify(r));
    assert.equal(r.code, ResultCode.FAIL_UNKNOWN, `${topic}: ${JSON.stringify(r)}`);
    assert.ok(tookMs < 3000, `${topic}: answered in ${tookMs} ms`);
    slowestMs = Math.max(slowestMs, tookMs);
  }
  return slowestMs;
}

/**
 * The cluster's refusal lines in `output` since the proxy started at `startedAt`: at least one, the
 * first matching `cause`, and at most one a second (the first at once, the rest counted into the
 * next). The first line.
 */
export function assertRefusalsLogged(output: string, cluster: string, cause: RegExp, startedAt: number): string {
  const logged = output.split('\n').filter((line) => REFUSAL.test(line) && line.includes(`"cluster":"${cluster}"`));
  const seconds = Math.ceil((Date.now() - startedAt) / 1000);
  assert.ok(logged.length >= 1 && logged.length <= seconds + 1, `${cluster}: ${logged.length} lines in ${seconds} s:\n${logged.join('\n')}`);
  assert.match(logged[0]!, cause);
  return logged[0]!;
}

/** None of `secrets` in the proxy's log, its /status page or any answer, which must not be empty. */
export function assertShownNowhere(secrets: readonly string[], seen: { output: string; status: string; answers: readonly string[] }): void {
  assert.ok(seen.output.length > 0 && seen.status.length > 0 && seen.answers.length > 0, 'the log, /status and answers were there to search');
  for (const secret of secrets) {
    assert.ok(!seen.output.includes(secret), 'no log line holds a secret');
    assert.ok(!seen.status.includes(secret), '/status holds no secret');
    assert.ok(!seen.answers.some((answer) => answer.includes(secret)), 'no answer holds a secret');
  }
}
