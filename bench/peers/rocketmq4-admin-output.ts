/**
 * Parsers of what RocketMQ 4's admin tool (mqadmin, from rocketmq-tools 4.9) prints: a topic's route,
 * its queues' offsets, the topics it created, a message it sent, and the stored messages of a queue.
 * Each accepts only the layout it expects and throws, quoting the output, on anything else: a test
 * reading a broker back must never see a message silently missing or half-parsed.
 */
import zlib from 'node:zlib';

/** A message as the broker stored it on one queue. */
export interface StoredMessage {
  brokerName: string;
  queueId: number;
  queueOffset: number;
  /** Uncompressed, exactly as the producer sent it. */
  body: Buffer;
  tags: string | undefined;
  /** The KEYS property split at its separator (a space); [] without it. */
  keys: string[];
  /** The properties that are not RocketMQ's own (MessageConst's reserved names). */
  userProperties: Record<string, string>;
  /** Every stored property, RocketMQ's own (UNIQ_KEY, CLUSTER, ...) included. */
  properties: Record<string, string>;
  /** The broker's message id (store host and commit-log offset). */
  offsetMsgId: string;
  storeTimestamp: number;
  /** The body was stored compressed (sysFlag bit 0); the tool printed it inflated. */
  compressed: boolean;
}

/** A message as the tool pulled it, with the queue's offsets at the time of the pull. */
export interface PulledMessage {
  message: StoredMessage;
  queueMinOffset: number;
  queueMaxOffset: number;
}

export interface QueueStatus {
  brokerName: string;
  queueId: number;
  minOffset: number;
  maxOffset: number;
}

export interface TopicRoute {
  brokers: { name: string; cluster: string; addresses: Record<string, string> }[];
  queues: { brokerName: string; readQueueNums: number; writeQueueNums: number; perm: number }[];
  /** The name server's order config for the topic (`broker-a:4;broker-b:4`), when it has one. */
  orderTopicConf: string | undefined;
}

/** RocketMQ's own property names (MessageConst.STRING_HASH_SET, 4.9): the rest are the user's. */
const RESERVED_PROPERTIES = new Set([
  'TRACE_ON', 'MSG_REGION', 'KEYS', 'TAGS', 'WAIT', 'DELAY', 'RETRY_TOPIC', 'REAL_TOPIC', 'REAL_QID', 'TRAN_MSG',
  'PGROUP', 'MIN_OFFSET', 'MAX_OFFSET', 'BUYER_ID', 'ORIGIN_MESSAGE_ID', 'TRANSFER_FLAG', 'CORRECTION_FLAG',
  'MQ2_FLAG', 'RECONSUME_TIME', 'UNIQ_KEY', 'MAX_RECONSUME_TIMES', 'CONSUME_START_TIME', 'INSTANCE_ID',
  'CORRELATION_ID', 'REPLY_TO_CLIENT', 'TTL', 'ARRIVE_TIME', 'PUSH_REPLY_TIME', 'CLUSTER', 'MSG_TYPE',
  'INNER_MULTI_QUEUE_OFFSET',
]);

/** Set by the pulling client on every message it returns (the queue's offsets then), never stored. */
const PULL_PROPERTIES = ['MIN_OFFSET', 'MAX_OFFSET'] as const;

const COMPRESSED_FLAG = 0x1;
const BORNHOST_V6_FLAG = 0x1 << 4;
const STOREHOST_V6_FLAG = 0x1 << 5;

function unexpected(what: string, output: string): Error {
  return new Error(`unexpected mqadmin ${what} output:\n${output}`);
}

function lines(output: string): string[] {
  return output.split('\n').filter((line) => line.trim() !== '');
}

/**
 * `mqadmin topicRoute`: fastjson's pretty print of TopicRouteData, JSON but for the broker address
 * map's bare integer keys (`{0:"127.0.0.1:10911"}`).
 */
