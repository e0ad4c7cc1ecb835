/**
 * A message as a stream entry: the XADD arguments. The plugin's own fields are plain words;
 * every property name gets the `p:` prefix, so no property can collide with them.
 */
import type { OutgoingMessage } from 'pproxy/storage';

export const FIELD_BODY = 'body';
export const FIELD_KEY = 'key';
export const FIELD_TAGS = 'tags';
export const FIELD_TIMESTAMP = 'ts';
export const PROPERTY_PREFIX = 'p:';

export interface EntryOptions {
  /** NOMKSTREAM: XADD answers nil instead of creating the stream. */
  readonly requireExisting: boolean;
  /** `MAXLEN ~ n`, when retention is set. */
  readonly maxLen: number | undefined;
}

/** `XADD <stream> [NOMKSTREAM] [MAXLEN ~ n] * body <bytes> [key k] [tags t] ts <ms> [p:<name> <value>]...` */
export function xaddArguments(stream: string, message: OutgoingMessage, options: EntryOptions): (string | Buffer)[] {
  const args: (string | Buffer)[] = [stream];
  if (options.requireExisting) args.push('NOMKSTREAM');
  if (options.maxLen !== undefined) args.push('MAXLEN', '~', String(options.maxLen));
  args.push('*', FIELD_BODY, message.body);
  // an empty key or tags is stored as empty, an absent one not at all: both read back as sent
  if (message.key !== undefined) args.push(FIELD_KEY, message.key);
  if (message.tags !== undefined) args.push(FIELD_TAGS, message.tags);
  args.push(FIELD_TIMESTAMP, String(message.timestamp));
  if (message.properties) {
    for (const [name, value] of message.properties) args.push(PROPERTY_PREFIX + name, value);
  }
  return args;
}

/** `<keyPrefix><topic>:<partition>` */
export function streamKey(keyPrefix: string, topic: string, partition: number): string {
  return `${keyPrefix}${topic}:${partition}`;
}
