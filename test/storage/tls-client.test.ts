/** The storages' shared `ssl` setting: its TLS context is built when a cluster is created, so that a bad key refuses the cluster. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { schemaTools } from '../../src/storage/storage-context';
import { tlsClientContext, tlsClientOptions, tlsClientSchema } from '../../src/storage/tls-client';
import { makeCa } from '../helpers/certificates';

test('a client key that does not decrypt with its passphrase, or does not match its certificate, is refused with the reason and without the passphrase', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-kafka-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ca = makeCa(dir);
  const client = ca.issue('client', 'pproxy');
  const other = ca.issue('other', 'other');
  const encrypted = path.join(dir, 'client-encrypted.pem');
  const r = spawnSync('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', client.key, '-out', encrypted, '-passout', 'pass:right-passphrase'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const options = (ssl: Record<string, unknown>) => tlsClientOptions(tlsClientSchema(schemaTools).parse({ ca: ca.cert, ...ssl }));

  tlsClientContext(options({ cert: client.cert, key: encrypted, passphrase: 'right-passphrase' }));
  tlsClientContext(options({ cert: client.cert, key: client.key }));
  for (const [ssl, reason] of [
    [{ cert: client.cert, key: encrypted, passphrase: 'wrong-passphrase' }, /bad decrypt/],
    [{ cert: client.cert, key: encrypted }, /passphrase|bad decrypt|read/i],
    [{ cert: client.cert, key: other.key }, /key values mismatch/],
  ] as const) {
    assert.throws(() => tlsClientContext(options(ssl)), (error: Error) => {
      assert.match(error.message, /^ssl: the CA, client certificate or key cannot be used: /);
      assert.match(error.message, reason);
      assert.ok(!error.message.includes('passphrase' in ssl ? String(ssl.passphrase) : '\u0000'), error.message);
      return true;
    });
  }
});