export function parseTopicRoute(output: string): TopicRoute {
  const start = output.indexOf('{');
  if (start < 0 || output.slice(0, start).trim() !== '') throw unexpected('topicRoute', output);
  let data: {
    brokerDatas?: { brokerName: string; cluster: string; brokerAddrs: Record<string, string> }[];
    queueDatas?: { brokerName: string; readQueueNums: number; writeQueueNums: number; perm: number }[];
    orderTopicConf?: string;
  };
  try {
    data = JSON.parse(output.slice(start).replace(/([{,]\s*)(\d+):/g, '$1"$2":'));
  } catch {
    throw unexpected('topicRoute', output);
  }
  if (!Array.isArray(data.brokerDatas) || !Array.isArray(data.queueDatas)) throw unexpected('topicRoute', output);
  return {
    brokers: data.brokerDatas.map((b) => ({ name: b.brokerName, cluster: b.cluster, addresses: b.brokerAddrs })),
    queues: data.queueDatas.map((q) => ({ brokerName: q.brokerName, readQueueNums: q.readQueueNums, writeQueueNums: q.writeQueueNums, perm: q.perm })),
    orderTopicConf: data.orderTopicConf,
  };
}

/** `mqadmin topicStatus`: a header, then broker name, queue id, min and max offset, last update time. */
export function parseTopicStatus(output: string): QueueStatus[] {
  const [header, ...rows] = lines(output);
  if (!header || !/^#Broker Name\s+#QID\s+#Min Offset\s+#Max Offset\s+#Last Updated$/.test(header.trim())) throw unexpected('topicStatus', output);
  return rows.map((row) => {
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)(?:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})?\s*$/.exec(row);
    if (!m) throw unexpected('topicStatus', output);
    return { brokerName: m[1]!, queueId: Number(m[2]), minOffset: Number(m[3]), maxOffset: Number(m[4]) };
  });
}

/** `mqadmin updateTopic -c`: the broker addresses it created the topic on. */
export function parseUpdateTopic(output: string, topic: string): string[] {
  const created: string[] = [];
  for (const line of lines(output)) {
    const m = /^create topic to (\S+) success\.$/.exec(line);
    if (m) created.push(m[1]!);
    else if (!line.startsWith('set cluster orderConf. isOrder=true') && !line.startsWith(`TopicConfig [topicName=${topic},`)) throw unexpected('updateTopic', output);
  }
  if (!output.includes(`TopicConfig [topicName=${topic},`)) throw unexpected('updateTopic', output);
  return created;
}

/** `mqadmin sendMessage -b -i`: one row with the broker, the queue and SEND_OK. */
export function parseSendMessage(output: string): { brokerName: string; queueId: number; msgId: string } {
  const [header, row, ...rest] = lines(output);
  const m = row === undefined ? null : /^(\S+)\s+(\d+)\s+SEND_OK\s+([0-9A-F]+)\s*$/.exec(row);
  if (!header?.startsWith('#Broker Name') || !m || rest.length > 0) throw unexpected('sendMessage', output);
  return { brokerName: m[1]!, queueId: Number(m[2]), msgId: m[3]! };
}

/**
 * `mqadmin printMsgByQueue -p true` (without -d): one line per message, `MSGID: <id> <MessageExt>
 * BODY: NOT PRINT BODY`, MessageExt's toString holding the body as a signed byte list and the
 * properties as a Java map (`{K=v, K2=v2}`). The map's text cannot tell a `, ` inside a value from
 * the one between entries, so the parse is checked against the stored record's size (storeSize
 * less the fixed fields, body and topic is the properties' length as stored) and the body against
 * the stored CRC: a message that does not add up is an error, not a guess.
 */
export function parseMessagesOfQueue(output: string, topic: string): PulledMessage[] {
  return lines(output).map((line) => parseMessageLine(line, topic));
}

const MESSAGE_LINE = new RegExp(
  '^MSGID: ([0-9A-F]+) MessageExt \\[brokerName=(\\S+), queueId=(\\d+), storeSize=(\\d+), queueOffset=(\\d+), ' +
    'sysFlag=(\\d+), bornTimestamp=(\\d+), bornHost=(\\S+), storeTimestamp=(\\d+), storeHost=(\\S+), msgId=([0-9A-F]+), ' +
    'commitLogOffset=(\\d+), bodyCRC=(\\d+), reconsumeTimes=(\\d+), preparedTransactionOffset=(-?\\d+), ' +
    "toString\\(\\)=Message\\{topic='(.*)', flag=(-?\\d+), properties=\\{(.*)\\}, body=\\[((?:-?\\d+)(?:, -?\\d+)*)?\\], " +
    "transactionId='(.*)'\\}\\] BODY: NOT PRINT BODY$",
);

