/**
 * Unsigned 32-bit varints: 7-bit groups, low first, the high bit set on every byte but the last.
 * Thrift's compact protocol and Kafka's record format both write integers this way, signed ones
 * zigzag-encoded first.
 */

/** Bytes of `n` (as unsigned 32 bits) in varint form. */
export function varint32Length(n: number): number {
  let length = 1;
  for (let v = n >>> 0; v >= 0x80; v >>>= 7) length++;
  return length;
}

/** Writes `n` (as unsigned 32 bits) in varint form at `offset`; returns the offset after it. */
export function writeVarint32At(buf: Buffer, offset: number, n: number): number {
  let v = n >>> 0;
  while (v >= 0x80) {
    buf[offset++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[offset++] = v;
  return offset;
}

/** A signed 32-bit value as an unsigned one, small magnitudes small: 0, -1, 1, -2 -> 0, 1, 2, 3. */
export function zigzagEncode32(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}
