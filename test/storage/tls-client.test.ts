/** The storages' shared `ssl` setting: its TLS context is built when a cluster is created, so that a bad key refuses the cluster. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schemaTools } from '../../src/storage/storage-context';
import { tlsClientContext, tlsClientOptions, tlsClientSchema } from '../../src/storage/tls-client';
import { encryptKey, makeCa } from '../helpers/certificates';
import { tempDir } from '../helpers/config';

test('a client key that does not decrypt with its passphrase, or does not match its certificate, is refused with the reason and without the passphrase', (t) => {
  const dir = tempDir(t, 'pproxy-tls-client-');
  const ca = makeCa(dir);
  const client = ca.issue('client', 'pproxy');
  const other = ca.issue('other', 'other');
  const encrypted = encryptKey(client, 'right-passphrase');
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
