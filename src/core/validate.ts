/**
 * Message validation as DDMQ's CarreraRequest.checkValid and MsgCheckUtils do it, with Java's string
 * rules (java-string.ts; docs/ddmq/validation.md). Every failure is answered FAIL_ILLEGAL_MSG (11); the reason is only logged.
 */
import { isEmptyAfterJavaTrim, javaLength } from './java-string';
import type { ProducerMessage } from './message';

/** sendSync to this topic is answered OK at once: SDKs and load balancers use it as a health check. */
export const HEARTBEAT_TOPIC = 'carrera_heartbeat';
/** Property marking a delay message re-delivered by Chronos; it lifts the delay-topic guard. */
export const FROM_CHRONOS_PROPERTY = 'from_chronos';
/** Body limit of topics whose clusters set none: RocketMQ's default maxMessageSize. */
export const DEFAULT_MAX_MESSAGE_SIZE = 2 * 1024 * 1024;

/** Longest key and tags, in UTF-16 code units (Java's String.length()). */
export const MAX_KEY_LENGTH = 255;
const MAX_TAGS_LENGTH = 255;

/**
 * RocketMQ's system property names (MessageConst); a user property may not use them. DDMQ refuses
 * them whatever the topic's cluster type, and so does pproxy: a client must get the same answer
 * (11) as from DDMQ. Rules of a storage's own go in its illegalMessageReason.
 */
const RESERVED_PROPERTY_NAMES = new Set([
  'TRACE_ON', 'MSG_REGION', 'KEYS', 'TAGS', 'WAIT', 'DELAY', 'RETRY_TOPIC', 'REAL_TOPIC', 'REAL_QID',
  'TRAN_MSG', 'PGROUP', 'MIN_OFFSET', 'MAX_OFFSET', 'BUYER_ID', 'ORIGIN_MESSAGE_ID', 'TRANSFER_FLAG',
  'CORRECTION_FLAG', 'MQ2_FLAG', 'RECONSUME_TIME', 'UNIQ_KEY', 'MAX_RECONSUME_TIMES', 'CONSUME_START_TIME',
]);

const EMPTY = Buffer.alloc(0);

/** The reason a message is illegal regardless of its topic's clusters, or undefined. */
export function illegalMessageReason(message: ProducerMessage, innerTopicPrefix: string | undefined): string | undefined {
  if (message.topic === undefined) return 'topic is missing';
  if (message.key !== undefined && javaLength(message.key) > MAX_KEY_LENGTH) {
    return `key is ${javaLength(message.key)} characters, more than ${MAX_KEY_LENGTH}`;
  }
  if (message.tags !== undefined && javaLength(message.tags) > MAX_TAGS_LENGTH) {
    return `tags are ${javaLength(message.tags)} characters, more than ${MAX_TAGS_LENGTH}`;
  }
  if (message.oversizeProperties !== undefined) return message.oversizeProperties;
  const propertiesReason = illegalPropertiesReason(message.properties);
  if (propertiesReason) return propertiesReason;
  if (innerTopicPrefix !== undefined && message.topic.startsWith(innerTopicPrefix)) {
    return `topic ${message.topic} is a delay inner topic (prefix ${innerTopicPrefix})`;
  }
  return undefined;
}

/** A name or value is blank when nothing is left of it after Java's String.trim(). */
export function illegalPropertiesReason(properties: ReadonlyMap<string, string> | undefined): string | undefined {
  if (!properties) return undefined;
  for (const [name, value] of properties) {
    if (isEmptyAfterJavaTrim(name)) return 'a property name is blank';
    if (RESERVED_PROPERTY_NAMES.has(name)) return `property name ${name} is reserved by RocketMQ`;
    if (isEmptyAfterJavaTrim(value)) return `property ${name} has a blank value`;
  }
  return undefined;
}

/** `body` (field 7) wins; otherwise the legacy `value` (field 3); otherwise empty. */
export function resolveBody(message: ProducerMessage): Buffer {
  return message.body ?? message.value ?? EMPTY;
}
