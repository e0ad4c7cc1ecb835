/**
 * Wire bytes for the benchmark: calls pre-encoded once with the stock `thrift` library (the
 * generated client writing into a capturing transport), and just enough compact-protocol decoding
 * to match a reply to its call and read its Result.code.
 *
 * A compact message starts with 0x82, a version/type byte, the seqid as a varint, then the method
 * name. Sending a call therefore needs only a fresh 10-byte head (frame length, 0x82, type, a
 * 4-byte seqid varint) in front of a tail that is shared by every call: seqids are kept in
 * [2^21, 2^28), where the varint is exactly 4 bytes, so the tail never moves.
 */
import thrift from 'thrift';
import { int64 } from '../src/client/producer-client';
import { Client } from '../src/gen/ProducerService';
import { Message, Result } from '../src/gen/producer_types';

const PROTOCOL_ID = 0x82;
const CALL = 1;
const REPLY = 2;
const EXCEPTION = 3;
const TYPE_SHIFT = 5;
const VERSION = 1;

/** Compact-protocol type ids (not Thrift.Type's). */
const COMPACT_I32 = 5;
const COMPACT_STRUCT = 12;

export const SEQID_MIN = 1 << 21;
export const SEQID_SPAN = (1 << 28) - SEQID_MIN;
const HEAD_BYTES = 10;

/** One call, encoded once: everything after the seqid varint. */
export interface CallTemplate {
  readonly tail: Buffer;
  /** Messages the call carries (1 for sendSync), for msgs/s. */
  readonly messages: number;
}

export interface CallShape {
  topic: string;
  bodyBytes: number;
  /** 1: sendSync; more: sendBatchSync of that many messages. */
  batch: number;
  /** sendSync's timeout argument (ms). */
  timeoutMs: number;
}

/** Encodes a call with the generated client (seqid 1) and keeps the bytes after the seqid. */
export function encodeCall(shape: CallShape): CallTemplate {
  let frame: Buffer | undefined;
  const transport = new thrift.TFramedTransport(undefined, (buf) => (frame = buf));
  const client = new Client(transport, thrift.TCompactProtocol);
  const body = Buffer.alloc(shape.bodyBytes, 'x');
  const message = () => {
    const m = new Message(); // unset optional fields are not written, as with the CLI's client
    m.topic = shape.topic;
    m.body = body;
    m.partitionId = -2; // a random partition per message, so Kafka's partitions share the load
    m.hashId = int64(0n);
    return m;
  };
  // the promise never settles: this client has no connection, only its encoder is used
  if (shape.batch === 1) void client.sendSync(message(), int64(BigInt(shape.timeoutMs)));
  else void client.sendBatchSync(Array.from({ length: shape.batch }, message));
  if (!frame) throw new Error('the generated client wrote nothing');
  const header = readHeader(frame, 4);
  if (header.type !== CALL || header.seqid !== 1) throw new Error('unexpected call header from the generated client');
  return {
    tail: frame.subarray(4 + 2 + 1), // length prefix, 0x82 + type, the 1-byte varint of seqid 1
    messages: shape.batch,
  };
}

/** The 10-byte head of a call with `seqid` (in [SEQID_MIN, SEQID_MIN + SEQID_SPAN)). */
export function callHead(template: CallTemplate, seqid: number): Buffer {
  const head = Buffer.allocUnsafe(HEAD_BYTES);
  head.writeUInt32BE(HEAD_BYTES - 4 + template.tail.length, 0);
  head[4] = PROTOCOL_ID;
  head[5] = (CALL << TYPE_SHIFT) | VERSION;
  head[6] = (seqid & 0x7f) | 0x80;
  head[7] = ((seqid >>> 7) & 0x7f) | 0x80;
  head[8] = ((seqid >>> 14) & 0x7f) | 0x80;
  head[9] = seqid >>> 21;
  return head;
}

/**
 * A `sendSync` REPLY of Result{code 0, msg "OK"} with seqid 0, framed, written by the stock library.
 * The struct is written by the generated Result (its `write` is not in the generated typings).
 */
