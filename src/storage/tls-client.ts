/**
 * The `ssl` setting of the built-in storages that reach their brokers over TLS (Kafka, RocketMQ 5):
 * PEM files of the CA the server's certificate must chain to and of a client certificate and its
 * key (mutual TLS), the key's passphrase (a secret), the name the server's certificate must carry,
 * and whether an unverified server is refused; and those settings as Node's TLS takes them.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import type { z } from 'zod';
import type { SchemaTools } from './plugin-api';

export function tlsClientSchema({ z, secret }: Pick<SchemaTools, 'z' | 'secret'>) {
  const pemFile = z.string().min(1);
  return z
    .object({
      ca: pemFile.optional(),
      cert: pemFile.optional(),
      key: pemFile.optional(),
      /** Passphrase of an encrypted `key`. */
      passphrase: secret().optional(),
      servername: z.string().min(1).optional(),
      rejectUnauthorized: z.boolean().default(true),
    })
    .refine((ssl) => (ssl.cert === undefined) === (ssl.key === undefined), { message: 'cert and key go together (a client certificate needs its key)' });
}

export type TlsClientConfig = z.output<ReturnType<typeof tlsClientSchema>>;

/** The settings as Node's tls.connect takes them, their PEM files read now: the one place the passphrase is revealed. */
export function tlsClientOptions(ssl: TlsClientConfig, read: (file: string) => Buffer = fs.readFileSync): tls.ConnectionOptions {
  return {
    ca: ssl.ca === undefined ? undefined : read(ssl.ca),
    cert: ssl.cert === undefined ? undefined : read(ssl.cert),
    key: ssl.key === undefined ? undefined : read(ssl.key),
    passphrase: ssl.passphrase?.reveal(),
    // absent, not undefined: spread over a connection's own default (its host), it must not erase it
    ...(ssl.servername !== undefined && { servername: ssl.servername }),
    rejectUnauthorized: ssl.rejectUnauthorized,
  };
}

/**
 * What each connection of a cluster takes: the TLS context built once, when the cluster is created
 * (tls.connect would otherwise parse the PEM files and decrypt the key again for every connection),
 * the name to check when one is set, and whether an unverified server is refused.
 */
export function tlsConnectionOptions(ssl: TlsClientConfig, read: (file: string) => Buffer = fs.readFileSync): tls.ConnectionOptions {
  const { servername, rejectUnauthorized, ...files } = tlsClientOptions(ssl, read);
  return { secureContext: tlsClientContext(files), rejectUnauthorized, ...(servername !== undefined && { servername }) };
}

/**
 * The TLS context of `options`, built once when the cluster is created, so that a key that does not
 * decrypt with its passphrase, or does not match its certificate, refuses the cluster with OpenSSL's
 * reason instead of failing every connection later.
 */
export function tlsClientContext(options: tls.ConnectionOptions): tls.SecureContext {
  try {
    return tls.createSecureContext(options);
  } catch (error) {
    throw new Error(`ssl: the CA, client certificate or key cannot be used: ${(error as Error).message}`);
  }
}
