/**
 * A DDMQ message's key, tags and properties as NATS headers, and the rules that make some of them
 * impossible to carry.
 *
 * The NATS client refuses a header name with a byte outside printable ASCII (33..126) or a colon,
 * refuses a value holding CR or LF, and trims every value it writes and reads: such a name or value
 * cannot reach the stream as sent, so the message is refused before anything is sent. Names under
 * `Nats-` are the server's own (dedup id, expectations, rollups) and `Carrera-` is this plugin's.
 */
import type { OutgoingMessage } from 'pproxy/storage';

export const KEY_HEADER = 'Carrera-Key';
export const TAGS_HEADER = 'Carrera-Tags';
/** Set by the client from the publish's msgID: the server drops a repeat of it within the duplicate window. */
export const MSG_ID_HEADER = 'Nats-Msg-Id';
export const EXPECTED_STREAM_HEADER = 'Nats-Expected-Stream';

const RESERVED_PREFIXES = ['nats-', 'carrera-'];
const VALID_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** The headers of `message` other than the client's own, as name -> value, in a stable order. */
export function messageHeaders(message: OutgoingMessage): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  if (message.key) entries.push([KEY_HEADER, message.key]);
  if (message.tags) entries.push([TAGS_HEADER, message.tags]);
  if (message.properties) for (const entry of message.properties) entries.push(entry);
  return entries;
}

/** Why `message`'s key, tags or properties cannot be NATS headers, or undefined. */
export function illegalHeaderReason(message: OutgoingMessage): string | undefined {
  if (message.key && !carriesValue(message.key)) return `key ${JSON.stringify(message.key)} ${VALUE_RULE}`;
  if (message.tags && !carriesValue(message.tags)) return `tags ${JSON.stringify(message.tags)} ${VALUE_RULE}`;
  if (!message.properties) return undefined;
  for (const [name, value] of message.properties) {
    if (!VALID_NAME.test(name)) return `property name ${JSON.stringify(name)} cannot be a NATS header name (printable ASCII without ':' only)`;
    const lower = name.toLowerCase();
    if (RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix))) return `property name ${name} is reserved (Nats-* and Carrera-* headers)`;
    if (!carriesValue(value)) return `property ${name}'s value ${VALUE_RULE}`;
  }
  return undefined;
}

const VALUE_RULE = 'cannot be a NATS header value (no CR or LF, no leading or trailing whitespace)';

function carriesValue(value: string): boolean {
  return !/[\r\n]/.test(value) && value.trim() === value;
}

/**
 * Bytes of the header block the client writes for these entries plus the id and expected-stream
 * headers every publish carries: `NATS/1.0`, `\r\n<name>: <value>` each, then `\r\n\r\n`.
 */
export function headerBlockSize(entries: ReadonlyArray<readonly [string, string]>, msgId: string, stream: string): number {
  let size = 8 + 4 + line(MSG_ID_HEADER, msgId) + line(EXPECTED_STREAM_HEADER, stream);
  for (const [name, value] of entries) size += line(name, value);
  return size;
}

function line(name: string, value: string): number {
  return 4 + name.length + Buffer.byteLength(value, 'utf8');
}
