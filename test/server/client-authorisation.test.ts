/**
 * Who may connect and what they may send, against a running proxy on a dual-stack listener
 * reached from 127.0.0.1 (an IPv4-mapped address there) and ::1: thriftServer.allowedClients at
 * accept, a topic's allowedProducers over mutual TLS (13), delay.trustedSenders for from_chronos
 * (19 from anyone else). Each refuses exactly what it should and nothing else.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import pino from 'pino';
import { ProxyApp } from '../../src/app';
import { ProducerClient, type ClientOptions } from '../../src/client/producer-client';
import { loadNodeConfiguration } from '../../src/node-configuration';
import { clientTlsOptions, makeCa, issueServer } from '../helpers/certificates';
import { localConfig, tempDir, writeConfig, type LocalConfigOptions } from '../helpers/config';
import { parseExposition, valueOf } from '../helpers/metrics-exposition';
import { freePort } from '../helpers/ports';
import { startProxy, type InProcessProxy } from '../helpers/proxy';
import { eventually } from '../helpers/wait';

const LOOPBACKS = ['127.0.0.1', '::1'] as const;

async function dualStackProxy(t: TestContext, options: LocalConfigOptions & { thriftServer?: never }, listener: Record<string, unknown> = {}): Promise<InProcessProxy> {
  return startProxy(t, { ...options, extra: { bindAddress: '::', adminPort: await freePort(), thriftServer: listener, ...options.extra } });
}

async function connect(t: TestContext, host: string, port: number, options: ClientOptions = {}): Promise<ProducerClient> {
  const client = await ProducerClient.connect(host, port, { callTimeoutMs: 3000, ...options });
  t.after(() => client.close());
  return client;
}

async function counter(proxy: InProcessProxy, name: string, labels: Record<string, string>): Promise<number> {
  return valueOf(parseExposition(await proxy.app.metrics.render()), name, labels);
}

/** Whether a client from `host` is served: connected and answered, or refused (the connection closed). */
async function served(t: TestContext, host: string, port: number): Promise<boolean> {
  try {
    const client = await connect(t, host, port);
    return (await client.sendSync({ topic: 'test', body: host })).code === 0;
  } catch {
    return false;
  }
}

test('allowedClients: a client from elsewhere is closed at accept and counted; IPv4-mapped addresses match as IPv4', async (t) => {
  for (const [allowed, expected] of [
    [['127.0.0.0/8'], [true, false]],
    [['::1'], [false, true]],
    [['::ffff:127.0.0.1/128', '::1/128'], [true, true]],
    [['10.0.0.0/8', 'fd00::/8'], [false, false]],
  ] as const) {
    const proxy = await dualStackProxy(t, {}, { allowedClients: allowed });
    const results = [];
    for (const host of LOOPBACKS) results.push(await served(t, host, proxy.port));
    assert.deepEqual(results, expected, `allowedClients ${allowed.join(', ')}`);
    const refused = expected.filter((ok) => !ok).length;
    assert.equal(await counter(proxy, 'pproxy_server_connections_refused_total', { reason: 'client_not_allowed' }), refused);
    assert.equal(await counter(proxy, 'pproxy_server_connections_accepted_total', {}), expected.length - refused);
  }
});

test('allowedClients is reloaded on SIGHUP (app.reload) for new connections; open ones stay', async (t) => {
  const proxy = await dualStackProxy(t, {}, { allowedClients: ['127.0.0.1'] });
  const open = await connect(t, '127.0.0.1', proxy.port);
  const config = fs.readFileSync(proxy.configFile, 'utf8').replace(/- 127\.0\.0\.1$/m, '- ::1');
  fs.writeFileSync(proxy.configFile, config);
  assert.equal(await proxy.app.reload(), true);
  assert.deepEqual([await served(t, '127.0.0.1', proxy.port), await served(t, '::1', proxy.port)], [false, true]);
  assert.equal((await open.sendSync({ topic: 'test', body: 'kept' })).code, 0, 'a connection open before the reload is kept');
});

