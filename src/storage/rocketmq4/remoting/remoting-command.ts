/**
 * A RocketMQ remoting command and its frame: the codec, without sockets.
 *
 * Frame: int32 length of what follows | int32 header length, the serialize type in its high byte
 * and the length in the low 24 bits | header | body. All integers big-endian.
 *
 * Header, JSON (type 0): an object {code, language (the enum's name), version, opaque, flag,
 * remark, extFields: {string: string}}.
 * Header, ROCKETMQ (type 1): int16 code | int8 language | int16 version | int32 opaque | int32 flag |
 * int32 remark length + UTF-8 remark | int32 ext fields length + per field (int16 key length + key,
 * int32 value length + value).
 *
 * We send ROCKETMQ: every 4.x broker and name server decodes it in the same path as JSON and
 * answers in the type of the request, it is smaller, and it carries each ext field as exact bytes
 * (no JSON parser of the broker's between our strings and its map). Answers are decoded in either
 * type, since a server answers some failures (a request it rejects before its processor runs) in its
 * own default type, JSON.
 */
import { RemotingError } from './remoting-error';

export const SerializeType = { JSON: 0, ROCKETMQ: 1 } as const;
export type SerializeTypeCode = (typeof SerializeType)[keyof typeof SerializeType];

/** Flag bit 0: the command is a response; bit 1: a request that wants no response. */
export const FLAG_RESPONSE = 1 << 0;
export const FLAG_ONEWAY = 1 << 1;

/** LanguageCode values as every 4.x server knows them (a code it lacks decodes to null there). */
const LANGUAGES = ['JAVA', 'CPP', 'DOTNET', 'PYTHON', 'DELPHI', 'ERLANG', 'RUBY', 'OTHER', 'HTTP', 'GO', 'PHP', 'OMS', 'RUST', 'NODE_JS'] as const;
/** What we say we are: OTHER, since NODE_JS is unknown to 4.x servers. */
export const LANGUAGE_OTHER = 7;
/**
 * The version field: the 4.9.8 client's (MQVersion ordinal 409). Servers only compare it against
 * older versions to enable features a current client has.
 */
export const CLIENT_VERSION = 409;

/**
 * The largest frame accepted: the servers' own default limit (16 MiB), the 4-byte length prefix
 * excluded, as they count it.
 */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

export interface RemotingCommand {
  code: number;
  language: number;
  version: number;
  opaque: number;
  flag: number;
  remark: string | undefined;
  extFields: Record<string, string>;
  body: Buffer | undefined;
}

/** A request (or response) with the defaults we send: language OTHER, our version, no remark. */
export function command(code: number, extFields: Record<string, string> = {}, body?: Buffer): RemotingCommand {
  return { code, language: LANGUAGE_OTHER, version: CLIENT_VERSION, opaque: 0, flag: 0, remark: undefined, extFields, body };
}

export function isResponse(cmd: RemotingCommand): boolean {
  return (cmd.flag & FLAG_RESPONSE) !== 0;
}

export function isOneway(cmd: RemotingCommand): boolean {
  return (cmd.flag & FLAG_ONEWAY) !== 0;
}

/** The whole frame, length prefix included. */
export function encodeCommand(cmd: RemotingCommand, type: SerializeTypeCode = SerializeType.ROCKETMQ): Buffer {
  const header = type === SerializeType.JSON ? encodeJsonHeader(cmd) : encodeBinaryHeader(cmd);
  if (header.length > 0xffffff) throw new RemotingError('protocol', `remoting header of ${header.length} bytes exceeds the 24-bit header length`);
  const body = cmd.body ?? Buffer.alloc(0);
  const prefix = Buffer.allocUnsafe(8);
  prefix.writeInt32BE(4 + header.length + body.length, 0);
  prefix.writeInt32BE((type << 24) | header.length, 4);
  return Buffer.concat([prefix, header, body]);
}

/**
 * The length a frame's 4-byte prefix announces, checked against `maxFrameSize` before anything is
 * allocated for it.
 */
export function frameLength(prefix: Buffer, offset: number, maxFrameSize: number): number {
  const length = prefix.readInt32BE(offset);
  if (length < 4 || length > maxFrameSize) {
    throw new RemotingError('protocol', `remoting frame length ${length} outside 4..${maxFrameSize} bytes`);
  }
  return length;
}

/** One frame without its length prefix (header length, header, body). */
export function decodeFrame(frame: Buffer): RemotingCommand {
  if (frame.length < 4) throw new RemotingError('protocol', `remoting frame of ${frame.length} bytes has no header length`);
  const marked = frame.readUInt32BE(0);
  const type = marked >>> 24;
  const headerLength = marked & 0xffffff;
  if (headerLength > frame.length - 4) {
    throw new RemotingError('protocol', `remoting header length ${headerLength} exceeds the frame's remaining ${frame.length - 4} bytes`);
  }
  const header = frame.subarray(4, 4 + headerLength);
  const cmd = type === SerializeType.JSON ? decodeJsonHeader(header) : type === SerializeType.ROCKETMQ ? decodeBinaryHeader(header) : undefined;
  if (!cmd) throw new RemotingError('protocol', `unknown remoting serialize type ${type}`);
  const body = frame.subarray(4 + headerLength);
  cmd.body = body.length > 0 ? Buffer.from(body) : undefined;
  return cmd;
}

