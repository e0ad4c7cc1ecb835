/**
 * Kafka over SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), SASL_SSL and mutual TLS against a
 * real Kafka 4 broker with those listeners, its certificates made here with openssl: the stock Thrift
 * client -> the proxy process -> the broker, every message read back from it. Refused credentials
 * and a certificate that does not verify answer at once, with one log line naming the cluster and
 * the cause, and do not hold up the proxy's start. The password and the client key's passphrase,
 * given as ${env:..} and ${file:..}, are in no log line, not on /status and in no answer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { scratchDir } from '../../bench/peers/scope';
import { ProducerClient } from '../../src/client/producer-client';
import { ResultCode } from '../../src/protocol/result-codes';
import { consumeAll } from '../helpers/kafka';
import { KafkaBroker } from '../helpers/kafka-broker';
import { freePort } from '../helpers/ports';
import { fileScope } from '../helpers/processes';
import { run } from '../helpers/run';
import { startProxyProcess } from '../helpers/proxy';
import { localConfig, writeConfig } from '../helpers/config';
import { encryptKey, issueServer, makeCa } from '../helpers/certificates';
import { assertRefusalsLogged, assertShownNowhere, sendRefused } from '../helpers/broker-refusals';

const shared = fileScope();
const dir = scratchDir(shared, 'pproxy-kafka-sec-');
const USER = 'alice';
const PASSWORD = `pw${randomBytes(12).toString('hex')}`;
const WRONG_PASSWORD = `wrong${randomBytes(12).toString('hex')}`;
const PASSWORD_ENV = 'PPROXY_TEST_KAFKA_PASSWORD';
const passwordFile = path.join(dir, 'kafka-password');
fs.writeFileSync(passwordFile, `${PASSWORD}\n`);

const PASSPHRASE = `key${randomBytes(12).toString('hex')}`;
const PASSPHRASE_ENV = 'PPROXY_TEST_KAFKA_KEY_PASSPHRASE';

const setup = (async () => {
  const ca = makeCa(dir, 'test-ca');
  const otherCa = makeCa(dir, 'other-ca');
  const clientCa = makeCa(dir, 'client-ca');
  const server = issueServer(ca, 'kafka-broker');
  const tls = { certFile: server.cert, keyFile: server.key, clientCaFile: clientCa.cert };
  const broker = await KafkaBroker.start(shared, { version: 4, security: { users: [{ name: USER, password: PASSWORD }], tls } });
  return { broker, ca, otherCa, clientCa };
})();
shared.hold(setup.catch(() => undefined));

/** Topic -> how its cluster reaches the broker. */
function clusters(broker: KafkaBroker, caFile: string, otherCaFile: string): Record<string, Record<string, unknown>> {
  const fromEnv = `\${env:${PASSWORD_ENV}}`;
  const fromFile = `\${file:${passwordFile}}`;
  const common = { retries: 2, retryBackoff: 50, requestTimeout: 5000 };
  const plaintext = { ...common, bootstrapServers: broker.saslPlaintextBootstraps };
  const overTls = (ca: string) => ({ ...common, bootstrapServers: broker.saslSslBootstraps, ssl: { ca } });
  return {
    K_PLAIN: { ...plaintext, sasl: { mechanism: 'plain', username: USER, password: fromEnv } },
    K_SCRAM256: { ...plaintext, sasl: { mechanism: 'scram-sha-256', username: USER, password: fromFile } },
    K_SCRAM512: { ...plaintext, sasl: { mechanism: 'scram-sha-512', username: USER, password: fromEnv } },
    K_SSL: { ...overTls(caFile), sasl: { mechanism: 'scram-sha-512', username: USER, password: fromFile } },
    K_BADPW: { ...plaintext, sasl: { mechanism: 'scram-sha-256', username: USER, password: WRONG_PASSWORD } },
    K_BADCA: { ...overTls(otherCaFile), sasl: { mechanism: 'plain', username: USER, password: fromEnv } },
  };
}

const topicOf = (cluster: string) => `sec_${cluster.toLowerCase()}`;

/**
 * The proxy process serving one topic per cluster of `kafkaClusters` (created on the broker), its
 * configuration in `file`, with a client connected to it.
 */
async function proxyFor(t: TestContext, broker: KafkaBroker, kafkaClusters: Record<string, Record<string, unknown>>, file: string) {
  const names = Object.keys(kafkaClusters);
  for (const cluster of names) await broker.createTopic(topicOf(cluster), 1);
  const adminPort = await freePort();
  const config = localConfig({
    clusters: {},
    kafkaClusters,
    carreraConfiguration: { useKafka: true, kafkaProducers: 1 },
    topics: names.map((cluster) => ({ topic: topicOf(cluster), clusters: [cluster] })),
    extra: { adminPort, logLevel: 'info' },
  });
  const started = Date.now();
  // the refused clusters' warm-up must not hold the start up
  const proxy = await startProxyProcess(t, writeConfig(dir, config, file));
  t.diagnostic(`proxy listening after ${Date.now() - started} ms`);
  const client = await ProducerClient.connect('127.0.0.1', proxy.port);
  t.after(() => client.close());
  const status = async () => (await fetch(`http://127.0.0.1:${adminPort}/status`)).text();
  return { proxy, client, started, status };
}

