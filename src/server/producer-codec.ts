/**
 * Decoding of ProducerService calls and encoding of their replies, field ids as in
 * idl/producer.thrift (docs/ddmq/wire.md). Unknown fields and fields of an unexpected type are skipped, as generated
 * Thrift readers do, so newer clients with extra fields keep working. A container of the expected
 * field type whose elements are of another type cannot be read as the IDL's values: it is a
 * ThriftDecodeError (answered PROTOCOL_ERROR), where the IDL's type would otherwise be read out of
 * bytes that are not one. An empty container has nothing to misread and decodes as empty.
 *
 * A message's properties are read within PropertyLimits: past them the rest of the map is skipped
 * without building its strings (a frame holds 600,000 entries, and building theirs would block the
 * event loop for hundreds of milliseconds), the message is marked oversizeProperties (answered 11), and the
 * fields and messages after it decode as usual.
 */
import {
  emptyDelayMessage,
  emptyProducerMessage,
  type DelayMessage,
  type ProducerMessage,
} from '../core/message';
import { DEFAULT_PROPERTY_LIMITS, PROPERTY_SEPARATOR_BYTES, type PropertyLimits } from '../core/property-limits';
import { RESULT_MESSAGES, type ResultCode } from '../protocol/result-codes';
import {
  CType,
  CompactReader,
  CompactWriter,
  MessageType,
  PROTOCOL_ID,
  ThriftDecodeError,
  VERSION,
} from './compact-protocol';
import { varint32Length, writeVarint32At } from '../protocol/varint';

export interface CallHeader {
  readonly name: string;
  readonly type: MessageType;
  readonly seqid: number;
}

/**
 * Longest method name a reply echoes (in its header and, for an unknown method, in its message).
 * Real method names are far shorter and are echoed exactly, as libthrift does; a longer one is cut
 * to this many characters followed by `...`, so a frame of one huge name cannot be answered with
 * twice its size.
 */
export const MAX_ECHOED_NAME_CHARS = 256;

/**
 * Reads the message header, its name bounded by MAX_ECHOED_NAME_CHARS (no method of the IDL comes
 * near it). A frame whose header is not compact protocol cannot be answered (the reply would need
 * its name and seqid), so the caller closes the connection on this error.
 */
export function readCallHeader(reader: CompactReader): CallHeader {
  const protocolId = reader.readByte();
  if (protocolId !== PROTOCOL_ID) {
    throw new ThriftDecodeError(`not a compact-protocol message (first byte 0x${protocolId.toString(16)})`);
  }
  const versionAndType = reader.readByte();
  const version = versionAndType & 0x1f;
  if (version !== VERSION) throw new ThriftDecodeError(`unsupported compact protocol version ${version}`);
  const type = (versionAndType >> 5) & 0x07;
  if (type !== MessageType.CALL && type !== MessageType.ONEWAY) {
    throw new ThriftDecodeError(`message type ${type} is not a call`);
  }
  const seqid = reader.readVarint32() | 0;
  const name = echoableName(reader.readString());
  return { name, type, seqid };
}

function echoableName(name: string): string {
  if (name.length <= MAX_ECHOED_NAME_CHARS) return name;
  const high = name.charCodeAt(MAX_ECHOED_NAME_CHARS - 1);
  // never cut a surrogate pair in two
  const cut = high >= 0xd800 && high <= 0xdbff ? MAX_ECHOED_NAME_CHARS - 1 : MAX_ECHOED_NAME_CHARS;
  return `${name.slice(0, cut)}...`;
}

/** Arguments of sendSync / sendAsync / sendBatchSync / sendDelaySync (args struct field ids). */
export interface SendArgs {
  message: ProducerMessage | undefined;
  timeout: bigint;
}
export interface BatchArgs {
  messages: ProducerMessage[] | undefined;
}
export interface DelayArgs {
  message: DelayMessage | undefined;
  timeout: bigint;
}

