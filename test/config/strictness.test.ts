import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { requiredByDdmq, withStrictness } from '../../src/config/strictness';

/** A plugin-style cluster schema: a nested object, a field DDMQ requires, an object-level rule. */
const cluster = z
  .object({
    servers: z.array(z.string()).min(1),
    timeoutMs: requiredByDdmq(z.number().int().positive().default(1000)),
    tls: z.object({ ca: z.string().optional() }).default({}),
  })
  .refine((c) => c.servers.length <= 3 || c.timeoutMs >= 5000, { message: 'more than 3 servers need timeoutMs >= 5000', path: ['timeoutMs'] });

const issues = (schema: z.ZodType, value: unknown) => {
  const parsed = schema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('strict: unknown keys are refused at every level, the object-level rule stays, a DDMQ-required field may be left out', () => {
  const strict = withStrictness(cluster, 'strict');
  assert.deepEqual(issues(strict, { servers: ['a'] }), []);
  assert.deepEqual(issues(strict, { servers: ['a'], tls: { ca: 'x', cert: 'y' } }), ['tls: Unrecognized key: "cert"']);
  assert.deepEqual(issues(strict, { servers: ['a'], colour: 'red' }), [': Unrecognized key: "colour"']);
  assert.deepEqual(issues(strict, { servers: ['a', 'b', 'c', 'd'] }), ['timeoutMs: more than 3 servers need timeoutMs >= 5000']);
});

test('loose: unknown keys pass at every level, the object-level rule stays, a DDMQ-required field must be there', () => {
  const loose = withStrictness(cluster, 'loose');
  assert.deepEqual(issues(loose, { servers: ['a'], timeoutMs: 10, colour: 'red', tls: { cert: 'y' } }), []);
  assert.deepEqual(issues(loose, { servers: ['a'] }), ["timeoutMs: required (DDMQ's validate refuses a node without it)"]);
  assert.deepEqual(issues(loose, { servers: ['a', 'b', 'c', 'd'], timeoutMs: 10 }), ['timeoutMs: more than 3 servers need timeoutMs >= 5000']);
});