test('Kafka over SASL and TLS: sends stored, refusals answered at once and logged once, the password shown nowhere', { timeout: 240_000 }, async (t) => {
  const { broker, ca, otherCa } = await setup;
  process.env[PASSWORD_ENV] = PASSWORD;
  const { proxy, client, started, status: statusPage } = await proxyFor(t, broker, clusters(broker, ca.cert, otherCa.cert), 'carrera.yaml');
  const answers: string[] = [];

  for (const cluster of ['K_PLAIN', 'K_SCRAM256', 'K_SCRAM512', 'K_SSL']) {
    for (let i = 0; i < 3; i++) {
      const r = await client.sendSync({ topic: topicOf(cluster), body: `${cluster}-${i}` }, 10_000);
      answers.push(JSON.stringify(r));
      assert.equal(r.code, ResultCode.OK, `${cluster} message ${i}: ${JSON.stringify(r)}`);
    }
    const stored = (await consumeAll(broker.bootstraps, topicOf(cluster))).map((record) => record.value.toString());
    assert.deepEqual(stored, [0, 1, 2].map((i) => `${cluster}-${i}`), `${cluster}: every message in the broker`);
  }
  // and read with the same credentials over the SASL listener, as any Kafka client would
  const kcat = await run('kcat', [
    '-b', broker.saslPlaintextBootstraps[0]!, '-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=PLAIN',
    '-X', `sasl.username=${USER}`, '-X', `sasl.password=${PASSWORD}`, '-C', '-t', topicOf('K_PLAIN'), '-o', 'beginning', '-e', '-q',
  ], { timeoutMs: 30_000 });
  assert.equal(kcat.status, 0, kcat.stderr.slice(-6000));
  assert.deepEqual(kcat.stdout.trim().split('\n'), ['K_PLAIN-0', 'K_PLAIN-1', 'K_PLAIN-2']);

  // refused: not retriable, so answered at once, not held until the client's timeout
  for (const cluster of ['K_BADPW', 'K_BADCA']) await sendRefused(client, topicOf(cluster), answers);
  const status = await statusPage();
  for (const [cluster, cause] of [['K_BADPW', /SASL SCRAM.*authentication failed|Invalid username or password/i], ['K_BADCA', /unable to verify|certificate/i]] as const) {
    t.diagnostic(`${cluster}, the first line: ${assertRefusalsLogged(proxy.output(), cluster, cause, started)}`);
  }
  assert.ok(status.includes('K_PLAIN'), '/status lists the clusters');
  assertShownNowhere([PASSWORD, WRONG_PASSWORD], { output: proxy.output(), status, answers });
});

test('Kafka over mutual TLS: the proxy certificate accepted; a missing or foreign one, and a broker of another name, refused at once; the key passphrase shown nowhere', { timeout: 240_000 }, async (t) => {
  const { broker, ca, otherCa, clientCa } = await setup;
  const ours = clientCa.issue('pproxy-client', 'pproxy');
  const foreign = otherCa.issue('stranger-client', 'stranger');
  const common = { retries: 2, retryBackoff: 50, requestTimeout: 5000, bootstrapServers: broker.mutualTlsBootstraps };
  const kafkaClusters: Record<string, Record<string, unknown>> = {
    K_MTLS: { ...common, ssl: { ca: ca.cert, cert: ours.cert, key: encryptKey(ours, PASSPHRASE), passphrase: `\${env:${PASSPHRASE_ENV}}` } },
    K_MTLS_NOCERT: { ...common, ssl: { ca: ca.cert } },
    K_MTLS_FOREIGN: { ...common, ssl: { ca: ca.cert, cert: foreign.cert, key: foreign.key } },
    // the broker's certificate names localhost and 127.0.0.1, not this
    K_MTLS_WRONGNAME: { ...common, ssl: { ca: ca.cert, cert: ours.cert, key: ours.key, servername: 'kafka.elsewhere.example' } },
  };
  process.env[PASSPHRASE_ENV] = PASSPHRASE;
  const { proxy, client, started, status: statusPage } = await proxyFor(t, broker, kafkaClusters, 'carrera-mtls.yaml');
  const answers: string[] = [];

  for (let i = 0; i < 3; i++) {
    const r = await client.sendSync({ topic: topicOf('K_MTLS'), body: `K_MTLS-${i}` }, 10_000);
    answers.push(JSON.stringify(r));
    assert.equal(r.code, ResultCode.OK, `K_MTLS message ${i}: ${JSON.stringify(r)}`);
  }
  const stored = (await consumeAll(broker.bootstraps, topicOf('K_MTLS'))).map((record) => record.value.toString());
  assert.deepEqual(stored, ['K_MTLS-0', 'K_MTLS-1', 'K_MTLS-2'], 'every message in the broker');

  // the broker refuses the handshake, or the proxy the broker's name: answered at once, not retried
  for (const cluster of ['K_MTLS_NOCERT', 'K_MTLS_FOREIGN', 'K_MTLS_WRONGNAME']) {
    await sendRefused(client, topicOf(cluster), answers);
    assert.deepEqual(await consumeAll(broker.bootstraps, topicOf(cluster)), [], `${cluster}: nothing stored`);
  }
  const status = await statusPage();
  for (const [cluster, cause] of [['K_MTLS_NOCERT', /alert bad certificate/], ['K_MTLS_FOREIGN', /alert certificate unknown/], ['K_MTLS_WRONGNAME', /kafka\.elsewhere\.example/]] as const) {
    t.diagnostic(`${cluster}, the first line: ${assertRefusalsLogged(proxy.output(), cluster, cause, started)}`);
  }
  assert.ok(status.includes('K_MTLS'), '/status lists the clusters');
  assertShownNowhere([PASSPHRASE], { output: proxy.output(), status, answers });
});
