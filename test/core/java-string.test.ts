/**
 * java.lang.String's rules as pproxy applies them, each against the JVM's answer for the edge
 * characters (the values were printed by OpenJDK).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEmptyAfterJavaTrim, javaLength, javaStringHashCode, wholeStringPattern } from '../../src/core/java-string';
import { schemas } from '../helpers/schemas';
import { CANCEL_ID_PATTERN } from '../../src/delay/delay-id';
import { isValidTopicName } from '../../src/storage/local/layout';
import { EDGE_CHARACTERS, hex, javaTrimRemoves } from '../helpers/java-rules';

test("isEmptyAfterJavaTrim is Java's s.trim().isEmpty(), not JavaScript's trim", () => {
  for (const c of EDGE_CHARACTERS) {
    const ch = String.fromCharCode(c);
    assert.equal(isEmptyAfterJavaTrim(ch), javaTrimRemoves(c), hex(c));
    assert.equal(isEmptyAfterJavaTrim(` ${ch}\t${ch} `), javaTrimRemoves(c), `${hex(c)} between blanks`);
  }
  assert.equal(isEmptyAfterJavaTrim(''), true);
  assert.equal(isEmptyAfterJavaTrim('\u0001 x \u001f'), false);
  assert.equal(isEmptyAfterJavaTrim('\uD83D\uDE00'), false);
});

test("javaLength counts UTF-16 code units, as Java's String.length()", () => {
  assert.equal(javaLength(''), 0);
  assert.equal(javaLength('é'), 1);
  assert.equal(javaLength('😀'), 2); // a surrogate pair
  assert.equal(javaLength('\uD83D\uDE00x'), 3);
  assert.equal(javaLength('k'.repeat(254) + '😀'), 256);
});

test('javaStringHashCode equals java.lang.String#hashCode, overflow and UTF-16 included', () => {
  assert.equal(javaStringHashCode(''), 0);
  assert.equal(javaStringHashCode('a'), 97);
  assert.equal(javaStringHashCode('hello'), 99162322);
  assert.equal(javaStringHashCode('polygenelubricants'), -2147483648);
  assert.equal(javaStringHashCode('14f22520-ad72-11e7-91be-6ee54da579e3'), 139185948);
  assert.equal(javaStringHashCode('😀'), 1772899); // a surrogate pair: two UTF-16 units
  assert.equal(javaStringHashCode('\uD83D\uDE00x'), 54959989);
  assert.equal(javaStringHashCode('é😀'), 1996812);
});

test("a whole-string pattern matches as Java's matches(): no line terminator after the end, alternation anchored", () => {
  const topic = wholeStringPattern('[%|a-zA-Z0-9_-]+');
  assert.equal(topic.test('ab'), true);
  for (const end of ['\n', '\r\n', '\r', '\u0085', '\u2028', '\u2029', ' ']) {
    assert.equal(topic.test(`ab${end}`), false, JSON.stringify(end));
  }
  assert.equal(topic.flags, '', 'no m flag, no stateful g or y');
  const either = wholeStringPattern('a|b');
  assert.deepEqual(['a', 'b', 'ab', 'xa', 'bx'].map((s) => either.test(s)), [true, true, false, false, false]);

  const id = '1507609164-2-1507609214-0-0-0-0-14f22520-ad72-11e7-91be-6ee54da579e3';
  assert.equal(CANCEL_ID_PATTERN.test(id), true);
  for (const end of ['\n', '\r\n', '\u2028']) assert.equal(CANCEL_ID_PATTERN.test(id + end), false, JSON.stringify(end));
  assert.equal(CANCEL_ID_PATTERN.test(`\n${id}`), false);
});

test("the local log takes topic names by RocketMQ's whole-string rule: no trailing line terminator; the config, as DDMQ's, any non-empty name", () => {
  const topicConfig = (topic: string) => schemas.strict.topicConfig.safeParse({ topic, topicUnits: [{ brokerCluster: 'C' }] }).success;
  for (const [topic, valid] of [['orders', true], ['a%b|c_d-e', true], ['orders\n', false], ['orders\r\n', false], ['\norders', false], ['orders\u2028', false], ['t'.repeat(256), false]] as const) {
    assert.equal(isValidTopicName(topic), valid, `local log: ${JSON.stringify(topic)}`);
    assert.equal(topicConfig(topic), true, `config: ${JSON.stringify(topic)}`);
  }
  assert.equal(topicConfig(''), false);
});
