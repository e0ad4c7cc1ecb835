/**
 * TLS and mutual TLS on the Thrift port, with certificates made by openssl: the Node client and
 * Apache Thrift's Python client are served; a plain client on the TLS port and a TLS client on the
 * plain port are closed cleanly and counted, and the proxy goes on serving the others;
 * allowedSubjects closes the connections of certificates it does not list.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import tls from 'node:tls';
import { ProducerClient } from '../../src/client/producer-client';
import { clientTlsOptions, makeCa, issueServer, type CertificateAuthority, type KeyPair } from '../helpers/certificates';
import { tempDir } from '../helpers/config';
import { parseExposition, valueOf } from '../helpers/metrics-exposition';
import { freePort } from '../helpers/ports';
import { CLI_JS, startProxy, type InProcessProxy } from '../helpers/proxy';
import { generatePythonStubs, PYTHON, PYTHON_CLIENT } from '../helpers/python-thrift';
import { run } from '../helpers/run';
import { eventually } from '../helpers/wait';

interface Certificates {
  ca: CertificateAuthority;
  server: KeyPair;
}

function certificates(t: TestContext): Certificates {
  const ca = makeCa(tempDir(t, 'pproxy-tls-'));
  return { ca, server: issueServer(ca) };
}

async function tlsProxy(t: TestContext, certs: Certificates, tlsSection: Record<string, unknown> = {}): Promise<InProcessProxy> {
  return startProxy(t, {
    extra: { adminPort: await freePort(), thriftServer: { tls: { cert: certs.server.cert, key: certs.server.key, ...tlsSection } } },
  });
}

/** TLS client options trusting the test CA, with a client certificate when given. */
async function closes(proxy: InProcessProxy, reason: string): Promise<number> {
  return valueOf(parseExposition(await proxy.app.metrics.render()), 'pproxy_server_connections_closed_total', { reason });
}

/** Waits until the counter of closes for `reason` reaches `n`. */
function closedFor(proxy: InProcessProxy, reason: string, n: number): Promise<number> {
  return eventually(async () => ((await closes(proxy, reason)) >= n ? closes(proxy, reason) : undefined), 5000, `${n} closes for ${reason}`);
}

/** A plain framed request's bytes to a port; resolves with how the server ended the connection. */
function plainExchange(port: number, host = '127.0.0.1'): Promise<{ received: number; error: string | undefined; ended: boolean }> {
  return new Promise((resolve) => {
    let received = 0;
    let error: string | undefined;
    let ended = false;
    const socket = net.connect(port, host, () => socket.write(Buffer.from([0, 0, 0, 5, 0x82, 0x21, 0, 8, 0x73])));
    socket.on('data', (d: Buffer) => (received += d.length));
    socket.on('end', () => (ended = true));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
    socket.on('close', () => resolve({ received, error, ended }));
  });
}

test('TLS: the Node client and the Python client are served; a plain client gets a clean close, counted, and the others are still served', async (t) => {
  const certs = certificates(t);
  const stubs = generatePythonStubs(t);
  const proxy = await tlsProxy(t, certs);
  const node = await ProducerClient.connect('127.0.0.1', proxy.port, { tls: clientTlsOptions(certs.ca) });
  t.after(() => node.close());
  assert.equal((await node.sendSync({ topic: 'test', body: 'over tls' })).code, 0);
  assert.equal((await node.sendSync({ topic: 'unknown', body: 'x' })).code, 13);

  const plain = await plainExchange(proxy.port);
  assert.deepEqual(plain, { received: 0, error: undefined, ended: true }, 'a clean close: no reply, no reset');
  assert.equal(await closedFor(proxy, 'tls_handshake_failed', 1), 1);

  const cases = [{ method: 'sendSync', message: { topic: 'test', body: Buffer.from('py').toString('base64') } }];
  const python = await run(PYTHON, [PYTHON_CLIENT, stubs, '127.0.0.1', String(proxy.port), certs.ca.cert], { input: JSON.stringify(cases) });
  assert.equal(python.status, 0, `python client failed:\n${python.stderr}`);
  assert.deepEqual((JSON.parse(python.stdout) as { code: number }[]).map((r) => r.code), [0]);
  // the first connection was kept through all of it
  assert.equal((await node.sendSync({ topic: 'test', body: 'still here' })).code, 0);
  assert.equal(await closes(proxy, 'tls_handshake_failed'), 1, 'only the plain client failed its handshake');
});

