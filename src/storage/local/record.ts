/**
 * The on-disk record of the local log. Layout, all integers big-endian:
 *
 *   u32 length of the rest | u32 crc32 of everything after the crc | u8 magic | u8 flags
 *   | i64 offset | i64 timestampMs | key | tags | properties | body
 *
 * key and tags are `u32 length + UTF-8` with 0xFFFFFFFF meaning absent, so an empty key stays
 * distinct from none; properties are `u32 count` then `u32 length + UTF-8` key/value pairs; the body
 * is `u32 length + bytes`. The length prefix lets a reader skip a record without parsing it and tell
 * a record cut short by a crash (incomplete) from one that was damaged (corrupt).
 */
import { crc32 } from 'node:zlib';
import type { OutgoingMessage } from '../storage';

/** The parts of a message a record keeps; routing hints and the topic live in the path. */
export type RecordFields = Pick<OutgoingMessage, 'key' | 'tags' | 'properties' | 'body' | 'timestamp'>;

export interface StoredRecord {
  offset: bigint;
  timestamp: number;
  key?: string;
  tags?: string;
  properties: Map<string, string>;
  body: Buffer;
}

/** A record whose bytes checked out, located in the buffer it was read from. */
export interface ValidFrame {
  readonly kind: 'record';
  readonly offset: bigint;
  /** Position just past the record. */
  readonly end: number;
}

/** The buffer ends inside the record; `needed` bytes from its start would complete it. */
export interface IncompleteFrame {
  readonly kind: 'incomplete';
  readonly needed: number;
}

export interface CorruptFrame {
  readonly kind: 'corrupt';
  readonly reason: string;
}

export type FrameCheck = ValidFrame | IncompleteFrame | CorruptFrame;

export type DecodeResult =
  | { readonly kind: 'record'; readonly record: StoredRecord; readonly next: number }
  | IncompleteFrame
  | CorruptFrame;

const RECORD_MAGIC = 1;

const ABSENT = 0xffffffff;
const LENGTH_BYTES = 4;
const CRC_BYTES = 4;
/** magic, flags, offset, timestamp. */
const HEADER_AFTER_CRC = 1 + 1 + 8 + 8;
/** crc, header, and the four length/count fields of a record with nothing in them. */
const MIN_REST_LENGTH = CRC_BYTES + HEADER_AFTER_CRC + 4 * 4;
const FIELDS_START = LENGTH_BYTES + CRC_BYTES + HEADER_AFTER_CRC;

/** Bytes the record of these fields takes on disk, length prefix included. */
export function encodedRecordLength(fields: RecordFields): number {
  let length = FIELDS_START + 4 + 4 + 4 + 4 + fields.body.length;
  if (fields.key !== undefined) length += Buffer.byteLength(fields.key, 'utf8');
  if (fields.tags !== undefined) length += Buffer.byteLength(fields.tags, 'utf8');
  if (fields.properties !== undefined) {
    for (const [name, value] of fields.properties) {
      length += 8 + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8');
    }
  }
  return length;
}

/**
 * Writes the record at `position` of `target`, which must have room for
 * encodedRecordLength(fields) bytes there, and returns the position just past it.
 */
export function encodeRecordInto(target: Buffer, position: number, offset: bigint, fields: RecordFields): number {
  let cursor = position + LENGTH_BYTES + CRC_BYTES;
  target[cursor++] = RECORD_MAGIC;
  target[cursor++] = 0;
  cursor = target.writeBigInt64BE(offset, cursor);
  cursor = target.writeBigInt64BE(BigInt(Math.trunc(fields.timestamp)), cursor);
  cursor = writeOptionalString(target, cursor, fields.key);
  cursor = writeOptionalString(target, cursor, fields.tags);
  cursor = target.writeUInt32BE(fields.properties?.size ?? 0, cursor);
  if (fields.properties !== undefined) {
    for (const [name, value] of fields.properties) {
      cursor = writeString(target, cursor, name);
      cursor = writeString(target, cursor, value);
    }
  }
  cursor = target.writeUInt32BE(fields.body.length, cursor);
  cursor += fields.body.copy(target, cursor);
  target.writeUInt32BE(cursor - position - LENGTH_BYTES, position);
  target.writeUInt32BE(crc32(target.subarray(position + LENGTH_BYTES + CRC_BYTES, cursor)), position + LENGTH_BYTES);
  return cursor;
}

/** One record in a Buffer of its own. */
export function encodeRecord(offset: bigint, fields: RecordFields): Buffer {
  const buffer = Buffer.allocUnsafe(encodedRecordLength(fields));
  encodeRecordInto(buffer, 0, offset, fields);
  return buffer;
}

/**
 * Checks the record starting at `position`, reading no further than `limit`: its length, crc,
 * magic, and that its fields exactly fill it. Copies nothing.
 */
