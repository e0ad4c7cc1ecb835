/**
 * A topic's route as a name server answers GET_ROUTEINFO_BY_TOPIC, and the write queues a 4.x
 * producer derives from it.
 *
 * The body is fastjson's output, which is not JSON: maps with integer keys are written with the
 * keys unquoted (brokerAddrs `{0:"127.0.0.1:10911"}`). parseFastjson quotes such keys and parses the
 * rest as JSON.
 */
import { RemotingError } from './remoting-error';

export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
}

export interface BrokerData {
  cluster: string;
  brokerName: string;
  /** brokerId (0 is the master) to `host:port`. */
  brokerAddrs: Record<string, string>;
}

export interface TopicRoute {
  orderTopicConf: string | undefined;
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
}

export interface WriteQueue {
  brokerName: string;
  queueId: number;
}

const PERM_WRITE = 1 << 1;
const MASTER_ID = '0';

/** JSON, plus fastjson's unquoted integer object keys. */
export function parseFastjson(text: string): unknown {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const end = endOfString(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (c === '{' || c === ',') {
      out += c;
      i++;
      const key = /^(\s*)(-?\d+)(\s*):/.exec(text.slice(i, i + 40));
      if (key) {
        out += `${key[1]}"${key[2]}"${key[3]}:`;
        i += key[0].length;
      }
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out);
}

/** The index just past the string literal that starts at `start`. */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

export function decodeTopicRoute(body: Buffer): TopicRoute {
  let parsed: unknown;
  try {
    parsed = parseFastjson(body.toString('utf8'));
  } catch (error) {
    throw new RemotingError('protocol', `topic route body does not parse: ${(error as Error).message}`);
  }
  const route = parsed as Partial<Record<keyof TopicRoute, unknown>>;
  if (!Array.isArray(route.queueDatas) || !Array.isArray(route.brokerDatas)) {
    throw new RemotingError('protocol', `topic route body lacks queueDatas or brokerDatas: ${body.toString('utf8', 0, 200)}`);
  }
  return {
    orderTopicConf: typeof route.orderTopicConf === 'string' && route.orderTopicConf !== '' ? route.orderTopicConf : undefined,
    queueDatas: route.queueDatas as QueueData[],
    brokerDatas: (route.brokerDatas as BrokerData[]).map((b) => ({ ...b, brokerAddrs: b.brokerAddrs ?? {} })),
  };
}

/**
 * The queues a 4.x producer (DDMQ's included) sends to, in its order (topicRouteData2TopicPublishInfo):
 * with an orderTopicConf (`brokerName:queueCount;...`), its brokers in the order written, queue ids
 * 0..count-1 each; otherwise the QueueDatas sorted by brokerName (String.compareTo: UTF-16 code
 * units, as Array.sort compares), skipping those without write permission or whose broker has no
 * master (brokerId 0) address, and for each, queue ids 0..writeQueueNums-1.
 */
export function writeQueues(route: TopicRoute): WriteQueue[] {
  const queues: WriteQueue[] = [];
  if (route.orderTopicConf) {
    for (const entry of route.orderTopicConf.split(';')) {
      const [brokerName, count] = entry.split(':');
      for (let queueId = 0; queueId < Number(count); queueId++) queues.push({ brokerName: brokerName!, queueId });
    }
    return queues;
  }
  const sorted = [...route.queueDatas].sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
  for (const qd of sorted) {
    if ((qd.perm & PERM_WRITE) === 0) continue;
    if (masterAddress(route, qd.brokerName) === undefined) continue;
    for (let queueId = 0; queueId < qd.writeQueueNums; queueId++) queues.push({ brokerName: qd.brokerName, queueId });
  }
  return queues;
}

/** The master's `host:port` of `brokerName`, from the first BrokerData of that name (as the client looks it up). */
export function masterAddress(route: TopicRoute, brokerName: string): string | undefined {
  return route.brokerDatas.find((b) => b.brokerName === brokerName)?.brokerAddrs[MASTER_ID];
}
