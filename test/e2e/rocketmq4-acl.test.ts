/**
 * RocketMQ 4 with ACL: the real Apache RocketMQ 4.9.7, two brokers with aclEnable and a
 * plain_acl.yml, the stock Thrift client -> the proxy process -> the brokers over remoting. With the
 * right credentials (the secret key from ${env:..}, a security token from ${file:..}) sendSync,
 * sendBatchSync and auto-batched sendSync store every message once, read back with mqadmin signing as
 * the admin account. A topic the account may not publish to, a wrong secret key and an unknown access
 * key are answered 10 at once, not retried on the other broker, with one log line a second naming the
 * broker's reason. The secret key and the token are in no log line, not on /status and in no answer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { RocketMq4Cluster } from '../../bench/peers/rocketmq4-server';
import { scratchDir } from '../../bench/peers/scope';
import { ProducerClient } from '../../src/client/producer-client';
import { ResultCode } from '../../src/protocol/result-codes';
import { assertRefusalsLogged, assertShownNowhere, sendRefused } from '../helpers/broker-refusals';
import { localConfig, writeConfig } from '../helpers/config';
import { freePort } from '../helpers/ports';
import { fileScope } from '../helpers/processes';
import { startProxyProcess, type ChildProxy } from '../helpers/proxy';
import { storedByBody } from '../helpers/rocketmq4-zk-proxy';
import { sumOf } from '../helpers/metrics-exposition';

const shared = fileScope();
const dir = scratchDir(shared, 'pproxy-rmq4-acl-');
const ACCESS_KEY = 'pproxy-producer';
const SECRET_KEY = `sk${randomBytes(12).toString('hex')}`;
const WRONG_SECRET_KEY = `wrong${randomBytes(12).toString('hex')}`;
const SECURITY_TOKEN = `tok${randomBytes(12).toString('hex')}`;
const SECRET_ENV = 'PPROXY_TEST_RMQ4_SECRET_KEY';
const tokenFile = path.join(dir, 'rmq4-token');
fs.writeFileSync(tokenFile, `${SECURITY_TOKEN}\n`);

const TOPICS = { ok: 'rmq4-acl-ok', batch: 'rmq4-acl-batch', denied: 'rmq4-acl-denied', badSecret: 'rmq4-acl-bad-secret', unknownKey: 'rmq4-acl-unknown-key' } as const;
/** A first write to a topic on a loaded machine can take a while; these checks are about what is stored. */
const TIMEOUT_MS = 10_000;
/** What "at once" means on a shared 2-core machine: far below the 10 s timeout and sendMsgTimeout. */

let cluster: RocketMq4Cluster;
let proxy: ChildProxy;
let client: ProducerClient;
let adminPort: number;
const answers: string[] = [];
let started: number;

before(async () => {
  cluster = await RocketMq4Cluster.start(shared, {
    brokers: 2,
    topics: Object.fromEntries(Object.values(TOPICS).map((topic) => [topic, { queues: 2 }])),
    acl: {
      admin: { accessKey: 'rmq-admin', secretKey: `admin${randomBytes(8).toString('hex')}` },
      accounts: [{ accessKey: ACCESS_KEY, secretKey: SECRET_KEY, defaultTopicPerm: 'PUB', topicPerms: { [TOPICS.denied]: 'DENY' } }],
    },
  });
  // retries on: an ACL refusal must not be sent on to the other broker anyway
  const common = { namesrvAddrs: [cluster.namesrvAddress], protocol: 'remoting', retryTimesWhenSendFailed: 2 };
  const rocketmqClusters = {
    R_ACL: { ...common, credentials: { accessKey: ACCESS_KEY, secretKey: `\${env:${SECRET_ENV}}`, securityToken: `\${file:${tokenFile}}` } },
    R_BAD_SECRET: { ...common, credentials: { accessKey: ACCESS_KEY, secretKey: WRONG_SECRET_KEY } },
    R_UNKNOWN_KEY: { ...common, credentials: { accessKey: 'nobody-at-all', secretKey: `\${env:${SECRET_ENV}}` } },
  };
  adminPort = await freePort();
  const config = localConfig({
    clusters: {},
    rocketmqClusters,
    carreraConfiguration: { useRocketmq: true, rocketmqProducers: 2 },
    topics: [
      { topic: TOPICS.ok, clusters: ['R_ACL'] },
      { topic: TOPICS.batch, clusters: ['R_ACL'], autoBatch: true },
      { topic: TOPICS.denied, clusters: ['R_ACL'] },
      { topic: TOPICS.badSecret, clusters: ['R_BAD_SECRET'] },
      { topic: TOPICS.unknownKey, clusters: ['R_UNKNOWN_KEY'] },
    ],
    extra: { adminPort, logLevel: 'info' },
  });
  process.env[SECRET_ENV] = SECRET_KEY;
  started = Date.now();
  proxy = await startProxyProcess(shared, writeConfig(dir, config));
  client = await ProducerClient.connect('127.0.0.1', proxy.port);
  shared.after(() => client.close());
}, { timeout: 300_000 });

/** A storage metric's value for a cluster, summed over the series whose labels include `labels`. */
async function metric(name: string, clusterName: string, labels: Record<string, string> = {}): Promise<number> {
  const exposition = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return sumOf(exposition, `pproxy_storage_rocketmq_${name}`, { cluster: clusterName, ...labels });
}

const aclLines = (clusterName: string) =>
  proxy
    .output()
    .split('\n')
    .filter((line) => line.includes('refused the request: authentication or permission failed') && line.includes(`"cluster":"${clusterName}"`));