export function checkFrame(buffer: Buffer, position: number, limit: number = buffer.length): FrameCheck {
  if (limit - position < LENGTH_BYTES) return { kind: 'incomplete', needed: LENGTH_BYTES };
  const restLength = buffer.readUInt32BE(position);
  if (restLength < MIN_REST_LENGTH) {
    return { kind: 'corrupt', reason: `impossible record length ${restLength} (minimum ${MIN_REST_LENGTH})` };
  }
  const end = position + LENGTH_BYTES + restLength;
  if (end > limit) return { kind: 'incomplete', needed: LENGTH_BYTES + restLength };
  const storedCrc = buffer.readUInt32BE(position + LENGTH_BYTES);
  const actualCrc = crc32(buffer.subarray(position + LENGTH_BYTES + CRC_BYTES, end));
  if (storedCrc !== actualCrc) return { kind: 'corrupt', reason: 'crc mismatch' };
  const magic = buffer[position + LENGTH_BYTES + CRC_BYTES];
  if (magic !== RECORD_MAGIC) return { kind: 'corrupt', reason: `bad magic ${magic}` };
  if (!fieldsFill(buffer, position + FIELDS_START, end)) {
    return { kind: 'corrupt', reason: 'impossible field length: fields do not fill the record' };
  }
  return { kind: 'record', offset: buffer.readBigInt64BE(position + LENGTH_BYTES + CRC_BYTES + 2), end };
}

/** Materialises a record checkFrame accepted. The body is copied so it outlives `buffer`. */
export function decodeFrame(buffer: Buffer, position: number): StoredRecord {
  const header = position + LENGTH_BYTES + CRC_BYTES + 2;
  let cursor = position + FIELDS_START;
  const keyLength = buffer.readUInt32BE(cursor);
  const key = keyLength === ABSENT ? undefined : buffer.toString('utf8', cursor + 4, cursor + 4 + keyLength);
  cursor += keyLength === ABSENT ? 4 : 4 + keyLength;
  const tagsLength = buffer.readUInt32BE(cursor);
  const tags = tagsLength === ABSENT ? undefined : buffer.toString('utf8', cursor + 4, cursor + 4 + tagsLength);
  cursor += tagsLength === ABSENT ? 4 : 4 + tagsLength;
  const properties = new Map<string, string>();
  const propertyCount = buffer.readUInt32BE(cursor);
  cursor += 4;
  for (let i = 0; i < propertyCount; i++) {
    const nameLength = buffer.readUInt32BE(cursor);
    const name = buffer.toString('utf8', cursor + 4, cursor + 4 + nameLength);
    cursor += 4 + nameLength;
    const valueLength = buffer.readUInt32BE(cursor);
    properties.set(name, buffer.toString('utf8', cursor + 4, cursor + 4 + valueLength));
    cursor += 4 + valueLength;
  }
  const bodyLength = buffer.readUInt32BE(cursor);
  const record: StoredRecord = {
    offset: buffer.readBigInt64BE(header),
    timestamp: Number(buffer.readBigInt64BE(header + 8)),
    properties,
    body: Buffer.from(buffer.subarray(cursor + 4, cursor + 4 + bodyLength)),
  };
  if (key !== undefined) record.key = key;
  if (tags !== undefined) record.tags = tags;
  return record;
}

/** Decodes the record at `position`, or says why there is no whole, valid record there. */
export function decodeRecord(buffer: Buffer, position: number, limit: number = buffer.length): DecodeResult {
  const frame = checkFrame(buffer, position, limit);
  if (frame.kind !== 'record') return frame;
  return { kind: 'record', record: decodeFrame(buffer, position), next: frame.end };
}

function writeString(target: Buffer, position: number, value: string): number {
  const written = target.write(value, position + 4, 'utf8');
  target.writeUInt32BE(written, position);
  return position + 4 + written;
}

function writeOptionalString(target: Buffer, position: number, value: string | undefined): number {
  if (value === undefined) return target.writeUInt32BE(ABSENT, position);
  return writeString(target, position, value);
}

/**
 * Walks the field lengths from `cursor`: a crc only proves the bytes are what the writer wrote, this
 * proves the writer wrote something decodeFrame can read without running past the record.
 */
function fieldsFill(buffer: Buffer, cursor: number, end: number): boolean {
  cursor = skipSized(buffer, cursor, end, true);
  cursor = skipSized(buffer, cursor, end, true);
  if (cursor < 0 || end - cursor < 4) return false;
  const propertyCount = buffer.readUInt32BE(cursor);
  cursor += 4;
  for (let i = 0; i < 2 * propertyCount && cursor >= 0; i++) cursor = skipSized(buffer, cursor, end, false);
  return skipSized(buffer, cursor, end, false) === end;
}

/** Position past the `u32 length + bytes` field at `cursor`, or -1 when it overruns `end`. */
function skipSized(buffer: Buffer, cursor: number, end: number, mayBeAbsent: boolean): number {
  if (cursor < 0 || end - cursor < 4) return -1;
  const length = buffer.readUInt32BE(cursor);
  if (mayBeAbsent && length === ABSENT) return cursor + 4;
  return end - cursor - 4 < length ? -1 : cursor + 4 + length;
}
