/**
 * A RocketMQ 4 cluster's `credentials` (its ACL): accepted over remoting, by the port rule or by
 * `protocol`, its secret key and token secrets (given as values or references, printed as [secret]).
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { rocketmqClusterSchema } from '../../../src/storage/rocketmq/rocketmq-config';
import { schemaTools } from '../../../src/storage/storage-context';

const schema = rocketmqClusterSchema(schemaTools);
const ACL = { accessKey: 'ak-test', secretKey: 'the-secret-key', securityToken: 'the-token' };

test('credentials over remoting: the secret key and the token are secrets; absent, none', () => {
  const parsed = schema.parse({ namesrvAddrs: ['127.0.0.1:9876'], credentials: ACL });
  assert.equal(parsed.credentials?.accessKey, 'ak-test');
  assert.deepEqual([parsed.credentials?.secretKey.reveal(), parsed.credentials?.securityToken?.reveal()], ['the-secret-key', 'the-token']);
  for (const shown of [JSON.stringify(parsed), inspect(parsed, { depth: 5 }), String(parsed.credentials?.secretKey)]) {
    assert.ok(!shown.includes('the-secret-key') && !shown.includes('the-token'), shown);
  }
  process.env.PPROXY_TEST_ACL_SECRET = 'from-the-env';
  const fromEnv = schema.parse({ namesrvAddrs: ['127.0.0.1:9876'], protocol: 'remoting', credentials: { accessKey: 'ak', secretKey: '${env:PPROXY_TEST_ACL_SECRET}' } });
  assert.equal(fromEnv.credentials?.secretKey.reveal(), 'from-the-env');
  assert.equal(fromEnv.credentials?.securityToken, undefined);
  assert.match(JSON.stringify(fromEnv.credentials), /"secretKey":"\$\{env:PPROXY_TEST_ACL_SECRET\}"/, 'a reference is kept as given');
  assert.equal(schema.parse({ namesrvAddrs: ['127.0.0.1:9876'] }).credentials, undefined);
});

test('credentials refused without an access key or with an empty secret; accepted on any port with protocol remoting', () => {
  const issues = (config: Record<string, unknown>) => {
    const parsed = schema.safeParse(config);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.match(issues({ namesrvAddrs: ['127.0.0.1:9876'], credentials: { secretKey: 's' } }).join(), /credentials\.accessKey/);
  const empty = issues({ namesrvAddrs: ['127.0.0.1:9876'], credentials: { accessKey: 'ak', secretKey: '' } });
  assert.match(empty.join(), /credentials\.secretKey: the secret: must not be empty/);
  assert.deepEqual(issues({ namesrvAddrs: ['127.0.0.1:8081'], protocol: 'remoting', credentials: ACL }), [], 'remoting by protocol on any port');
});