function encodeJsonHeader(cmd: RemotingCommand): Buffer {
  const header: Record<string, unknown> = {
    code: cmd.code,
    language: LANGUAGES[cmd.language] ?? 'OTHER',
    version: cmd.version,
    opaque: cmd.opaque,
    flag: cmd.flag,
    extFields: cmd.extFields,
    serializeTypeCurrentRPC: 'JSON',
  };
  if (cmd.remark !== undefined) header.remark = cmd.remark;
  return Buffer.from(JSON.stringify(header), 'utf8');
}

function decodeJsonHeader(header: Buffer): RemotingCommand {
  let parsed: unknown;
  try {
    parsed = JSON.parse(header.toString('utf8'));
  } catch (error) {
    throw new RemotingError('protocol', `remoting JSON header does not parse: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null) throw new RemotingError('protocol', 'remoting JSON header is not an object');
  const h = parsed as Record<string, unknown>;
  const int = (name: string): number => {
    const v = h[name] ?? 0;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new RemotingError('protocol', `remoting JSON header field ${name} is not an integer: ${JSON.stringify(v)}`);
    return v;
  };
  const extFields: Record<string, string> = {};
  if (typeof h.extFields === 'object' && h.extFields !== null) {
    for (const [k, v] of Object.entries(h.extFields)) if (v !== null && v !== undefined) extFields[k] = String(v);
  }
  const language = typeof h.language === 'string' ? LANGUAGES.indexOf(h.language as (typeof LANGUAGES)[number]) : int('language');
  return {
    code: int('code'),
    language: language < 0 ? LANGUAGE_OTHER : language,
    version: int('version'),
    opaque: int('opaque'),
    flag: int('flag'),
    remark: typeof h.remark === 'string' ? h.remark : undefined,
    extFields,
    body: undefined,
  };
}

function encodeBinaryHeader(cmd: RemotingCommand): Buffer {
  const remark = cmd.remark ? Buffer.from(cmd.remark, 'utf8') : Buffer.alloc(0);
  const fields: Buffer[] = [];
  for (const [key, value] of Object.entries(cmd.extFields)) {
    const k = Buffer.from(key, 'utf8');
    const v = Buffer.from(value, 'utf8');
    if (k.length > 0x7fff) throw new RemotingError('protocol', `ext field name of ${k.length} bytes exceeds 32767`);
    const field = Buffer.allocUnsafe(2 + k.length + 4 + v.length);
    field.writeInt16BE(k.length, 0);
    k.copy(field, 2);
    field.writeInt32BE(v.length, 2 + k.length);
    v.copy(field, 6 + k.length);
    fields.push(field);
  }
  const ext = Buffer.concat(fields);
  const fixed = Buffer.allocUnsafe(2 + 1 + 2 + 4 + 4 + 4);
  fixed.writeInt16BE(cmd.code, 0);
  fixed.writeInt8(cmd.language, 2);
  fixed.writeInt16BE(cmd.version, 3);
  fixed.writeInt32BE(cmd.opaque, 5);
  fixed.writeInt32BE(cmd.flag, 9);
  fixed.writeInt32BE(remark.length, 13);
  const extLength = Buffer.allocUnsafe(4);
  extLength.writeInt32BE(ext.length, 0);
  return Buffer.concat([fixed, remark, extLength, ext]);
}

function decodeBinaryHeader(header: Buffer): RemotingCommand {
  const reader = new HeaderReader(header);
  const code = reader.int16();
  const language = reader.int8();
  const version = reader.int16();
  const opaque = reader.int32();
  const flag = reader.int32();
  const remark = reader.string(reader.int32());
  const extLength = reader.int32();
  const extEnd = reader.at + extLength;
  if (extLength < 0 || extEnd > header.length) throw new RemotingError('protocol', `remoting ext fields length ${extLength} exceeds the header's remaining ${header.length - reader.at} bytes`);
  const extFields: Record<string, string> = {};
  while (reader.at < extEnd) {
    const key = reader.string(reader.int16());
    extFields[key ?? ''] = reader.string(reader.int32()) ?? '';
  }
  return { code, language, version, opaque, flag, remark, extFields, body: undefined };
}

/** Bounds-checked reads over a binary header: a short header is a protocol error, not a RangeError. */
class HeaderReader {
  at = 0;

  constructor(private readonly buf: Buffer) {}

  int8(): number {
    return this.buf.readInt8(this.take(1));
  }

  int16(): number {
    return this.buf.readInt16BE(this.take(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.take(4));
  }

  /** A string of `length` bytes; a zero length is an absent string, as the servers write null. */
  string(length: number): string | undefined {
    if (length < 0) throw new RemotingError('protocol', `negative string length ${length} in remoting header`);
    const start = this.take(length);
    return length === 0 ? undefined : this.buf.toString('utf8', start, start + length);
  }

  private take(n: number): number {
    if (this.at + n > this.buf.length) {
      throw new RemotingError('protocol', `remoting header of ${this.buf.length} bytes ends at ${this.at}, ${n} more needed`);
    }
    const start = this.at;
    this.at += n;
    return start;
  }
}
