/**
 * SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320) to a broker, with SendMessageRequestHeaderV2's
 * one-letter ext fields, and their answers.
 *
 * Header fields: a producerGroup, b topic, c defaultTopic (the template topic a broker that
 * auto-creates topics copies), d defaultTopicQueueNums, e queueId, f sysFlag, g bornTimestamp (ms),
 * h flag, i properties, j reconsumeTimes, k unitMode, l maxReconsumeTimes (left out, as a producer
 * leaves it null), m batch.
 */
import { RequestCode, ResponseCode } from './codes';
import { command, type RemotingCommand } from './remoting-command';
import { RemotingError } from './remoting-error';
import { encodeBatchBody, encodeProperties, messageProperties, Property, type OutgoingMessage, type UniqIdGenerator, type WireBody } from './message-codec';

export interface SendTarget {
  producerGroup: string;
  topic: string;
  queueId: number;
}

/** A request built, with the UNIQ_KEY of each message it carries, in order. */
export interface BuiltSend {
  readonly request: RemotingCommand;
  readonly uniqIds: string[];
}

export interface SendOutcome {
  code: number;
  remark: string | undefined;
  /** The codes for which the broker stored the message (possibly not yet flushed or replicated). */
  stored: boolean;
  /** The broker's id of the stored message (its offset id); comma-separated for a batch. */
  msgId: string | undefined;
  queueId: number | undefined;
  /** The first message's offset in the queue. */
  queueOffset: number | undefined;
  /** The UNIQ_KEY of each message sent, in order. */
  uniqIds: string[];
}

const DEFAULT_TOPIC = 'TBW102';
const DEFAULT_TOPIC_QUEUE_NUMS = 4;
/** SUCCESS and the codes of a stored message whose flush or replication did not complete in time. */
const STORED = new Set<number>([ResponseCode.SUCCESS, ResponseCode.FLUSH_DISK_TIMEOUT, ResponseCode.FLUSH_SLAVE_TIMEOUT, ResponseCode.SLAVE_NOT_AVAILABLE]);

function header(target: SendTarget, sysFlag: number, flag: number, properties: string, batch: boolean, now: number): Record<string, string> {
  return {
    a: target.producerGroup,
    b: target.topic,
    c: DEFAULT_TOPIC,
    d: String(DEFAULT_TOPIC_QUEUE_NUMS),
    e: String(target.queueId),
    f: String(sysFlag),
    g: String(now),
    h: String(flag),
    i: properties,
    j: '0',
    k: 'false',
    m: String(batch),
  };
}

/**
 * The SEND_MESSAGE_V2 request for one message, its body as `wire` gives it (compressBody: already
 * compressed, or not, and the sysFlag that says which).
 */
export function sendMessageRequest(target: SendTarget, message: OutgoingMessage, wire: WireBody, ids: UniqIdGenerator, now = Date.now()): BuiltSend {
  const uniqId = ids.next(now);
  const properties = encodeProperties(messageProperties(message, uniqId));
  return { request: command(RequestCode.SEND_MESSAGE_V2, header(target, wire.sysFlag, message.flag ?? 0, properties, false, now), wire.body), uniqIds: [uniqId] };
}

/**
 * The SEND_BATCH_MESSAGE request for messages to one queue: each message's properties in the
 * batch body, the batch's own properties only WAIT (as the 4.x producer's MessageBatch has).
 */
export function sendBatchRequest(target: SendTarget, messages: readonly OutgoingMessage[], ids: UniqIdGenerator, now = Date.now()): BuiltSend {
  if (messages.length === 0) throw new Error('an empty batch');
  const uniqIds = messages.map(() => ids.next(now));
  const body = encodeBatchBody(messages.map((m, i) => ({ flag: m.flag ?? 0, body: m.body, properties: encodeProperties(messageProperties(m, uniqIds[i]!)) })));
  const properties = encodeProperties({ [Property.WAIT]: 'true' });
  return { request: command(RequestCode.SEND_BATCH_MESSAGE, header(target, 0, 0, properties, true, now), body), uniqIds };
}

/** A broker's answer to a send: its code and, when stored, SendMessageResponseHeader's fields. */
export function parseSendResponse(response: RemotingCommand, uniqIds: string[]): SendOutcome {
  const ext = response.extFields;
  return {
    code: response.code,
    remark: response.remark,
    stored: STORED.has(response.code),
    msgId: ext.msgId,
    queueId: optionalInt(ext.queueId, 'queueId'),
    queueOffset: optionalInt(ext.queueOffset, 'queueOffset'),
    uniqIds,
  };
}

function optionalInt(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  // decimal digits only, as the broker's Long.toString writes them: Number() would also take '',
  // ' 1', '0x10' and '1e3'
  const value = /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw new RemotingError('protocol', `send response field ${name} is not an integer: ${JSON.stringify(text)}`);
  return value;
}
