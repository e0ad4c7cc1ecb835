/**
 * Thrift compact protocol primitives, read and written directly on Buffers.
 *
 * Why not the stock `thrift` codec on the server: it allocates per field and per i64 (node-int64),
 * cannot bound a frame before buffering it, and its es6 processor silently never replies to some
 * handler shapes. The proxy decodes only four call shapes, so a small exact codec
 * is cheaper and fully under our control. Byte compatibility is proven by the stock Node client and
 * Apache Thrift's Python client in the tests.
 *
 * Wire format: https://github.com/apache/thrift/blob/master/doc/specs/thrift-compact-protocol.md
 */
import { writeVarint32At, zigzagEncode32 } from '../protocol/varint';

export const enum CType {
  STOP = 0,
  BOOL_TRUE = 1,
  BOOL_FALSE = 2,
  BYTE = 3,
  I16 = 4,
  I32 = 5,
  I64 = 6,
  DOUBLE = 7,
  BINARY = 8,
  LIST = 9,
  SET = 10,
  MAP = 11,
  STRUCT = 12,
  UUID = 13,
}

export const PROTOCOL_ID = 0x82;
export const VERSION = 1;

export const enum MessageType {
  CALL = 1,
  REPLY = 2,
  EXCEPTION = 3,
  ONEWAY = 4,
}

/** Nesting deeper than this is refused: it only comes from hostile or broken input. */
const MAX_DEPTH = 64;

/** The bytes do not form valid compact-protocol data. */
export class ThriftDecodeError extends Error {
  override readonly name = 'ThriftDecodeError';
}

/** Reads compact-protocol values from one frame. Every length is checked against the frame end. */
export class CompactReader {
  pos: number;
  /** Set by readFieldHeader. */
  fieldType: number = CType.STOP;
  fieldId = 0;
  /** Value of the last boolean field header (compact encodes it in the type nibble). */
  private fieldBool: boolean | undefined;