function parseMessageLine(line: string, topic: string): PulledMessage {
  const m = MESSAGE_LINE.exec(line);
  if (!m || m[16] !== topic) throw unexpected('printMsgByQueue', line);
  const storeSize = Number(m[4]);
  const sysFlag = Number(m[6]);
  const body = Buffer.from(m[19] === undefined ? [] : m[19].split(', ').map((b) => Number(b) & 0xff));
  const compressed = (sysFlag & COMPRESSED_FLAG) !== 0;
  const printed = splitJavaMap(m[18]!);
  const stored = printed.filter(([name]) => !(PULL_PROPERTIES as readonly string[]).includes(name));
  const pulled = Object.fromEntries(printed.filter(([name]) => (PULL_PROPERTIES as readonly string[]).includes(name)));
  const [queueMinOffset, queueMaxOffset] = PULL_PROPERTIES.map((name) => (/^\d+$/.test(pulled[name] ?? '') ? Number(pulled[name]) : NaN));
  if (stored.length !== printed.length - PULL_PROPERTIES.length || !Number.isInteger(queueMinOffset) || !Number.isInteger(queueMaxOffset)) {
    throw new Error(`printMsgByQueue: the pulled message lacks MIN_OFFSET/MAX_OFFSET:\n${line}`);
  }
  if (compressed) {
    // the stored body's length is unknown: only a map no value of which has a `, ` parses one way
    if (stored.some(([, value]) => value.includes(', '))) throw new Error(`printMsgByQueue: a compressed message's properties cannot be parsed for sure:\n${line}`);
  } else {
    if ((zlib.crc32(body) & 0x7fffffff) !== Number(m[13])) throw new Error(`printMsgByQueue: the body does not match the stored CRC:\n${line}`);
    const hosts = (sysFlag & BORNHOST_V6_FLAG ? 20 : 8) + (sysFlag & STOREHOST_V6_FLAG ? 20 : 8);
    // CommitLog's record: 68 bytes of fixed fields and the hosts, then the body, topic and properties with their lengths
    const propertiesLength = storeSize - 68 - hosts - 4 - body.length - 1 - Buffer.byteLength(topic) - 2;
    // MessageDecoder.messageProperties2String: name \u0001 value \u0002 per entry, without the last \u0002
    const parsedLength = stored.reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value) + 2, 0) - (stored.length > 0 ? 1 : 0);
    // a message of a batch is stored with the batch's own properties (WAIT) appended to its own, so
    // with WAIT twice, once in the printed map
    const wait = stored.find(([name]) => name === 'WAIT')?.[1];
    const batchWait = wait === undefined ? 0 : 1 + Buffer.byteLength('WAIT') + 1 + Buffer.byteLength(wait);
    if (parsedLength !== propertiesLength && parsedLength + batchWait !== propertiesLength) throw new Error(`printMsgByQueue: the properties parsed (${parsedLength} bytes) are not the ${propertiesLength} stored:\n${line}`);
  }
  const properties = Object.fromEntries(stored);
  const userProperties = Object.fromEntries(stored.filter(([name]) => !RESERVED_PROPERTIES.has(name)));
  const message: StoredMessage = {
    brokerName: m[2]!,
    queueId: Number(m[3]),
    queueOffset: Number(m[5]),
    body,
    tags: properties.TAGS,
    keys: properties.KEYS === undefined ? [] : properties.KEYS.split(' ').filter((k) => k !== ''),
    userProperties,
    properties,
    offsetMsgId: m[11]!,
    storeTimestamp: Number(m[9]),
    compressed,
  };
  return { message, queueMinOffset: queueMinOffset!, queueMaxOffset: queueMaxOffset! };
}

/** Java's AbstractMap.toString body (`K=v, K2=v2`), split before every `, ` that a `name=` follows. */
function splitJavaMap(text: string): [string, string][] {
  if (text === '') return [];
  return text.split(/, (?=[^=, ]+=)/).map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new Error(`printMsgByQueue: unexpected properties {${text}}`);
    return [entry.slice(0, eq), entry.slice(eq + 1)];
  });
}
