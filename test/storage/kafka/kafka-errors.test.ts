import { schemaTools } from '../../../src/storage/storage-context';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSRequestTimeoutError, KafkaJSSASLAuthenticationError } from '../../../src/storage/kafka/kafkajs';
import { kafkaAcks, kafkaClusterSchema } from '../../../src/storage/kafka/kafka-config';
import { toStorageError } from '../../../src/storage/kafka/kafka-errors';
import { resultForStorageError } from '../../../src/core/result-mapping';
import { StorageError } from '../../../src/storage/storage';

/** A kafkajs protocol error as its decoders create it (from the broker's numeric code). */
function protocolError(type: string, code: number, retriable: boolean): KafkaJSProtocolError {
  return new KafkaJSProtocolError({ type, code, retriable, message: `broker says ${type}` } as never);
}

test('broker errors become storage errors with the right result code and retriable flag', () => {
  const cases: [unknown, string, boolean, number][] = [
    [protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true), 'TOPIC_NOT_FOUND', false, 14],
    [protocolError('MESSAGE_TOO_LARGE', 10, false), 'MESSAGE_TOO_LARGE', false, 11],
    [protocolError('RECORD_LIST_TOO_LARGE', 18, false), 'MESSAGE_TOO_LARGE', false, 11],
    [protocolError('INVALID_RECORD', 87, false), 'MESSAGE_ILLEGAL', false, 11],
    [protocolError('REQUEST_TIMED_OUT', 7, true), 'TIMEOUT', true, 12],
    [protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false), 'UNKNOWN', false, 10],
    [new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'), 'TIMEOUT', true, 12],
    [new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'), 'UNAVAILABLE', true, 10],
    [new Error('something else'), 'UNKNOWN', false, 10],
  ];
  for (const [error, code, retriable, result] of cases) {
    const e = toStorageError(error, 'K1');
    assert.equal(e.code, code, String(error));
    assert.equal(e.retriable, retriable, String(error));
    assert.equal(resultForStorageError(e.code), result);
    assert.match(e.message, /^kafka K1: /);
  }
});

test('the broker error inside kafkajs retries is the one that counts', () => {
  const wrapped = new KafkaJSNumberOfRetriesExceeded(protocolError('UNKNOWN_TOPIC_OR_PARTITION', 3, true), { retryCount: 2, retryTime: 300 });
  assert.equal(toStorageError(wrapped, 'K1').code, 'TOPIC_NOT_FOUND');
  const ours = new StorageError('TIMEOUT', 'metadata', true);
  assert.equal(toStorageError(ours, 'K1'), ours);
});

test("DDMQ's Kafka keys: defaults, acks mapping, and required brokers", () => {
  const config = kafkaClusterSchema(schemaTools).parse({ bootstrapServers: ['h:9092'], batchSize: 16384, bufferMemory: 33554432 });
  assert.equal(config.acks, 'all');
  assert.equal(config.compression, 'none');
  assert.deepEqual([kafkaAcks('all'), kafkaAcks('-1'), kafkaAcks('1'), kafkaAcks('0')], [-1, -1, 1, 0]);
  assert.equal(kafkaClusterSchema(schemaTools).safeParse({ acks: '1' }).success, false);
});

test('refused credentials, a broker certificate that does not verify and a client certificate the broker refuses are answered at once: not retriable', () => {
  const refused = new KafkaJSNumberOfRetriesExceeded(new (KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error)('SASL PLAIN authentication failed: Authentication failed'), { retryCount: 0, retryTime: 0 });
  const untrusted = new KafkaJSConnectionError('Connection error: unable to verify the first certificate', { broker: 'h:9093', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' } as never);
  const wrongName = new KafkaJSConnectionError('Connection error: Hostname/IP does not match', { broker: 'h:9093', code: 'ERR_TLS_CERT_ALTNAME_INVALID' } as never);
  const noClientCertificate = new KafkaJSConnectionError('Connection error: sslv3 alert bad certificate', { broker: 'h:9093', code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' } as never);
  const foreignClientCertificate = new KafkaJSConnectionError('Connection error: sslv3 alert certificate unknown', { broker: 'h:9093', code: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN' } as never);
  for (const error of [refused, untrusted, wrongName, noClientCertificate, foreignClientCertificate]) {
    const e = toStorageError(error, 'K1');
    assert.equal(e.code, 'UNAVAILABLE', String(error));
    assert.equal(e.retriable, false, String(error));
    assert.equal(resultForStorageError(e.code), 10);
  }
  const refusedConnection = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { broker: 'h:9093', code: 'ECONNREFUSED' } as never);
  assert.equal(toStorageError(refusedConnection, 'K1').retriable, true, 'a broker down may come back');
});
