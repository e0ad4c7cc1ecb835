/** The test broker's cluster id is one Kafka's storage tool takes as the value of `-t`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kafkaClusterId } from './kafka-broker';

test("a cluster id never starts with '-', which the storage tool would read as an option", () => {
  // 0xf8 = 111110..: base64url's first character is '-' (index 62)
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
  const id = kafkaClusterId(() => draws.shift()!);
  assert.equal(draws.length, 0, 'the id starting with - was drawn again');
  assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
});