export function readSendArgs(reader: CompactReader, limits: PropertyLimits = DEFAULT_PROPERTY_LIMITS): SendArgs {
  const args: SendArgs = { message: undefined, timeout: 0n };
  readStruct(reader, (id, type) => {
    if (id === 1 && type === CType.STRUCT) args.message = readMessage(reader, limits);
    else if (id === 2 && type === CType.I64) args.timeout = reader.readI64();
    else return false;
    return true;
  });
  return args;
}

export function readBatchArgs(reader: CompactReader, limits: PropertyLimits = DEFAULT_PROPERTY_LIMITS): BatchArgs {
  const args: BatchArgs = { messages: undefined };
  readStruct(reader, (id, type) => {
    if (id !== 1 || type !== CType.LIST) return false;
    const { elemType, size } = reader.readListHeader();
    if (size > 0 && elemType !== CType.STRUCT) {
      throw new ThriftDecodeError(`sendBatchSync: messages is a list<${typeName(elemType)}>, not a list<Message>`);
    }
    const messages: ProducerMessage[] = [];
    for (let i = 0; i < size; i++) messages.push(readMessage(reader, limits));
    args.messages = messages;
    return true;
  });
  return args;
}

export function readDelayArgs(reader: CompactReader, limits: PropertyLimits = DEFAULT_PROPERTY_LIMITS): DelayArgs {
  const args: DelayArgs = { message: undefined, timeout: 0n };
  readStruct(reader, (id, type) => {
    if (id === 1 && type === CType.STRUCT) args.message = readDelayMessage(reader, limits);
    else if (id === 2 && type === CType.I64) args.timeout = reader.readI64();
    else return false;
    return true;
  });
  return args;
}

/** Skips the arguments of a call the server does not know. */
export function skipArgs(reader: CompactReader): void {
  reader.skip(CType.STRUCT);
}

function readMessage(reader: CompactReader, limits: PropertyLimits): ProducerMessage {
  const m = emptyProducerMessage();
  readStruct(reader, (id, type) => {
    switch (id) {
      case 1:
        if (type !== CType.BINARY) return false;
        m.topic = reader.readString();
        return true;
      case 2:
        if (type !== CType.BINARY) return false;
        m.key = reader.readString();
        return true;
      case 3:
        if (type !== CType.BINARY) return false;
        m.value = reader.readBinary();
        return true;
      case 4:
        if (type !== CType.I64) return false;
        m.hashId = reader.readI64();
        return true;
      case 5:
        if (type !== CType.BINARY) return false;
        m.tags = reader.readString();
        return true;
      case 6:
        if (type !== CType.I32) return false;
        m.partitionId = reader.readI32();
        return true;
      case 7:
        if (type !== CType.BINARY) return false;
        m.body = reader.readBinary();
        return true;
      case 8:
        if (type !== CType.BINARY) return false;
        m.version = reader.readString();
        return true;
      case 9:
        if (type !== CType.MAP) return false;
        readProperties(reader, 'Message.properties', limits, m);
        return true;
      default:
        return false;
    }
  });
  return m;
}

function readDelayMessage(reader: CompactReader, limits: PropertyLimits): DelayMessage {
  const m = emptyDelayMessage();
  readStruct(reader, (id, type) => {
    switch (id) {
      case 1:
        if (type !== CType.BINARY) return false;
        m.topic = reader.readString();
        return true;
      case 2:
        if (type !== CType.BINARY) return false;
        m.uniqDelayMsgId = reader.readString();
        return true;
      case 3:
        if (type !== CType.BINARY) return false;
        m.body = reader.readBinary();
        return true;
      case 4:
        if (type !== CType.BINARY) return false;
        m.tags = reader.readString();
        return true;
      case 5:
        if (type !== CType.I32) return false;
        m.action = reader.readI32();
        return true;
      case 6:
        if (type !== CType.I64) return false;
        m.timestamp = reader.readI64();
        return true;
      case 7:
        if (type !== CType.I32) return false;
        m.dmsgtype = reader.readI32();
        return true;
      case 8:
        if (type !== CType.I64) return false;
        m.interval = reader.readI64();
        return true;
      case 9:
        if (type !== CType.I64) return false;
        m.expire = reader.readI64();
        return true;
      case 10:
        if (type !== CType.I64) return false;
        m.times = reader.readI64();
        return true;
      case 11:
        if (type !== CType.BINARY) return false;
        m.uuid = reader.readString();
        return true;
      case 13:
        if (type !== CType.BINARY) return false;
        m.version = reader.readString();
        return true;
      case 14:
        if (type !== CType.MAP) return false;
        readProperties(reader, 'DelayMessage.properties', limits, m);
        return true;
      default:
        return false;
    }
  });
  return m;
}

