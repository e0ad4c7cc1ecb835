import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { z } from 'zod';
import { resolveSecret, secret, secretsIn } from '../../src/config/secret';
import { schemaTools } from '../../src/storage/storage-context';
import { kafkaClusterSchema } from '../../src/storage/kafka/kafka-config';
import type { Secret } from '../../src/storage/plugin-api';
import { tempDir } from '../helpers/config';

const VALUE = 's3cr3t-value';

function resolved(text: string, env: NodeJS.ProcessEnv = {}): Secret {
  const result = resolveSecret(text, env);
  const [[, found] = []] = secretsIn(result);
  assert.ok(found !== undefined, JSON.stringify(result));
  return found;
}

test('a literal, an environment variable and a file (its trailing newline trimmed) resolve to their values', (t) => {
  const dir = tempDir(t, 'pproxy-secret-');
  const file = path.join(dir, 'password');
  fs.writeFileSync(file, `${VALUE}\n`);
  assert.equal(resolved(VALUE).reveal(), VALUE);
  assert.equal(resolved(VALUE).reference, undefined);
  assert.equal(resolved('${env:KAFKA_PW}', { KAFKA_PW: VALUE }).reveal(), VALUE);
  assert.equal(resolved(`\${file:${file}}`).reveal(), VALUE);
  fs.writeFileSync(file, `${VALUE}\n\n`);
  assert.equal(resolved(`\${file:${file}}`).reveal(), `${VALUE}\n`, 'one newline trimmed, the value otherwise as written');
  assert.equal(resolved('${env:}x').reveal(), '${env:}x', 'what is not a whole reference is a literal');
});

test('a reference that cannot be resolved says which and why, and never holds a value', (t) => {
  const dir = tempDir(t, 'pproxy-secret-');
  assert.deepEqual(resolveSecret('${env:NOT_SET}', { OTHER: VALUE }), { problem: '${env:NOT_SET}: environment variable NOT_SET is not set' });
  const missing = path.join(dir, 'absent');
  assert.deepEqual(resolveSecret(`\${file:${missing}}`), { problem: `\${file:${missing}}: cannot read ${missing} (ENOENT)` });
});

test('a Secret prints as [secret] everywhere; JSON keeps a reference as given', () => {
  const literal = resolved(VALUE);
  const fromEnv = resolved('${env:KAFKA_PW}', { KAFKA_PW: VALUE });
  for (const s of [literal, fromEnv]) {
    assert.equal(String(s), '[secret]');
    assert.equal(`${s}`, '[secret]');
    assert.equal(inspect({ password: s }), '{ password: [secret] }');
    assert.ok(!inspect(s, { showHidden: true, depth: 5 }).includes(VALUE));
    assert.ok(!Object.values(s).includes(VALUE), 'no enumerable field holds the value');
  }
  assert.equal(JSON.stringify({ password: literal }), '{"password":"[secret]"}');
  assert.equal(JSON.stringify({ password: fromEnv }), '{"password":"${env:KAFKA_PW}"}');
});

test('the schema tool refuses an unresolvable reference or a failed check naming the field, never the value', () => {
  process.env['PPROXY_SECRET_TEST'] = VALUE;
  const schema = kafkaClusterSchema(schemaTools);
  const cluster = { bootstrapServers: ['h:9092'], sasl: { mechanism: 'plain', username: 'u' } };
  const ok = schema.parse({ ...cluster, sasl: { ...cluster.sasl, password: '${env:PPROXY_SECRET_TEST}' } });
  assert.equal(ok.sasl!.password.reveal(), VALUE);
  assert.ok(!JSON.stringify(ok).includes(VALUE) && !inspect(ok, { depth: 10 }).includes(VALUE));

  const unset = schema.safeParse({ ...cluster, sasl: { ...cluster.sasl, password: '${env:PPROXY_SECRET_UNSET}' } });
  assert.ok(!unset.success);
  assert.deepEqual(unset.error.issues.map((i) => [i.path.join('.'), i.message]), [
    ['sasl.password', '${env:PPROXY_SECRET_UNSET}: environment variable PPROXY_SECRET_UNSET is not set'],
  ]);

  const short = secret(z.string().min(20)).safeParse('${env:PPROXY_SECRET_TEST}');
  assert.ok(!short.success);
  assert.match(short.error.issues[0]!.message, /^\$\{env:PPROXY_SECRET_TEST\}: /);
  assert.ok(!JSON.stringify(short.error).includes(VALUE), 'the check\'s failure holds no value');
  const empty = secret().safeParse('');
  assert.ok(!empty.success);
  assert.equal(empty.error.issues[0]!.message, 'the secret: must not be empty');
});
