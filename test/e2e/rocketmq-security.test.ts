/**
 * RocketMQ 5 over TLS with signed requests, against the real Apache RocketMQ 5.3.3 started with ACL
 * 2.0 authentication and TLS only on its proxy, the certificate made here with openssl: the stock
 * Thrift client -> the proxy process -> the RocketMQ proxy, every message read back with RocketMQ's
 * own consumer. A wrong secret key, an unknown access key and a certificate that does not verify
 * answer at once, with one log line a second naming the cluster and the cause; a plaintext channel
 * to the TLS-only proxy fails as an unreachable one does. The secret key, given as ${env:..} and
 * ${file:..}, is in no log line, not on /status and in no answer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { scratchDir } from '../../bench/peers/scope';
import { ProducerClient } from '../../src/client/producer-client';
import { ResultCode } from '../../src/protocol/result-codes';
import { assertRefusalsLogged, assertShownNowhere, sendRefused } from '../helpers/broker-refusals';
import { issueServer, makeCa } from '../helpers/certificates';
import { localConfig, writeConfig } from '../helpers/config';
import { freePort } from '../helpers/ports';
import { fileScope } from '../helpers/processes';
import { startProxyProcess } from '../helpers/proxy';
import { RocketMqServer } from '../helpers/rocketmq-server';

const shared = fileScope();
const dir = scratchDir(shared, 'pproxy-rmq-sec-');
const ACCESS_KEY = 'pproxy-test';
const SECRET_KEY = `sk${randomBytes(12).toString('hex')}`;
const WRONG_SECRET_KEY = `wrong${randomBytes(12).toString('hex')}`;
const SECRET_ENV = 'PPROXY_TEST_RMQ_SECRET_KEY';
const secretFile = path.join(dir, 'rmq-secret-key');
fs.writeFileSync(secretFile, `${SECRET_KEY}\n`);

const CLUSTERS = ['R_TLS', 'R_SERVERNAME', 'R_BADKEY', 'R_NOUSER', 'R_BADCA', 'R_PLAINTEXT'] as const;
type Cluster = (typeof CLUSTERS)[number];

/** Cluster -> its settings besides namesrvAddrs; each cluster has a topic of its own. */
function clusters(caFile: string, otherCaFile: string): Record<Cluster, Record<string, unknown>> {
  const fromEnv = { accessKey: ACCESS_KEY, secretKey: `\${env:${SECRET_ENV}}` };
  const fromFile = { accessKey: ACCESS_KEY, secretKey: `\${file:${secretFile}}` };
  return {
    R_TLS: { ssl: { ca: caFile }, credentials: fromEnv },
    // the certificate's name given rather than taken from the address (127.0.0.1)
    R_SERVERNAME: { ssl: { ca: caFile, servername: 'localhost' }, credentials: fromFile },
    R_BADKEY: { ssl: { ca: caFile }, credentials: { accessKey: ACCESS_KEY, secretKey: WRONG_SECRET_KEY } },
    R_NOUSER: { ssl: { ca: caFile }, credentials: { accessKey: 'nobody', secretKey: `\${env:${SECRET_ENV}}` } },
    R_BADCA: { ssl: { ca: otherCaFile }, credentials: fromEnv },
    R_PLAINTEXT: { credentials: fromFile },
  };
}

const topicOf = (cluster: string) => `sec_${cluster.toLowerCase()}`;

const setup = (async () => {
  const ca = makeCa(dir, 'test-ca');
  const otherCa = makeCa(dir, 'other-ca');
  const certificate = issueServer(ca, 'rocketmq-proxy');
  const topics = Object.fromEntries(CLUSTERS.map((cluster) => [topicOf(cluster), 'NORMAL' as const]));
  const server = await RocketMqServer.start(shared, topics, {
    user: { accessKey: ACCESS_KEY, secretKey: SECRET_KEY },
    tls: { certFile: certificate.cert, keyFile: certificate.key, caFile: ca.cert },
  });
  return { server, ca, otherCa };
})();
shared.hold(setup.catch(() => undefined));