export function encodeOkReply(): Buffer {
  let frame: Buffer | undefined;
  const transport = new thrift.TFramedTransport(undefined, (buf) => (frame = buf));
  const protocol = new thrift.TCompactProtocol(transport);
  protocol.writeMessageBegin('sendSync', thrift.Thrift.MessageType.REPLY, 0);
  protocol.writeStructBegin('ProducerService_sendSync_result');
  protocol.writeFieldBegin('success', thrift.Thrift.Type.STRUCT, 0);
  (new Result({ code: 0, msg: 'OK' }) as unknown as { write(p: thrift.TProtocol): void }).write(protocol);
  protocol.writeFieldEnd();
  protocol.writeFieldStop();
  protocol.writeStructEnd();
  protocol.writeMessageEnd();
  transport.flush();
  if (!frame) throw new Error('the stock protocol wrote nothing');
  return frame;
}

export interface MessageHeader {
  type: number;
  seqid: number;
  /** Offset of the first byte after the method name. */
  end: number;
}

/** Reads a compact message header at `pos` (the byte after the frame length). */
export function readHeader(buf: Buffer, pos: number): MessageHeader {
  if (buf[pos] !== PROTOCOL_ID) throw new Error(`not a compact-protocol message (first byte ${buf[pos]})`);
  const type = (buf[pos + 1]! >> TYPE_SHIFT) & 0x07;
  const seqid = readVarint(buf, pos + 2);
  const nameLength = readVarint(buf, seqid.end);
  return { type, seqid: seqid.value, end: nameLength.end + nameLength.value };
}

/** What a reply says: a DDMQ result code, or a label for a reply that carries none. */
export type Outcome = number | string;

/** The seqid and Result.code of a reply frame (`start` after the length prefix, `end` exclusive). */
export function parseReply(buf: Buffer, start: number, end: number): { seqid: number; outcome: Outcome } {
  const header = readHeader(buf, start);
  if (header.type === EXCEPTION) return { seqid: header.seqid, outcome: 'TApplicationException' };
  if (header.type !== REPLY) return { seqid: header.seqid, outcome: `message type ${header.type}` };
  // the result struct's field 0 (success), then Result's first field, which is code (i32, id 1)
  const success = readFieldHeader(buf, header.end);
  if (success.id !== 0 || success.type !== COMPACT_STRUCT) return { seqid: header.seqid, outcome: 'no success field' };
  const code = readFieldHeader(buf, success.end);
  if (code.id !== 1 || code.type !== COMPACT_I32 || code.end >= end) return { seqid: header.seqid, outcome: 'no code field' };
  const raw = readVarint(buf, code.end).value;
  return { seqid: header.seqid, outcome: (raw >>> 1) ^ -(raw & 1) };
}

/** A compact field header: short form (id delta in the high nibble) or type byte + zigzag i16 id. */
function readFieldHeader(buf: Buffer, pos: number): { type: number; id: number; end: number } {
  const byte = buf[pos]!;
  const delta = byte >> 4;
  if (delta !== 0) return { type: byte & 0x0f, id: delta, end: pos + 1 }; // delta from id 0: the struct's first field
  const id = readVarint(buf, pos + 1);
  return { type: byte & 0x0f, id: (id.value >>> 1) ^ -(id.value & 1), end: id.end };
}

function readVarint(buf: Buffer, pos: number): { value: number; end: number } {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    if (byte === undefined) throw new Error('truncated varint');
    value |= (byte & 0x7f) << shift;
    if (byte < 0x80) return { value: value >>> 0, end: pos };
    shift += 7;
  }
}

/**
 * Splits a byte stream into frames. `onFrame` gets the buffer and the message's bounds (after the
 * length prefix); the buffer may be reused after the call returns, and so may the chunk given to
 * `feed` once it returns (an incomplete frame's bytes are copied).
 */
export class FrameReader {
  private pending: Buffer | undefined;

  constructor(private readonly onFrame: (buf: Buffer, start: number, end: number) => void) {}

  feed(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    while (buf.length - pos >= 4) {
      const end = pos + 4 + buf.readUInt32BE(pos);
      if (end > buf.length) break;
      this.onFrame(buf, pos + 4, end);
      pos = end;
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : undefined;
  }
}