test('right credentials: sendSync, sendBatchSync and auto-batched sendSync calls stored, each once', { timeout: 180_000 }, async (t) => {
  for (let i = 0; i < 10; i++) {
    const r = await client.sendSync({ topic: TOPICS.ok, body: `ok:${i}`, partitionId: i, tags: 'T', key: `k${i}` }, TIMEOUT_MS);
    answers.push(JSON.stringify(r));
    assert.equal(r.code, ResultCode.OK, `ok:${i}: ${JSON.stringify(r)}`);
  }
  // a body over compressMsgBodyOverHowmuch: the signature covers the compressed body as sent
  const big = 'z'.repeat(10_000);
  const rBig = await client.sendSync({ topic: TOPICS.ok, body: big, partitionId: 1 }, TIMEOUT_MS);
  assert.equal(rBig.code, ResultCode.OK, JSON.stringify(rBig));
  const batch = Array.from({ length: 20 }, (_, i) => ({ topic: TOPICS.batch, body: `batch:${i}`, partitionId: i % 4, properties: { i: String(i) } }));
  const rBatch = await client.sendBatchSync(batch);
  answers.push(JSON.stringify(rBatch));
  assert.equal(rBatch.code, ResultCode.OK, JSON.stringify(rBatch));
  const singles = await Promise.all(Array.from({ length: 100 }, (_, i) => client.sendSync({ topic: TOPICS.batch, body: `single:${i}`, partitionId: -1, hashId: BigInt(i) }, TIMEOUT_MS)));
  answers.push(...singles.map((s) => JSON.stringify(s)));
  assert.deepEqual([...new Set(singles.map((s) => s.code))], [ResultCode.OK], JSON.stringify(singles.find((s) => s.code !== ResultCode.OK)));
  const batches = await metric('broker_requests_total', 'R_ACL', { request: 'batch', result: 'ok' });
  t.diagnostic(`R_ACL: ${batches} SEND_BATCH_MESSAGE requests stored`);
  assert.ok(batches >= 4, `the batch and the auto-batched singles went as SEND_BATCH_MESSAGE (${batches})`);

  const ok = await storedByBody(cluster, TOPICS.ok);
  assert.deepEqual([...ok.keys()].sort(), [...Array.from({ length: 10 }, (_, i) => `ok:${i}`), big].sort());
  assert.equal(ok.get('ok:3')!.tags, 'T');
  assert.deepEqual(ok.get('ok:3')!.keys, ['k3']);
  assert.ok(ok.get(big)!.compressed, 'the large body went compressed');
  const stored = await storedByBody(cluster, TOPICS.batch);
  assert.deepEqual(
    [...stored.keys()].sort(),
    [...batch.map((m) => m.body), ...Array.from({ length: 100 }, (_, i) => `single:${i}`)].sort(),
  );
  assert.deepEqual(stored.get('batch:7')!.userProperties, { i: '7' });
  assert.equal(aclLines('R_ACL').length, 0, 'no refusal logged for the right credentials');
});

test('a topic the account may not publish to: SEND_MESSAGE_V2 refused with 10 at once; 4.9.7 does not check a batch', { timeout: 120_000 }, async (t) => {
  t.diagnostic(`denied: the slowest of 3 answered in ${await sendRefused(client, TOPICS.denied, answers, 3)} ms`);
  assertRefusalsLogged(proxy.output(), 'R_ACL', /AclException: No default permission for .*rmq4-acl-denied/, started);
  // the broker's PlainAccessValidator checks PUB on SEND_MESSAGE and SEND_MESSAGE_V2 only: a
  // SEND_BATCH_MESSAGE passes on its signature alone, and is stored
  const r = await client.sendBatchSync([0, 1].map((i) => ({ topic: TOPICS.denied, body: `denied-batch:${i}`, partitionId: 0 })));
  assert.equal(r.code, ResultCode.OK, JSON.stringify(r));
  assert.deepEqual([...(await storedByBody(cluster, TOPICS.denied)).keys()].sort(), ['denied-batch:0', 'denied-batch:1']);
});

test('a wrong secret key and an unknown access key: 10 within a few seconds, no retry, one log line a second with the cause', { timeout: 120_000 }, async (t) => {
  for (const [topic, clusterName] of [[TOPICS.badSecret, 'R_BAD_SECRET'], [TOPICS.unknownKey, 'R_UNKNOWN_KEY']] as const) {
    t.diagnostic(`${clusterName}: the slowest of 5 answered in ${await sendRefused(client, topic, answers)} ms`);
    // one request per message: refused by the first broker, not sent to the other (retryTimesWhenSendFailed 2)
    assert.equal(await metric('broker_requests_total', clusterName, { request: 'send', result: 'refused' }), 5, `${clusterName}: refused requests`);
    assert.equal(await metric('send_retries_total', clusterName), 0, `${clusterName}: no retries`);
  }
  for (const [clusterName, cause] of [['R_BAD_SECRET', /AclException: Check signature failed for accessKey=pproxy-producer/], ['R_UNKNOWN_KEY', /AclException: No acl config for nobody-at-all/]] as const) {
    t.diagnostic(`${clusterName}, the first line: ${assertRefusalsLogged(proxy.output(), clusterName, cause, started)}`);
  }
  assert.equal((await storedByBody(cluster, TOPICS.badSecret)).size + (await storedByBody(cluster, TOPICS.unknownKey)).size, 0, 'nothing stored');
});

test('the secret key and the security token are in no log line, not on /status and in no answer', async () => {
  const status = await (await fetch(`http://127.0.0.1:${adminPort}/status`)).text();
  assert.ok(answers.length > 100 && status.includes('R_BAD_SECRET'), 'the earlier tests answered, and /status lists the clusters');
  assertShownNowhere([SECRET_KEY, WRONG_SECRET_KEY, SECURITY_TOKEN], { output: proxy.output(), status, answers });
});
