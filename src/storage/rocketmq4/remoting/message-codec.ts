/**
 * A message as a RocketMQ 4.x producer puts it on the wire: its properties string, its client
 * message id (UNIQ_KEY), its body compressed with zlib above a size, and the batch body of
 * SEND_BATCH_MESSAGE. Pure: no sockets.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const deflate = promisify(zlib.deflate);

export interface OutgoingMessage {
  body: Buffer;
  tags?: string;
  keys?: string[];
  /** User properties; a name the client sets itself (TAGS, KEYS, WAIT, UNIQ_KEY) is refused. */
  properties?: Record<string, string>;
  /** The message's int flag, the application's own (not the sysFlag). */
  flag?: number;
}

/** Property names (MessageConst) this client writes. */
export const Property = { TAGS: 'TAGS', KEYS: 'KEYS', WAIT: 'WAIT', UNIQ_KEY: 'UNIQ_KEY' } as const;
const SYSTEM_NAMES = new Set<string>(Object.values(Property));
/** Keys are one property, space-separated. */
const KEY_SEPARATOR = ' ';
const NAME_VALUE_SEPARATOR = '\u0001';
const PROPERTY_SEPARATOR = '\u0002';

/** sysFlag bit: the body is zlib-compressed. */
export const SYSFLAG_COMPRESSED = 0x1;
/** The 4.x producer's defaults: compress bodies of 4 KiB and more, at zlib level 5. */
export const COMPRESS_OVER_BYTES = 4096;
const COMPRESS_LEVEL = 5;
/** The batch format's properties length is an int16. */
const MAX_BATCH_PROPERTIES_BYTES = 0x7fff;

/** `name \u0001 value` joined by `\u0002`, no trailing separator. */
export function encodeProperties(properties: Record<string, string>): string {
  return Object.entries(properties)
    .map(([name, value]) => `${name}${NAME_VALUE_SEPARATOR}${value}`)
    .join(PROPERTY_SEPARATOR);
}

export function decodeProperties(text: string): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const pair of text.split(PROPERTY_SEPARATOR)) {
    const at = pair.indexOf(NAME_VALUE_SEPARATOR);
    if (at > 0) properties[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return properties;
}

/**
 * The properties a 4.x producer writes for `message`: TAGS and KEYS when given, WAIT=true (wait
 * for the store before answering, the client's default), the user's, and UNIQ_KEY.
 */
export function messageProperties(message: OutgoingMessage, uniqKey: string): Record<string, string> {
  const properties: Record<string, string> = {};
  if (message.tags) properties[Property.TAGS] = message.tags;
  if (message.keys && message.keys.length > 0) properties[Property.KEYS] = message.keys.join(KEY_SEPARATOR);
  properties[Property.WAIT] = 'true';
  for (const [name, value] of Object.entries(message.properties ?? {})) {
    if (SYSTEM_NAMES.has(name)) throw new Error(`property name ${name} is reserved by RocketMQ`);
    if (name === '' || /[\u0001\u0002]/.test(name + value)) throw new Error(`property ${JSON.stringify(name)} is empty or holds a separator character`);
    properties[name] = value;
  }
  properties[Property.UNIQ_KEY] = uniqKey;
  return properties;
}

/** A single message's body as sent, and the sysFlag that says how. */
export interface WireBody {
  readonly body: Buffer;
  readonly sysFlag: number;
}

/**
 * The body to send and its sysFlag: zlib at or above `threshold` bytes, as the 4.x producer does;
 * deflated on libuv's thread pool, so a large body does not hold the event loop.
 */
export async function compressBody(body: Buffer, threshold = COMPRESS_OVER_BYTES): Promise<WireBody> {
  if (body.length < threshold) return { body, sysFlag: 0 };
  // only the compressed bit: every 4.x consumer reads it as zlib (newer ones also read a type in
  // bits 8-10, where 0 means zlib too)
  return { body: await deflate(body, { level: COMPRESS_LEVEL }), sysFlag: SYSFLAG_COMPRESSED };
}

/**
 * The batch body (MessageDecoder.encodeMessages): per message int32 total size | int32 magic (0) |
 * int32 body CRC (0, the broker computes it) | int32 flag | int32 body length + body | int16
 * properties length + properties. Batched bodies are not compressed (the 4.x producer does not).
 */
export function encodeBatchBody(messages: { flag: number; body: Buffer; properties: string }[]): Buffer {
  return Buffer.concat(
    messages.map(({ flag, body, properties }) => {
      const props = Buffer.from(properties, 'utf8');
      if (props.length > MAX_BATCH_PROPERTIES_BYTES) throw new Error(`batched message properties of ${props.length} bytes exceed ${MAX_BATCH_PROPERTIES_BYTES}`);
      const size = 4 + 4 + 4 + 4 + 4 + body.length + 2 + props.length;
      const out = Buffer.allocUnsafe(size);
      let at = out.writeInt32BE(size, 0);
      at = out.writeInt32BE(0, at);
      at = out.writeInt32BE(0, at);
      at = out.writeInt32BE(flag, at);
      at = out.writeInt32BE(body.length, at);
      at += body.copy(out, at);
      at = out.writeInt16BE(props.length, at);
      props.copy(out, at);
      return out;
    }),
  );
}

/**
 * Message ids as MessageClientIDSetter makes them: 16 bytes as 32 upper-case hex digits: IPv4
 * address (4) | pid (2) | a per-process random int (4; the Java client's class loader hash) |
 * milliseconds since the start of the current month (4) | a counter (2).
 */
export class UniqIdGenerator {
  private readonly fixed: string;
  private counter = 0;
  private monthStart = 0;
  private nextMonthStart = 0;

  constructor(ip: Buffer = localIPv4(), pid: number = process.pid, salt: Buffer = randomBytes(4)) {
    const fixed = Buffer.alloc(10);
    ip.copy(fixed, 0, 0, 4);
    fixed.writeUInt16BE(pid & 0xffff, 4);
    salt.copy(fixed, 6, 0, 4);
    this.fixed = fixed.toString('hex').toUpperCase();
  }

  next(now = Date.now()): string {
    if (now >= this.nextMonthStart) {
      const d = new Date(now);
      this.monthStart = new Date(d.getFullYear(), d.getMonth(), 1).getTime();
      this.nextMonthStart = new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
    }
    const tail = Buffer.alloc(6);
    tail.writeInt32BE(Math.max(0, now - this.monthStart) | 0, 0);
    tail.writeUInt16BE(this.counter, 4);
    this.counter = (this.counter + 1) & 0xffff;
    return this.fixed + tail.toString('hex').toUpperCase();
  }
}

/** The first non-internal IPv4 address, else 127.0.0.1 (the id only needs to differ between hosts). */
function localIPv4(): Buffer {
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return Buffer.from(a.address.split('.').map(Number));
  }
  return Buffer.from([127, 0, 0, 1]);
}
