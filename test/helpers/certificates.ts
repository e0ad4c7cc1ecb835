/**
 * Certificates for TLS tests, made with the openssl command line into a test's temp directory: a
 * CA, a server certificate for localhost / 127.0.0.1 / ::1 signed by it, and client certificates
 * with the names a test asks for.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type tls from 'node:tls';

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export interface CertificateAuthority extends KeyPair {
  readonly dir: string;
  /** A certificate signed by this CA, with this subject CN and these subjectAltName entries (`DNS:x`, `URI:y`). */
  issue(name: string, cn: string, altNames?: readonly string[]): KeyPair;
}

function openssl(args: readonly string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr ?? r.error}`);
}

/** A new CA in `dir`, its files named after `name`. */
export function makeCa(dir: string, name = 'ca'): CertificateAuthority {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}-key.pem`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name} test CA`], dir);
  return {
    dir,
    cert,
    key,
    issue(leaf, cn, altNames = []) {
      const leafKey = path.join(dir, `${leaf}-key.pem`);
      const csr = path.join(dir, `${leaf}.csr`);
      const leafCert = path.join(dir, `${leaf}.pem`);
      const ext = path.join(dir, `${leaf}.ext`);
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', leafKey, '-out', csr, '-subj', `/CN=${cn}`], dir);
      fs.writeFileSync(ext, altNames.length > 0 ? `subjectAltName=${altNames.join(',')}\n` : 'basicConstraints=CA:FALSE\n');
      openssl(['x509', '-req', '-in', csr, '-CA', cert, '-CAkey', key, '-CAcreateserial', '-out', leafCert, '-days', '2', '-extfile', ext], dir);
      return { cert: leafCert, key: leafKey };
    },
  };
}

/** The server certificate every TLS test uses: localhost, 127.0.0.1 and ::1. */
export function issueServer(ca: CertificateAuthority, name = 'server'): KeyPair {
  return ca.issue(name, 'localhost', ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
}

/** `pair`'s key encrypted with `passphrase` (PKCS#8, AES-256), as an operator's key file often is; its path. */
export function encryptKey(pair: KeyPair, passphrase: string): string {
  const file = pair.key.replace(/\.pem$/, '-encrypted.pem');
  openssl(['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', pair.key, '-out', file, '-passout', `pass:${passphrase}`], path.dirname(file));
  return file;
}

/** A client's TLS options toward a server of issueServer's certificate: trusting `ca`, with `pair` for mutual TLS. */
export function clientTlsOptions(ca: CertificateAuthority, pair?: KeyPair): tls.ConnectionOptions {
  return {
    ca: fs.readFileSync(ca.cert),
    servername: 'localhost',
    ...(pair ? { cert: fs.readFileSync(pair.cert), key: fs.readFileSync(pair.key) } : {}),
  };
}