/**
 * map<string,string> into `m.properties`, or, past `limits`, the reason into `m.oversizeProperties`
 * with the rest of the map skipped. A non-empty map of other key or value types is a
 * ThriftDecodeError.
 */
function readProperties(
  reader: CompactReader,
  field: string,
  limits: PropertyLimits,
  m: { properties: Map<string, string> | undefined; oversizeProperties: string | undefined },
): void {
  const { keyType, valueType, size } = reader.readMapHeader();
  if (size > 0 && (keyType !== CType.BINARY || valueType !== CType.BINARY)) {
    throw new ThriftDecodeError(`${field} is a map<${typeName(keyType)}, ${typeName(valueType)}>, not a map<string, string>`);
  }
  m.properties = undefined;
  m.oversizeProperties = undefined;
  if (size > limits.maxCount) {
    skipEntries(reader, size);
    m.oversizeProperties = `${size} properties, more than ${limits.maxCount}`;
    return;
  }
  const map = new Map<string, string>();
  let bytes = 0;
  for (let i = 0; i < size; i++) {
    const nameLength = reader.readLength();
    const nameAt = reader.pos;
    reader.pos += nameLength;
    const valueLength = reader.readLength();
    bytes += nameLength + valueLength + PROPERTY_SEPARATOR_BYTES;
    if (bytes > limits.maxBytes) {
      reader.pos += valueLength;
      skipEntries(reader, size - i - 1);
      m.oversizeProperties = `properties of more than ${limits.maxBytes} bytes`;
      return;
    }
    map.set(reader.buf.toString('utf8', nameAt, nameAt + nameLength), reader.readUtf8(valueLength));
  }
  m.properties = map;
}

/** Skips `count` string-to-string map entries. */
function skipEntries(reader: CompactReader, count: number): void {
  for (let i = 0; i < count; i++) {
    reader.skip(CType.BINARY);
    reader.skip(CType.BINARY);
  }
}

const TYPE_NAMES: Readonly<Record<number, string>> = {
  [CType.BOOL_TRUE]: 'bool', [CType.BOOL_FALSE]: 'bool', [CType.BYTE]: 'byte', [CType.I16]: 'i16', [CType.I32]: 'i32',
  [CType.I64]: 'i64', [CType.DOUBLE]: 'double', [CType.BINARY]: 'string', [CType.LIST]: 'list', [CType.SET]: 'set',
  [CType.MAP]: 'map', [CType.STRUCT]: 'struct', [CType.UUID]: 'uuid',
};

/** The IDL name of a compact type, for error messages. */
function typeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/**
 * Walks a struct's fields; `onField` reads the value and returns true, or returns false to have
 * the field skipped.
 */
