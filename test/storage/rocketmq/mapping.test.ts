import { schemaTools } from '../../../src/storage/storage-context';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { resultForStorageError } from '../../../src/core/result-mapping';
import { rocketmqClusterSchema } from '../../../src/storage/rocketmq/rocketmq-config';
import { grpcError, statusError } from '../../../src/storage/rocketmq/rocketmq-errors';
import { messageGroup } from '../../../src/storage/rocketmq/rocketmq-storage';
import type { OutgoingMessage } from '../../../src/storage/storage';

test('RocketMQ status codes map to result codes with the right retriable flag', () => {
  const cases: [number, number, boolean][] = [
    [40402, 14, false], // TOPIC_NOT_FOUND
    [41301, 11, false], // MESSAGE_BODY_TOO_LARGE
    [43101, 11, false], // MESSAGE_PROPERTIES_TOO_LARGE
    [40004, 11, false], // ILLEGAL_MESSAGE_TAG
    [40016, 11, false], // MESSAGE_CORRUPTED
    [40014, 10, false], // MESSAGE_PROPERTY_CONFLICT_WITH_TYPE: a configuration fault
    [42900, 10, true], // TOO_MANY_REQUESTS: retried within the deadline
    [50400, 12, true], // PROXY_TIMEOUT
    [50401, 12, true], // MASTER_PERSISTENCE_TIMEOUT
    [50001, 10, true], // INTERNAL_SERVER_ERROR
    [40300, 10, false], // FORBIDDEN
    [40100, 10, false], // UNAUTHORIZED: the 5.3 proxy's answer to a wrong signature or an unknown access key
  ];
  for (const [code, result, retriable] of cases) {
    const e = statusError(code, 'why', 'R1');
    assert.deepEqual([resultForStorageError(e.code), e.retriable], [result, retriable], `code ${code}`);
    assert.match(e.message, new RegExp(`^rocketmq R1: ${code} why$`));
  }
  // the real RocketMQ 5.3.3 proxy relays the broker's size refusal as INTERNAL_SERVER_ERROR
  const oversize = statusError(
    50001,
    'org.apache.rocketmq.proxy.common.ProxyException: the message is illegal, maybe msg body or properties length not matched. msg body length limit 65536B, msg properties length limit 32KB.',
    'R1',
  );
  assert.deepEqual([resultForStorageError(oversize.code), oversize.retriable], [11, false]);
  const grpcFailure = (code: grpc.status) => Object.assign(new Error('boom'), { code, details: '', metadata: new grpc.Metadata() });
  assert.equal(grpcError(grpcFailure(grpc.status.DEADLINE_EXCEEDED), 'R1').code, 'TIMEOUT');
  assert.equal(grpcError(grpcFailure(grpc.status.UNAVAILABLE), 'R1').retriable, true);
  assert.equal(grpcError(grpcFailure(grpc.status.UNIMPLEMENTED), 'R1').code, 'UNKNOWN');
  // grpc-js' details of a TLS connection that failed on the certificate or the handshake: not retried
  const tlsFailure = (details: string) => Object.assign(new Error(`14 UNAVAILABLE: ${details}`), { code: grpc.status.UNAVAILABLE, details, metadata: new grpc.Metadata() });
  for (const details of [
    'No connection established. Last error: Error: unable to verify the first certificate.',
    "No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: Host: example.org.",
    'No connection established. Last error: Error: C0:error:0A00010B:SSL routines:ssl3_get_record:wrong version number.',
  ]) {
    const e = grpcError(tlsFailure(details), 'R1');
    assert.deepEqual([resultForStorageError(e.code), e.retriable], [10, false], details);
  }
  assert.equal(grpcError(tlsFailure('No connection established. Last error: Failed to connect.'), 'R1').retriable, true, 'a refused connection is an outage');
});

test('FIFO groups come from the partition or the exact hashId, only on strongOrder topics', () => {
  const m = (partitionId: number, hashId: bigint, ordered = true) => ({ partitionId, hashId, ordered }) as OutgoingMessage;
  assert.equal(messageGroup(m(3, 99n)), 'partition-3');
  assert.equal(messageGroup(m(-1, -(2n ** 63n))), 'hash--9223372036854775808');
  assert.equal(messageGroup(m(-1, 2n ** 63n - 1n)), 'hash-9223372036854775807');
  assert.equal(messageGroup(m(-2, 5n)), undefined, 'random partition: a normal message');
  assert.equal(messageGroup(m(3, 5n, false)), undefined, 'not strongOrder: a normal message');
});

test("DDMQ's RocketMQ keys: namesrvAddrs are required host:port endpoints; the rest default", () => {
  const c = rocketmqClusterSchema(schemaTools).parse({ namesrvAddrs: ['10.0.0.1:8081'], compressMsgBodyOverHowmuch: 4096, retryTimesWhenSendFailed: 1 });
  assert.deepEqual([c.sendMsgTimeout, c.maxMessageSize, c.groupPrefix], [3000, 2 * 1024 * 1024, 'pproxy']);
  assert.equal(rocketmqClusterSchema(schemaTools).safeParse({ namesrvAddrs: ['10.0.0.1'] }).success, false);
  assert.equal(rocketmqClusterSchema(schemaTools).safeParse({}).success, false);
});

test('ssl is gRPC only, cert with key; credentials for either protocol, the secret key and token secrets', () => {
  const schema = rocketmqClusterSchema(schemaTools);
  const c = schema.parse({
    namesrvAddrs: ['10.0.0.1:8081'],
    ssl: { ca: '/etc/ca.pem', servername: 'rmq.example' },
    credentials: { accessKey: 'AK1', secretKey: 'sk-value', securityToken: 'token-value' },
  });
  assert.deepEqual([c.ssl?.rejectUnauthorized, c.ssl?.servername], [true, 'rmq.example']);
  assert.equal(c.credentials?.secretKey.reveal(), 'sk-value');
  const shown = JSON.stringify(c);
  assert.ok(!shown.includes('sk-value') && !shown.includes('token-value'), shown);
  const refused = (input: Record<string, unknown>) => {
    const r = schema.safeParse({ namesrvAddrs: ['10.0.0.1:8081'], ...input });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.match(refused({ ssl: { cert: '/etc/c.pem' } }).join(), /cert and key go together/);
  assert.match(refused({ credentials: { accessKey: 'AK1', secretKey: '' } }).join(), /credentials\.secretKey/);
  assert.deepEqual(refused({ namesrvAddrs: ['10.0.0.1:9876'], credentials: { accessKey: 'AK1', secretKey: 'k' } }), [], "credentials over remoting: RocketMQ 4's ACL");
  assert.match(refused({ namesrvAddrs: ['10.0.0.1:9876'], ssl: {} }).join(), /^ssl: is for RocketMQ 5 proxies/);
  assert.match(refused({ namesrvAddrs: ['10.0.0.1:8082'], protocol: 'remoting', ssl: {} }).join(), /^ssl: is for RocketMQ 5 proxies/);
  assert.deepEqual(refused({ namesrvAddrs: ['10.0.0.1:8082'], protocol: 'grpc', ssl: {} }), []);
});
