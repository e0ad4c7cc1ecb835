/**
 * The inner message's body: chronos' BodyExt as fastjson writes it (keys in alphabetical order,
 * null fields left out): {action, body, properties, tags, topic, uniqDelayMsgId}, `body` being the
 * message body as a string.
 *
 * DDMQ builds that string with `new String(bytes)`, which corrupts binary bodies. Here a body that
 * is valid UTF-8 is written as its text, exactly as the original; any other body is written in
 * base64 and marked with the property `carrera_body_encoding=base64`, which a real Chronos carries to
 * the re-delivered message (so its consumer can decode it) and pproxy's local Chronos undoes.
 */
import { isUtf8 } from 'node:buffer';

export const BODY_ENCODING_PROPERTY = 'carrera_body_encoding';

export interface BodyExt {
  action: number;
  body: Buffer;
  properties: ReadonlyMap<string, string> | undefined;
  tags: string | undefined;
  topic: string;
  uniqDelayMsgId: string;
}

export function encodeBodyExt(ext: BodyExt): Buffer {
  const utf8 = isUtf8(ext.body);
  const json: Record<string, unknown> = { action: ext.action, body: ext.body.toString(utf8 ? 'utf8' : 'base64') };
  if (ext.properties || !utf8) {
    const properties = new Map(ext.properties ?? []);
    if (!utf8) properties.set(BODY_ENCODING_PROPERTY, 'base64');
    json['properties'] = Object.fromEntries([...properties].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  if (ext.tags !== undefined) json['tags'] = ext.tags;
  json['topic'] = ext.topic;
  json['uniqDelayMsgId'] = ext.uniqDelayMsgId;
  return Buffer.from(JSON.stringify(json), 'utf8');
}