function readStruct(reader: CompactReader, onField: (id: number, type: number) => boolean): void {
  let lastId = 0;
  for (;;) {
    reader.readFieldHeader(lastId);
    const type = reader.fieldType;
    if (type === CType.STOP) return;
    const id = reader.fieldId;
    lastId = id;
    if (!onField(id, type)) reader.skip(type, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Replies. Each reply is a complete frame: 4-byte length prefix included.

/** TApplicationException types used by the server (Thrift's numbering). */
export const enum AppExceptionType {
  UNKNOWN_METHOD = 1,
  INTERNAL_ERROR = 6,
  PROTOCOL_ERROR = 7,
}

/**
 * Encoded `{0: success}` bodies of each Result code, computed once: a reply is then a header and a
 * copy of these bytes.
 */
const RESULT_BODIES = new Map<number, Buffer>(
  Object.entries(RESULT_MESSAGES).map(([code, msg]) => [Number(code), encodeResultBody(Number(code), msg)]),
);

function encodeResultBody(code: number, msg: string): Buffer {
  const w = new CompactWriter(96);
  w.writeFieldHeader(CType.STRUCT, 0, 0); // success, field 0
  w.writeFieldHeader(CType.I32, 1, 0); // Result.code
  w.writeI32(code);
  w.writeFieldHeader(CType.BINARY, 2, 1); // Result.msg; Result.key is never set
  w.writeString(msg);
  w.writeStop(); // end of Result
  w.writeStop(); // end of <method>_result
  return w.toBuffer();
}

/**
 * The proxy's most frequent output. Result replies of one method differ only in their seqid and
 * code, so what follows the seqid (method name, Result struct) is encoded once per method and
 * code, and a reply is one buffer written in one pass.
 */
export function encodeResultReply(name: string, seqid: number, code: ResultCode): Buffer {
  const tail = resultReplyTail(name, code);
  const frame = Buffer.allocUnsafe(6 + varint32Length(seqid) + tail.length);
  frame.writeUInt32BE(frame.length - 4, 0);
  frame[4] = PROTOCOL_ID;
  frame[5] = (MessageType.REPLY << 5) | VERSION;
  tail.copy(frame, writeVarint32At(frame, 6, seqid));
  return frame;
}

/** Only the IDL's methods are answered with a Result, so this holds a few dozen entries at most. */
const resultReplyTails = new Map<string, Map<ResultCode, Buffer>>();

function resultReplyTail(name: string, code: ResultCode): Buffer {
  let byCode = resultReplyTails.get(name);
  if (!byCode) resultReplyTails.set(name, (byCode = new Map()));
  let tail = byCode.get(code);
  if (!tail) {
    const body = RESULT_BODIES.get(code)!;
    const w = new CompactWriter(8 + name.length * 3 + body.length);
    w.writeString(name);
    w.writeBytes(body);
    byCode.set(code, (tail = w.toBuffer()));
  }
  return tail;
}

export function encodeDelayResultReply(name: string, seqid: number, code: ResultCode, uniqDelayMsgId: string): Buffer {
  const w = new CompactWriter(128);
  w.writeBytes(FRAME_PLACEHOLDER);
  w.writeMessageBegin(name, MessageType.REPLY, seqid);
  w.writeFieldHeader(CType.STRUCT, 0, 0);
  w.writeFieldHeader(CType.I32, 1, 0);
  w.writeI32(code);
  w.writeFieldHeader(CType.BINARY, 2, 1);
  w.writeString(RESULT_MESSAGES[code]);
  w.writeFieldHeader(CType.BINARY, 3, 2);
  w.writeString(uniqDelayMsgId);
  w.writeStop();
  w.writeStop();
  return sealFrame(w);
}

export function encodeApplicationException(
  name: string,
  seqid: number,
  type: AppExceptionType,
  message: string,
): Buffer {
  const w = new CompactWriter(64 + message.length);
  w.writeBytes(FRAME_PLACEHOLDER);
  w.writeMessageBegin(name, MessageType.EXCEPTION, seqid);
  w.writeFieldHeader(CType.BINARY, 1, 0); // TApplicationException.message
  w.writeString(message);
  w.writeFieldHeader(CType.I32, 2, 1); // TApplicationException.type
  w.writeI32(type);
  w.writeStop();
  return sealFrame(w);
}

const FRAME_PLACEHOLDER = Buffer.alloc(4);

function sealFrame(w: CompactWriter): Buffer {
  const frame = w.toBuffer();
  frame.writeUInt32BE(frame.length - 4, 0);
  return frame;
}
