/**
 * Certificates made for a test with openssl: a CA of its own and a server certificate it signed for
 * 127.0.0.1 and localhost, as PEM files (the key unencrypted PKCS#8, as Kafka's PEM keystore takes it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../../bench/peers/run-command';

export interface TestCa {
  readonly caFile: string;
  readonly caKeyFile: string;
}

async function openssl(args: string[]): Promise<void> {
  const r = await run('openssl', args, { timeoutMs: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed (${r.status}): ${r.stderr}`);
}

export async function makeCa(dir: string, name: string): Promise<TestCa> {
  const caFile = path.join(dir, `${name}.pem`);
  const caKeyFile = path.join(dir, `${name}.key`);
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKeyFile, '-out', caFile, '-days', '2', '-subj', `/CN=${name}`]);
  return { caFile, caKeyFile };
}

/** A server certificate signed by `ca`, valid for IP 127.0.0.1 and DNS localhost. */
export async function makeServerCertificate(dir: string, ca: TestCa, name: string): Promise<{ certFile: string; keyFile: string }> {
  const keyFile = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const certFile = path.join(dir, `${name}.pem`);
  const extensions = path.join(dir, `${name}.ext`);
  fs.writeFileSync(extensions, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${name}`]);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.caFile, '-CAkey', ca.caKeyFile, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', extensions]);
  return { certFile, keyFile };
}
