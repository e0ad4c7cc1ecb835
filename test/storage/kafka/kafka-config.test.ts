import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaClusterSchema, kafkaSasl } from '../../../src/storage/kafka/kafka-config';
import { schemaTools } from '../../../src/storage/storage-context';
import { tlsClientOptions } from '../../../src/storage/tls-client';

const base = { bootstrapServers: ['h:9092'] };

function problems(config: Record<string, unknown>): string[] {
  const parsed = kafkaClusterSchema(schemaTools).safeParse({ ...base, ...config });
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('enableIdempotence is off by default and on with acks all and retries', () => {
  assert.equal(kafkaClusterSchema(schemaTools).parse(base).enableIdempotence, false);
  assert.deepEqual(problems({ enableIdempotence: true }), []);
  assert.deepEqual(problems({ enableIdempotence: true, acks: '-1', retries: 1 }), []);
});

test('enableIdempotence refuses acks other than all, and no retries, naming the key', () => {
  assert.deepEqual(problems({ enableIdempotence: true, acks: '1' }), ['acks: enableIdempotence needs acks "all" (or "-1"), not "1"']);
  assert.deepEqual(problems({ enableIdempotence: true, acks: '0', retries: 0 }), [
    'acks: enableIdempotence needs acks "all" (or "-1"), not "0"',
    'retries: enableIdempotence needs retries of at least 1: a produce whose answer was lost is only safe if sent again',
  ]);
  assert.deepEqual(problems({ enableIdempotence: false, acks: '1', retries: 0 }), [], 'without it, both are fine');
});

test('ssl and sasl: read as kafkajs and tls take them, cert and key together, the password a secret', (t) => {
  process.env['PPROXY_KAFKA_CONFIG_TEST_PW'] = 'the-password';
  const config = kafkaClusterSchema(schemaTools).parse({
    ...base,
    ssl: { ca: '/etc/ca.pem', servername: 'kafka.internal' },
    sasl: { mechanism: 'scram-sha-512', username: 'u', password: '${env:PPROXY_KAFKA_CONFIG_TEST_PW}' },
  });
  assert.deepEqual(kafkaSasl(config.sasl), { mechanism: 'scram-sha-512', username: 'u', password: 'the-password' });
  assert.equal(kafkaSasl(undefined), undefined);
  assert.ok(!JSON.stringify(config).includes('the-password'));
  const read = t.mock.fn((file: string) => Buffer.from(`pem of ${file}`));
  assert.deepEqual(tlsClientOptions(config.ssl!, read), {
    ca: Buffer.from('pem of /etc/ca.pem'),
    cert: undefined,
    key: undefined,
    passphrase: undefined,
    servername: 'kafka.internal',
    rejectUnauthorized: true,
  });
  assert.deepEqual(problems({ ssl: { cert: '/c.pem' } }), ['ssl: cert and key go together (a client certificate needs its key)']);
  assert.deepEqual(problems({ sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } }).map((p) => p.split(':')[0]), ['sasl.mechanism']);
  assert.deepEqual(problems({ sasl: { mechanism: 'plain', username: 'u', password: '${env:PPROXY_KAFKA_CONFIG_TEST_UNSET}' } }), [
    'sasl.password: ${env:PPROXY_KAFKA_CONFIG_TEST_UNSET}: environment variable PPROXY_KAFKA_CONFIG_TEST_UNSET is not set',
  ]);
});