test('RocketMQ 5 over TLS with signed requests: sends stored, refusals answered at once and logged once a second, the secret key shown nowhere', { timeout: 300_000 }, async (t) => {
  const { server, ca, otherCa } = await setup;
  const rmqClusters = clusters(ca.cert, otherCa.cert);
  const adminPort = await freePort();
  const config = localConfig({
    clusters: {},
    rocketmqClusters: Object.fromEntries(
      CLUSTERS.map((cluster) => [cluster, { namesrvAddrs: [server.address], protocol: 'grpc', sendMsgTimeout: 5000, ...rmqClusters[cluster] }]),
    ),
    carreraConfiguration: { useRocketmq: true, rocketmqProducers: 1 },
    topics: CLUSTERS.map((cluster) => ({ topic: topicOf(cluster), clusters: [cluster] })),
    extra: { adminPort, logLevel: 'info' },
  });
  process.env[SECRET_ENV] = SECRET_KEY;
  const started = Date.now();
  // the refused clusters' warm-up must not hold the start up
  const proxy = await startProxyProcess(t, writeConfig(dir, config));
  t.diagnostic(`proxy listening after ${Date.now() - started} ms`);
  const client = await ProducerClient.connect('127.0.0.1', proxy.port);
  t.after(() => client.close());
  const answers: string[] = [];

  for (const cluster of ['R_TLS', 'R_SERVERNAME']) {
    const topic = topicOf(cluster);
    for (let i = 0; i < 3; i++) {
      const r = await client.sendSync({ topic, body: `${cluster}-${i}` }, 15_000);
      answers.push(JSON.stringify(r));
      assert.equal(r.code, ResultCode.OK, `${cluster} message ${i}: ${JSON.stringify(r)}`);
    }
    const batch = await client.sendBatchSync(Array.from({ length: 10 }, (_, i) => ({ topic, body: `${cluster}-batch-${i}` })));
    answers.push(JSON.stringify(batch));
    assert.equal(batch.code, ResultCode.OK, `${cluster} sendBatchSync: ${JSON.stringify(batch)}`);
    const expected = [...[0, 1, 2].map((i) => `${cluster}-${i}`), ...Array.from({ length: 10 }, (_, i) => `${cluster}-batch-${i}`)];
    const stored = (await server.readAll(topic, expected.length)).map((m) => m.body.toString());
    assert.deepEqual(stored.sort(), expected.sort(), `${cluster}: each message in the topic once`);
  }

  // refused: not retriable, so answered at once, not held until the client's timeout
  for (const cluster of ['R_BADKEY', 'R_NOUSER', 'R_BADCA']) {
    const slowestMs = await sendRefused(client, topicOf(cluster), answers);
    t.diagnostic(`${cluster}: 5 sends answered ${ResultCode.FAIL_UNKNOWN}, the slowest in ${slowestMs} ms`);
  }
  // plaintext to a TLS-only port: the proxy closes the connection, as an unreachable one is closed,
  // so it is retried like an outage and answered by the client's deadline, not stored
  const plainSentAt = Date.now();
  const plain = await client.sendSync({ topic: topicOf('R_PLAINTEXT'), body: 'plaintext' }, 4000);
  const plainTookMs = Date.now() - plainSentAt;
  answers.push(JSON.stringify(plain));
  assert.ok(plain.code === ResultCode.FAIL_UNKNOWN || plain.code === ResultCode.FAIL_TIMEOUT, `R_PLAINTEXT: ${JSON.stringify(plain)}`);
  assert.ok(plainTookMs < 6000, `R_PLAINTEXT: answered in ${plainTookMs} ms`);
  t.diagnostic(`plaintext to the TLS-only port: ${JSON.stringify(plain)} after ${plainTookMs} ms`);

  const status = await (await fetch(`http://127.0.0.1:${adminPort}/status`)).text();
  const lines = proxy.output().split('\n');
  const ofCluster = (cluster: string) => lines.filter((line) => line.includes(`"cluster":"${cluster}"`));
  const causes = [
    ['R_BADKEY', /40100 check signature failed/],
    ['R_NOUSER', /40100 User:nobody is not found/],
    ['R_BADCA', /unable to verify the first certificate/],
  ] as const;
  for (const [cluster, cause] of causes) {
    t.diagnostic(`${cluster}, the first line: ${assertRefusalsLogged(proxy.output(), cluster, cause, started)}`);
  }
  // the Telemetry stream is signed as the calls are: refused with the wrong key, accepted with the right one
  assert.match(ofCluster('R_BADKEY').find((line) => line.includes('telemetry stream refused')) ?? 'none', /check signature failed/);
  for (const cluster of ['R_TLS', 'R_SERVERNAME']) {
    assert.deepEqual(ofCluster(cluster).filter((line) => /refused|failed/.test(line)), [], `${cluster}: no refusal`);
  }
  t.diagnostic(`R_PLAINTEXT: ${ofCluster('R_PLAINTEXT').find((line) => /telemetry|refused|failed/.test(line)) ?? 'no line'}`);
  assert.ok(status.includes('R_TLS'), '/status lists the clusters');
  assertShownNowhere([SECRET_KEY, WRONG_SECRET_KEY], { output: proxy.output(), status, answers });
});