interface Clients {
  proxy: InProcessProxy;
  orders: ProducerClient;
  billing: ProducerClient;
}

/** Mutual TLS: "orders" (CN:orders-app) and "billing" (DNS:billing.example) connect to a proxy whose topic `test` only orders may write. */
async function mutualTlsClients(t: TestContext, carreraConfiguration?: Record<string, unknown>): Promise<Clients> {
  const ca = makeCa(tempDir(t, 'pproxy-tls-'));
  const server = issueServer(ca);
  const orders = ca.issue('orders', 'orders-app');
  const billing = ca.issue('billing', 'billing-app', ['DNS:billing.example']);
  const proxy = await dualStackProxy(
    t,
    {
      topics: [{ topic: 'test', allowedProducers: ['CN:orders-app'] }, { topic: 'other' }, { topic: 'billing-only', allowedProducers: ['DNS:billing.example'] }],
      ...(carreraConfiguration ? { carreraConfiguration } : {}),
    },
    { tls: { cert: server.cert, key: server.key, clientCa: ca.cert } },
  );
  return {
    proxy,
    orders: await connect(t, '127.0.0.1', proxy.port, { tls: clientTlsOptions(ca, orders) }),
    billing: await connect(t, '::1', proxy.port, { tls: clientTlsOptions(ca, billing) }),
  };
}

test('allowedProducers: a topic answers 13 to a client not listed, for every send method, counted; other topics are unaffected', async (t) => {
  const { proxy, orders, billing } = await mutualTlsClients(t);
  const delay = { action: 1, body: 'd', timestamp: BigInt(Math.floor(Date.now() / 1000) + 3600), dmsgtype: 2, uuid: 'u' };
  const codes = async (client: ProducerClient) => [
    (await client.sendSync({ topic: 'test', body: 's' })).code,
    (await client.sendAsync({ topic: 'test', body: 'a' })).code,
    (await client.sendBatchSync([{ topic: 'other', body: 'b1' }, { topic: 'test', body: 'b2' }])).code,
    (await client.sendDelaySync({ topic: 'test', ...delay })).code,
    (await client.sendSync({ topic: 'other', body: 'o' })).code,
    (await client.sendSync({ topic: 'billing-only', body: 'b' })).code,
  ];
  // the delay add reaches the delay checks for orders: `test` is not a delay topic (18)
  assert.deepEqual(await codes(orders), [0, 0, 0, 18, 0, 13]);
  assert.deepEqual(await codes(billing), [13, 13, 13, 13, 0, 0]);
  assert.equal(await counter(proxy, 'pproxy_security_refusals_total', { reason: 'producer_not_allowed' }), 5);
});

test('allowedProducers: a plain client (no certificate) is answered 13 on a listed topic', async (t) => {
  const proxy = await dualStackProxy(t, { topics: [{ topic: 'test', allowedProducers: ['CN:orders-app'] }, { topic: 'other' }] });
  const client = await connect(t, '127.0.0.1', proxy.port);
  assert.deepEqual([(await client.sendSync({ topic: 'test', body: 'x' })).code, (await client.sendSync({ topic: 'other', body: 'x' })).code], [13, 0]);
});

const FROM_CHRONOS = { from_chronos: 'true' };

test('delay.trustedSenders by address: from_chronos is honoured from ::1 only; from 127.0.0.1 the send is a plain one to a delay topic (19)', async (t) => {
  const delay = { chronosInnerTopicPrefix: 'R_test_chronos_inner_', innerTopicNum: 1, trustedSenders: ['::1/128'] };
  const proxy = await dualStackProxy(t, { topics: [{ topic: 'test' }, { topic: 'd', delayTopic: true }], carreraConfiguration: { delay } });
  const untrusted = await connect(t, '127.0.0.1', proxy.port);
  const trusted = await connect(t, '::1', proxy.port);
  const send = (c: ProducerClient, properties?: Record<string, string>) => c.sendSync({ topic: 'd', body: 'x', ...(properties ? { properties } : {}) }).then((r) => r.code);
  assert.deepEqual([await send(untrusted, FROM_CHRONOS), await send(trusted, FROM_CHRONOS), await send(trusted), await send(untrusted)], [19, 0, 19, 19]);
  assert.equal((await untrusted.sendSync({ topic: 'test', body: 'x', properties: FROM_CHRONOS })).code, 0, 'on a plain topic the property changes nothing');
  assert.equal(await counter(proxy, 'pproxy_security_refusals_total', { reason: 'untrusted_from_chronos' }), 1);
});