test('a TLS client on the plain port is closed, counted as tls_on_plain_port, and plain clients are still served', async (t) => {
  const certs = certificates(t);
  const proxy = await startProxy(t, { extra: { adminPort: await freePort() } });
  const failure = await new Promise<string>((resolve) => {
    const socket = tls.connect({ port: proxy.port, host: '127.0.0.1', ...clientTlsOptions(certs.ca) }, () => resolve('connected'));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
  assert.equal(failure, 'ECONNRESET', 'the server closed before a handshake');
  assert.equal(await closedFor(proxy, 'tls_on_plain_port', 1), 1);
  assert.equal(await closes(proxy, 'frame_too_large'), 0, 'not counted as a frame');
  const client = await proxy.client();
  assert.equal((await client.sendSync({ topic: 'test', body: 'plain' })).code, 0);
});

test('mutual TLS: no certificate and one of another CA fail their handshake; allowedSubjects closes a certificate it does not list', async (t) => {
  const certs = certificates(t);
  const orders = certs.ca.issue('orders', 'orders-app', ['DNS:orders.example']);
  const billing = certs.ca.issue('billing', 'billing-app');
  const stranger = makeCa(certs.ca.dir, 'other-ca').issue('stranger', 'orders-app');
  const stubs = generatePythonStubs(t);
  const proxy = await tlsProxy(t, certs, { clientCa: certs.ca.cert, allowedSubjects: ['DNS:orders.example'] });

  const client = await ProducerClient.connect('127.0.0.1', proxy.port, { tls: clientTlsOptions(certs.ca, orders) });
  t.after(() => client.close());
  assert.equal((await client.sendSync({ topic: 'test', body: 'mtls' })).code, 0);

  // with TLS 1.3 the client learns of its refusal after its own side of the handshake: its first call fails
  const refusedCall = async (pair?: KeyPair) => {
    try {
      const c = await ProducerClient.connect('127.0.0.1', proxy.port, { tls: clientTlsOptions(certs.ca, pair), callTimeoutMs: 3000 });
      try {
        return (await c.sendSync({ topic: 'test', body: 'x' })).code;
      } finally {
        c.close();
      }
    } catch (err) {
      return (err as Error).message;
    }
  };
  for (const pair of [undefined, stranger]) assert.equal(typeof (await refusedCall(pair)), 'string', 'refused, not answered');
  assert.equal(await closedFor(proxy, 'tls_handshake_failed', 2), 2);
  assert.equal(typeof (await refusedCall(billing)), 'string', 'a trusted certificate not in allowedSubjects is refused');
  assert.equal(await closedFor(proxy, 'client_certificate_not_allowed', 1), 1);

  const cases = [{ method: 'sendSync', message: { topic: 'test', body: Buffer.from('py').toString('base64') } }];
  const python = await run(PYTHON, [PYTHON_CLIENT, stubs, '127.0.0.1', String(proxy.port), certs.ca.cert, orders.cert, orders.key], {
    input: JSON.stringify(cases),
  });
  assert.equal(python.status, 0, `python client failed:\n${python.stderr}`);
  assert.deepEqual((JSON.parse(python.stdout) as { code: number }[]).map((r) => r.code), [0]);
  assert.equal((await client.sendSync({ topic: 'test', body: 'still served' })).code, 0);
});

test('a TLS section whose key is not the certificate\'s fails the start with a clear error', async (t) => {
  const certs = certificates(t);
  const other = certs.ca.issue('other', 'other');
  await assert.rejects(
    startProxy(t, { extra: { thriftServer: { tls: { cert: certs.server.cert, key: other.key } } } }),
    (err: Error) => err.name === 'ConfigError' && /thriftServer\.tls: certificate .* unusable/.test(err.message),
  );
});

test('pproxy send speaks TLS and mutual TLS with --tls-ca, --tls-cert and --tls-key', async (t) => {
  const certs = certificates(t);
  const client = certs.ca.issue('cli', 'cli');
  const proxy = await tlsProxy(t, certs, { clientCa: certs.ca.cert });
  const send = (...tlsArgs: string[]) =>
    run(process.execPath, [CLI_JS, 'send', '-t', 'test', '-b', 'x', '-p', String(proxy.port), '--tls-servername', 'localhost', ...tlsArgs]);
  const mutual = await send('--tls-ca', certs.ca.cert, '--tls-cert', client.cert, '--tls-key', client.key);
  assert.equal(mutual.status, 0, mutual.stderr);
  assert.match(mutual.stdout, /^0 OK /);
  const noCertificate = await send('--tls-ca', certs.ca.cert);
  assert.notEqual(noCertificate.status, 0, 'the proxy asks for a client certificate');
  const halfPair = await send('--tls-ca', certs.ca.cert, '--tls-cert', client.cert);
  assert.match(halfPair.stderr, /--tls-cert and --tls-key go together/);
});
