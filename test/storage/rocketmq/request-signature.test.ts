import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { sign as apacheClientSign } from 'rocketmq-client-nodejs/dist/util';
import { resolveSecret } from '../../../src/config/secret';
import { authorization, requestSigner, signature } from '../../../src/storage/rocketmq/request-signature';
import type { Secret } from '../../../src/storage/plugin-api';

const secret = (value: string) => resolveSecret(value) as Secret;

// computed apart from this code: printf %s "$dateTime" | openssl dgst -sha1 -hmac "$secretKey"
const VECTORS: [secretKey: string, dateTime: string, hex: string][] = [
  ['s3cr3t-key', '20261202T143000Z', '94a56841a412b58e79add265e0332dd6061fd7e3'],
  ['ünïcode-секрет', '20240101T000000Z', '7c9c757d6dedf6347cff4677198b87a0c3518ca2'],
];

test('the signature is HMAC-SHA1 of the x-mq-date-time value with the secret key, in upper-case hex', () => {
  for (const [secretKey, dateTime, hex] of VECTORS) {
    assert.equal(signature(secretKey, dateTime), hex.toUpperCase(), `${secretKey} / ${dateTime}`);
    // and as Apache's Node client computes it
    assert.equal(signature(secretKey, dateTime), apacheClientSign(secretKey, dateTime));
  }
});

test('the authorization header is the one Apache clients send and the 5.3 proxy parses', () => {
  assert.equal(
    authorization('AK1', 's3cr3t-key', '20261202T143000Z'),
    'MQv2-HMAC-SHA1 Credential=AK1, SignedHeaders=x-mq-date-time, Signature=94A56841A412B58E79ADD265E0332DD6061FD7E3',
  );
});

test('a request is signed with its own x-mq-date-time, again when the date-time moves on; the security token goes in x-mq-session-token', () => {
  const sign = requestSigner({ accessKey: 'AK1', secretKey: secret('s3cr3t-key'), securityToken: secret('token-1') });
  const signed = (dateTime: string) => {
    const metadata = new grpc.Metadata();
    sign(metadata, dateTime);
    return metadata;
  };
  for (const metadata of [signed('20261202T143000Z'), signed('20261202T143000Z')]) {
    assert.deepEqual(metadata.get('authorization'), ['MQv2-HMAC-SHA1 Credential=AK1, SignedHeaders=x-mq-date-time, Signature=94A56841A412B58E79ADD265E0332DD6061FD7E3']);
    assert.deepEqual(metadata.get('x-mq-session-token'), ['token-1']);
  }
  assert.equal(String(signed('20261202T143001Z').get('authorization')[0]).endsWith(`Signature=${signature('s3cr3t-key', '20261202T143001Z')}`), true, 'a new second, a new signature');

  const untokened = new grpc.Metadata();
  requestSigner({ accessKey: 'AK2', secretKey: secret('ünïcode-секрет') })(untokened, '20240101T000000Z');
  assert.match(String(untokened.get('authorization')[0]), /Credential=AK2, .*Signature=7C9C757D6DEDF6347CFF4677198B87A0C3518CA2$/);
  assert.deepEqual(untokened.get('x-mq-session-token'), []);
});