  constructor(
    readonly buf: Buffer,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  readByte(): number {
    if (this.pos >= this.end) throw new ThriftDecodeError('unexpected end of frame');
    return this.buf[this.pos++]!;
  }

  /** Unsigned varint of at most 32 bits, returned as a uint32. */
  readVarint32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.readByte();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 28) throw new ThriftDecodeError('varint32 longer than 5 bytes');
    }
  }

  readI16(): number {
    return zigzag32(this.readVarint32());
  }

  readI32(): number {
    return zigzag32(this.readVarint32());
  }

  /** i64 as an exact bigint. Up to 7 varint bytes (49 bits) are summed as a number first. */
  readI64(): bigint {
    let small = 0;
    let multiplier = 1;
    for (let i = 0; i < 7; i++) {
      const b = this.readByte();
      small += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) {
        // zigzag on a non-negative integer below 2^49, exact in doubles
        return BigInt(small % 2 === 0 ? small / 2 : -(small + 1) / 2);
      }
      multiplier *= 128;
    }
    let big = BigInt(small);
    let shift = 49n;
    for (let i = 7; i < 10; i++) {
      const b = this.readByte();
      big |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        big = BigInt.asUintN(64, big);
        return (big >> 1n) ^ -(big & 1n);
      }
      shift += 7n;
    }
    throw new ThriftDecodeError('varint64 longer than 10 bytes');
  }

  readDouble(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Binary value as a view into the frame (no copy). */
  readBinary(): Buffer {
    const len = this.readVarint32();
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return this.buf.subarray(start, start + len);
  }

  readString(): string {
    return this.readUtf8(this.readLength());
  }

  /** The length prefix of a binary or string value, checked against the frame end. */
  readLength(): number {
    const len = this.readVarint32();
    this.need(len);
    return len;
  }

  /** The `len` bytes a readLength announced, as a string. */
  readUtf8(len: number): string {
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return this.buf.toString('utf8', start, start + len);
  }

  /** Reads a field header relative to `lastId`; leaves type and id in fieldType / fieldId. */
  readFieldHeader(lastId: number): void {
    const b = this.readByte();
    const type = b & 0x0f;
    if (type === CType.STOP) {
      this.fieldType = CType.STOP;
      return;
    }
    const delta = b >> 4;
    this.fieldId = delta !== 0 ? lastId + delta : this.readI16();
    if (type === CType.BOOL_TRUE || type === CType.BOOL_FALSE) {
      this.fieldBool = type === CType.BOOL_TRUE;
    } else {
      this.fieldBool = undefined;
    }
    this.fieldType = type;
  }

  /** Boolean value of the current field (encoded in its header). */
  readFieldBool(): boolean {
    if (this.fieldBool === undefined) throw new ThriftDecodeError('field is not a boolean');
    return this.fieldBool;
  }

  /** List or set header: element type and size. */
  readListHeader(): { elemType: number; size: number } {
    const b = this.readByte();
    const elemType = b & 0x0f;
    let size = b >> 4;
    if (size === 15) size = this.readVarint32();
    // every element takes at least one byte, so a larger size cannot fit in the frame
    if (size > this.remaining()) throw new ThriftDecodeError(`list size ${size} exceeds the frame`);
    return { elemType, size };
  }

  /** Map header: key/value types and size (types are absent on the wire when size is 0). */
  readMapHeader(): { keyType: number; valueType: number; size: number } {
    const size = this.readVarint32();
    if (size === 0) return { keyType: CType.STOP, valueType: CType.STOP, size };
    if (size * 2 > this.remaining()) throw new ThriftDecodeError(`map size ${size} exceeds the frame`);
    const types = this.readByte();
    return { keyType: types >> 4, valueType: types & 0x0f, size };
  }

  /** Skips one value of the given type (unknown or mistyped fields, as Thrift readers do). */
  skip(type: number, depth = 0): void {
    if (depth > MAX_DEPTH) throw new ThriftDecodeError('nesting too deep');
    switch (type) {
      case CType.BOOL_TRUE:
      case CType.BOOL_FALSE:
        return; // value lives in the field header; in containers it is one byte, see skipElement
      case CType.BYTE:
        this.readByte();
        return;
      case CType.I16:
      case CType.I32:
        this.readVarint32();
        return;
      case CType.I64:
        this.readI64();
        return;
      case CType.DOUBLE:
        this.need(8);
        this.pos += 8;
        return;
      case CType.BINARY: {
        const len = this.readVarint32();
        this.need(len);
        this.pos += len;
        return;
      }
      case CType.UUID:
        this.need(16);
        this.pos += 16;
        return;
      case CType.STRUCT: {
        let lastId = 0;
        for (;;) {
          this.readFieldHeader(lastId);
          if (this.fieldType === CType.STOP) return;
          lastId = this.fieldId;
          this.skip(this.fieldType, depth + 1);
        }
      }
      case CType.LIST:
      case CType.SET: {
        const { elemType, size } = this.readListHeader();
        for (let i = 0; i < size; i++) this.skipElement(elemType, depth + 1);
        return;
      }
      case CType.MAP: {
        const { keyType, valueType, size } = this.readMapHeader();
        for (let i = 0; i < size; i++) {
          this.skipElement(keyType, depth + 1);
          this.skipElement(valueType, depth + 1);
        }
        return;
      }
      default:
        throw new ThriftDecodeError(`unknown compact type ${type}`);
    }
  }

  /** Container elements: booleans are a whole byte there, unlike in field headers. */
  skipElement(type: number, depth: number): void {
    if (type === CType.BOOL_TRUE || type === CType.BOOL_FALSE) this.readByte();
    else this.skip(type, depth);
  }

  private need(n: number): void {
    if (n > this.end - this.pos) throw new ThriftDecodeError('unexpected end of frame');
  }
}

function zigzag32(n: number): number {
  return (n >>> 1) ^ -(n & 1);
}

/** Appends compact-protocol values to a growable buffer. Used for replies, which are small. */
export class CompactWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initialSize = 128) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.len;
  }

  /** A copy of what was written. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }

  writeByte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b & 0xff;
  }

  writeBytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  writeVarint32(n: number): void {
    this.ensure(5);
    this.len = writeVarint32At(this.buf, this.len, n);
  }

  writeI32(n: number): void {
    this.writeVarint32(zigzagEncode32(n));
  }

  writeString(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.writeVarint32(bytes.length);
    this.writeBytes(bytes);
  }

  /** Field header with the short (delta) form when possible. */
  writeFieldHeader(type: number, id: number, lastId: number): void {
    const delta = id - lastId;
    if (delta > 0 && delta <= 15) {
      this.writeByte((delta << 4) | type);
    } else {
      this.writeByte(type);
      this.writeI32(id); // i16 zigzag varint has the same encoding as i32 for small values
    }
  }

  writeStop(): void {
    this.writeByte(CType.STOP);
  }

  writeMessageBegin(name: string, type: MessageType, seqid: number): void {
    this.writeByte(PROTOCOL_ID);
    this.writeByte((type << 5) | VERSION);
    this.writeVarint32(seqid);
    this.writeString(name);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}
