/**
 * The proxy process on a TLS port, its certificate replaced and SIGHUP sent while clients send
 * without pause: new handshakes get the new certificate, no request fails and no connection is
 * dropped; a key that does not match keeps the certificate in use, and the log says why.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { ProducerClient } from '../../src/client/producer-client';
import { makeCa, issueServer } from '../helpers/certificates';
import { localConfig, tempDir, writeConfig } from '../helpers/config';
import { startProxyProcess } from '../helpers/proxy';
import { eventually } from '../helpers/wait';

const SENDERS = 4;

/** The SHA-256 fingerprint of the certificate a new handshake gets. */
function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ca, servername: 'localhost' }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

function fingerprintOf(file: string): string {
  return new crypto.X509Certificate(fs.readFileSync(file)).fingerprint256;
}

test('SIGHUP under load: the new certificate for new handshakes, no request lost; an unusable one keeps the old', async (t) => {
  const dir = tempDir(t);
  const ca = makeCa(dir);
  const first = issueServer(ca, 'first');
  const second = issueServer(ca, 'second');
  const cert = path.join(dir, 'server.pem');
  const key = path.join(dir, 'server-key.pem');
  fs.copyFileSync(first.cert, cert);
  fs.copyFileSync(first.key, key);
  const file = writeConfig(dir, localConfig({ extra: { thriftServer: { tls: { cert: 'server.pem', key: 'server-key.pem' } } } }));
  const proxy = await startProxyProcess(t, file);
  const caPem = fs.readFileSync(ca.cert);
  assert.equal(await servedFingerprint(proxy.port, caPem), fingerprintOf(first.cert));

  const clients = await Promise.all(Array.from({ length: SENDERS }, () => ProducerClient.connect('127.0.0.1', proxy.port, { tls: { ca: caPem, servername: 'localhost' } })));
  t.after(() => clients.forEach((c) => c.close()));
  let sending = true;
  const failures: string[] = [];
  let answered = 0;
  const loops = clients.map(async (client, i) => {
    for (let n = 0; sending; n++) {
      try {
        const { code } = await client.sendSync({ topic: 'test', body: `${i}:${n}` }, 5000);
        if (code === 0) answered++;
        else failures.push(`code ${code}`);
      } catch (err) {
        failures.push((err as Error).message);
        return;
      }
    }
  });

  await eventually(() => (answered > 200 ? true : undefined), 10_000, 'load before the reload');
  fs.copyFileSync(second.cert, cert);
  fs.copyFileSync(second.key, key);
  proxy.proc.kill('SIGHUP');
  await eventually(async () => ((await servedFingerprint(proxy.port, caPem)) === fingerprintOf(second.cert) ? true : undefined), 5000, 'the new certificate');
  const afterReload = answered;
  await eventually(() => (answered > afterReload + 200 ? true : undefined), 10_000, 'load after the reload');

  // a key of another certificate: the one in use stays
  fs.copyFileSync(first.key, key);
  proxy.proc.kill('SIGHUP');
  await eventually(() => (/thriftServer reload refused/.test(proxy.output()) ? true : undefined), 5000, 'the refusal in the log');
  assert.match(proxy.output(), /unusable/);
  assert.equal(await servedFingerprint(proxy.port, caPem), fingerprintOf(second.cert));

  sending = false;
  await Promise.all(loops);
  assert.deepEqual(failures, [], 'every request answered 0 on the connections open through both reloads');
  assert.ok(answered > 400, `answered ${answered}`);
  proxy.proc.kill('SIGTERM');
  assert.equal(await proxy.exited, 0);
});
