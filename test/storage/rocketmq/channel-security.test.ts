/**
 * The TLS side of `ssl` against a gRPC server of our own that asks for a client certificate (the
 * Apache RocketMQ 5 proxy never does, so rocketmq-security.test.ts cannot check `cert`/`key`):
 * a client certificate, an encrypted key and its passphrase, `servername`, `rejectUnauthorized`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as rpc from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_pb';
import { MessagingServiceClient, MessagingServiceService } from 'rocketmq-client-nodejs/proto/apache/rocketmq/v2/service_grpc_pb';
import { channelSecurity } from '../../../src/storage/rocketmq/channel-security';
import { rocketmqClusterSchema, type RocketmqClusterConfig } from '../../../src/storage/rocketmq/rocketmq-config';
import { isTlsFailure } from '../../../src/storage/rocketmq/rocketmq-errors';
import { schemaTools } from '../../../src/storage/storage-context';
import { encryptKey, issueServer, makeCa } from '../../helpers/certificates';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-rmq-tls-'));
test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
const ca = makeCa(dir, 'ca');
const server = issueServer(ca, 'server');
const clientPair = ca.issue('client', 'pproxy');
const PASSPHRASE = 'pass-phrase-1';
const encryptedKey = encryptKey(clientPair, PASSPHRASE);

/** A server on 127.0.0.1 with the certificate for localhost that wants a client certificate of `ca`. */
async function mutualTlsServer(): Promise<{ address: string; stop: () => void }> {
  const s = new grpc.Server();
  s.addService(MessagingServiceService, {
    queryRoute: (_call: unknown, done: grpc.sendUnaryData<rpc.QueryRouteResponse>) => done(null, new rpc.QueryRouteResponse()),
  } as unknown as grpc.UntypedServiceImplementation);
  const credentials = grpc.ServerCredentials.createSsl(fs.readFileSync(ca.cert), [{ cert_chain: fs.readFileSync(server.cert), private_key: fs.readFileSync(server.key) }], true);
  const port = await new Promise<number>((resolve, reject) => s.bindAsync('127.0.0.1:0', credentials, (error, p) => (error ? reject(error) : resolve(p))));
  return { address: `127.0.0.1:${port}`, stop: () => s.forceShutdown() };
}

function ssl(settings: Record<string, unknown>): RocketmqClusterConfig['ssl'] {
  return rocketmqClusterSchema(schemaTools).parse({ namesrvAddrs: ['127.0.0.1:8081'], ssl: settings }).ssl;
}

/** One QueryRoute over a channel made as the cluster's are; null when it was answered. */
function call(address: string, settings: Record<string, unknown>): Promise<grpc.ServiceError | null> {
  const { credentials, options } = channelSecurity(ssl(settings));
  const client = new MessagingServiceClient(address, credentials, options);
  return new Promise((resolve) => {
    client.queryRoute(new rpc.QueryRouteRequest(), new grpc.Metadata(), { deadline: Date.now() + 5000 }, (error) => {
      client.close();
      resolve(error);
    });
  });
}

test('ssl: a client certificate (its key plain or encrypted), the CA, servername and rejectUnauthorized reach the TLS handshake', { timeout: 60_000 }, async (t) => {
  const { address, stop } = await mutualTlsServer();
  t.after(stop);
  assert.equal(await call(address, { ca: ca.cert, cert: clientPair.cert, key: clientPair.key }), null, 'client certificate, the address checked against IP:127.0.0.1');
  assert.equal(await call(address, { ca: ca.cert, cert: clientPair.cert, key: encryptedKey, passphrase: PASSPHRASE, servername: 'localhost' }), null, 'encrypted key');
  assert.equal(await call(address, { cert: clientPair.cert, key: clientPair.key, rejectUnauthorized: false }), null, 'no CA, not verified');

  const unverified = await call(address, { cert: clientPair.cert, key: clientPair.key });
  assert.ok(unverified && isTlsFailure(unverified), `Node's CAs do not know the test CA: ${unverified?.details}`);
  const otherName = await call(address, { ca: ca.cert, cert: clientPair.cert, key: clientPair.key, servername: 'other.example' });
  assert.ok(otherName && isTlsFailure(otherName), `servername is the name checked: ${otherName?.details}`);
  const noClientCertificate = await call(address, { ca: ca.cert });
  // TLS 1.3: the server's alert (certificate required) comes after the client's handshake ended
  assert.ok(noClientCertificate && isTlsFailure(noClientCertificate), `the server wants a client certificate: ${noClientCertificate?.details}`);

  assert.throws(() => channelSecurity(ssl({ ca: ca.cert, cert: clientPair.cert, key: encryptedKey, passphrase: 'wrong' })), /bad decrypt/i);
  assert.throws(() => channelSecurity(ssl({ ca: path.join(dir, 'missing.pem') })), /ENOENT.*missing\.pem/);
});

test('without ssl a channel is plaintext; with it, TLS', () => {
  const plain = channelSecurity(undefined);
  assert.deepEqual([plain.credentials._isSecure(), plain.options], [false, {}]);
  const secure = channelSecurity(ssl({ servername: 'rmq.example' }));
  assert.deepEqual([secure.credentials._isSecure(), secure.options], [true, { 'grpc.ssl_target_name_override': 'rmq.example' }]);
});