test('delay.trustedSenders: on a topic that is no delay topic from_chronos changes nothing, trusted or not; absent, every client is trusted as in DDMQ', async (t) => {
  const delay = { chronosInnerTopicPrefix: 'R_test_chronos_inner_', innerTopicNum: 1, trustedSenders: ['DNS:billing.example'] };
  const { orders, billing } = await mutualTlsClients(t, { delay });
  const toDelayTopic = async (client: ProducerClient) => (await client.sendSync({ topic: 'other', body: 'x', properties: FROM_CHRONOS })).code;
  // `other` is not a delay topic: the guard does not apply, whoever sends
  assert.deepEqual([await toDelayTopic(orders), await toDelayTopic(billing)], [0, 0]);

  const everyone = await dualStackProxy(t, { topics: [{ topic: 'd', delayTopic: true }] });
  const plain = await connect(t, '127.0.0.1', everyone.port);
  assert.equal((await plain.sendSync({ topic: 'd', body: 'x', properties: FROM_CHRONOS })).code, 0);
});

test('delay.trustedSenders by identity: 19 for the identity not listed, 0 for the one listed', async (t) => {
  const ca = makeCa(tempDir(t, 'pproxy-tls-'));
  const server = issueServer(ca);
  const chronos = ca.issue('chronos', 'chronos');
  const app = ca.issue('app', 'app');
  const delay = { chronosInnerTopicPrefix: 'R_test_chronos_inner_', innerTopicNum: 1, trustedSenders: ['CN:chronos'] };
  const proxy = await dualStackProxy(t, { topics: [{ topic: 'd', delayTopic: true }], carreraConfiguration: { delay } }, { tls: { cert: server.cert, key: server.key, clientCa: ca.cert } });
  const codes = [];
  for (const pair of [app, chronos]) {
    const client = await connect(t, '127.0.0.1', proxy.port, { tls: clientTlsOptions(ca, pair) });
    codes.push((await client.sendSync({ topic: 'd', body: 'x', properties: FROM_CHRONOS })).code);
  }
  assert.deepEqual(codes, [19, 0]);
  await eventually(async () => ((await counter(proxy, 'pproxy_security_refusals_total', { reason: 'untrusted_from_chronos' })) === 1 ? true : undefined));
});

test('the warning that every client may send from_chronos: once, only when a delay topic is served without trustedSenders', async (t) => {
  const warnings = async (options: LocalConfigOptions) => {
    const lines: { msg: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string }) });
    const file = writeConfig(tempDir(t), localConfig(options));
    const app = await ProxyApp.start(loadNodeConfiguration(file), logger);
    t.after(() => app.stop());
    assert.equal(await app.reload(), true);
    return lines.filter((l) => /delay\.trustedSenders is not set/.test(l.msg)).length;
  };
  const trusted = { delay: { chronosInnerTopicPrefix: 'R_test_chronos_inner_', innerTopicNum: 1, trustedSenders: ['10.0.0.0/8'] } };
  assert.deepEqual(
    [
      await warnings({ topics: [{ topic: 'd', delayTopic: true }] }),
      await warnings({ topics: [{ topic: 'd', delayTopic: true }], carreraConfiguration: trusted }),
      await warnings({ topics: [{ topic: 'test' }] }),
    ],
    [1, 0, 0],
  );
});
