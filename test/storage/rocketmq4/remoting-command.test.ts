/**
 * The remoting frame codec: both header serialisations round-trip, frames captured from a real
 * RocketMQ 4.9.7 name server (test/fixtures/rocketmq4/*.bin) decode, and bad lengths are errors
 * that name the numbers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../../bench/peers/peer-jars';
import {
  command,
  decodeFrame,
  encodeCommand,
  FLAG_ONEWAY,
  FLAG_RESPONSE,
  frameLength,
  isOneway,
  isResponse,
  SerializeType,
  type RemotingCommand,
} from '../../../src/storage/rocketmq4/remoting/remoting-command';
import { RemotingError } from '../../../src/storage/rocketmq4/remoting/remoting-error';

const fixture = (name: string) => fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/rocketmq4', name));

function sample(): RemotingCommand {
  return {
    ...command(310, { a: 'group', i: 'TAGS\u0001t\u0002UNIQ_KEY\u0001AB', ü: 'ä€' }, Buffer.from([0, 1, 2, 255])),
    opaque: 0x7fffff01,
    flag: FLAG_ONEWAY,
    remark: 'a remark ✓',
  };
}

for (const [name, type] of Object.entries(SerializeType)) {
  test(`${name} header: encode then decode gives the same command; the header length's high byte is ${type}`, () => {
    const cmd = sample();
    const frame = encodeCommand(cmd, type);
    assert.equal(frame.readInt32BE(0), frame.length - 4);
    assert.equal(frame[4], type);
    const headerLength = frame.readInt32BE(4) & 0xffffff;
    assert.deepEqual(frame.subarray(8 + headerLength), cmd.body);
    assert.deepEqual(decodeFrame(frame.subarray(4)), cmd);
  });
}

test('ROCKETMQ header layout: code, language, version, opaque, flag, remark, ext fields at their offsets', () => {
  const cmd = { ...command(105, { topic: 'T' }), opaque: 9, flag: 0 };
  const frame = encodeCommand(cmd, SerializeType.ROCKETMQ);
  const h = frame.subarray(8);
  assert.deepEqual(
    [h.readInt16BE(0), h.readInt8(2), h.readInt16BE(3), h.readInt32BE(5), h.readInt32BE(9), h.readInt32BE(13), h.readInt32BE(17)],
    [105, 7, 409, 9, 0, 0, 2 + 5 + 4 + 1],
  );
  assert.deepEqual([h.readInt16BE(21), h.toString('utf8', 23, 28), h.readInt32BE(28), h.toString('utf8', 32, 33)], [5, 'topic', 1, 'T']);
  assert.equal(h.length, 33);
});

test('an empty command (no ext fields, remark or body) round-trips as empty, in both types', () => {
  for (const type of Object.values(SerializeType)) {
    const cmd = command(34);
    assert.deepEqual(decodeFrame(encodeCommand(cmd, type).subarray(4)), cmd);
  }
});

test('real 4.9.7 name server answers to an unknown topic decode in both types: code 17, response flag, opaque, remark', () => {
  for (const file of ['not-exist-json.bin', 'not-exist-rocketmq.bin']) {
    const frame = fixture(file);
    const cmd = decodeFrame(frame.subarray(4, 4 + frameLength(frame, 0, 1 << 20)));
    assert.equal(cmd.code, 17, file);
    assert.equal(cmd.opaque, 77, file);
    assert.ok(isResponse(cmd) && !isOneway(cmd), file);
    assert.equal(cmd.language, 0, file);
    assert.match(cmd.remark ?? '', /^No topic route info in name server for the topic: nope\n/, file);
    assert.equal(cmd.body, undefined, file);
  }
});

test('flags: the response and oneway bits', () => {
  assert.equal(FLAG_RESPONSE, 1);
  assert.equal(FLAG_ONEWAY, 2);
  assert.ok(isResponse({ ...command(0), flag: 3 }) && isOneway({ ...command(0), flag: 3 }));
  assert.ok(!isResponse(command(0)) && !isOneway(command(0)));
});

test('a frame length over the maximum, or under 4, is a protocol error naming the numbers', () => {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32BE(0x7ffffff0);
  assert.throws(() => frameLength(prefix, 0, 16 << 20), (e: unknown) => e instanceof RemotingError && e.kind === 'protocol' && /2147483632 outside 4\.\.16777216/.test(e.message));
  prefix.writeInt32BE(-1);
  assert.throws(() => frameLength(prefix, 0, 1000), /-1 outside 4\.\.1000/);
  prefix.writeInt32BE(3);
  assert.throws(() => frameLength(prefix, 0, 1000), /3 outside/);
  prefix.writeInt32BE(1000);
  assert.equal(frameLength(prefix, 0, 1000), 1000);
});

test('a header length past the frame, a truncated binary header, an unknown type or bad JSON are protocol errors', () => {
  const frame = encodeCommand(sample(), SerializeType.ROCKETMQ).subarray(4);
  const protocol = (e: unknown) => e instanceof RemotingError && e.kind === 'protocol';
  const longHeader = Buffer.from(frame);
  longHeader.writeInt32BE((1 << 24) | (frame.length - 3), 0);
  assert.throws(() => decodeFrame(longHeader), (e: unknown) => protocol(e) && /exceeds the frame's remaining/.test((e as Error).message));
  const truncated = Buffer.from(frame.subarray(0, 4 + 20));
  truncated.writeInt32BE((1 << 24) | 20, 0);
  assert.throws(() => decodeFrame(truncated), protocol);
  const unknownType = Buffer.from(frame);
  unknownType[0] = 5;
  assert.throws(() => decodeFrame(unknownType), (e: unknown) => protocol(e) && /serialize type 5/.test((e as Error).message));
  const badJson = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{x:')]);
  assert.throws(() => decodeFrame(badJson), protocol);
});
