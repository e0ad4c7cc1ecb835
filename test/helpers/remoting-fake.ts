/**
 * A stand-in RocketMQ 4 name server and brokers for fault injection, speaking the remoting frame
 * format with our own codec: a name server answering GET_ROUTEINFO_BY_TOPIC with the routes it is
 * given (in the fastjson form real name servers write, integer keys unquoted), and brokers that
 * record every request and answer sends as a script says: stored at the next offset of the queue,
 * a response code, no answer, or the connection closed. Given `acl` (access key to secret key), a
 * server checks every request's signature first and refuses as a 4.9 broker does (SYSTEM_ERROR, the
 * AclException in the remark). It checks nothing else a real broker checks: the real RocketMQ 4
 * (bench/peers/rocketmq4-server.ts) stays the judge of what is accepted.
 */
import net from 'node:net';
import type { TestContext } from 'node:test';
import { RequestCode, ResponseCode } from '../../src/storage/rocketmq4/remoting/codes';
import { FrameReader } from '../../src/storage/rocketmq4/remoting/frame-reader';
import { command, encodeCommand, FLAG_RESPONSE, isOneway, type RemotingCommand } from '../../src/storage/rocketmq4/remoting/remoting-command';
import { AclField, aclSignature } from '../../src/storage/rocketmq4/remoting/acl-signature';

/** What a broker does with a send: store it (SUCCESS or another stored code), refuse with a code, say nothing, or hang up. */
export type SendAnswer = { kind: 'store'; code?: number } | { kind: 'code'; code: number; remark?: string } | { kind: 'silent' } | { kind: 'close' };

const STORE: SendAnswer = { kind: 'store' };
const SEND_CODES = new Set<number>([RequestCode.SEND_MESSAGE_V2, RequestCode.SEND_BATCH_MESSAGE]);

abstract class FakeServer {
  /** Every request received, in order. */
  readonly requests: RemotingCommand[] = [];
  private readonly sockets = new Set<net.Socket>();
  private server: net.Server | undefined;
  address = '';
  /** Access key to secret key: requests are checked against them; absent, nothing is checked. */
  acl: Map<string, string> | undefined;

  protected abstract answer(request: RemotingCommand, socket: net.Socket): RemotingCommand | 'silent' | 'close';

  async listen(t: TestContext, port = 0): Promise<this> {
    this.server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      const reader = new FrameReader(64 << 20);
      socket.on('data', (chunk) => {
        for (const request of reader.push(chunk)) {
          this.requests.push(request);
          const answer = this.aclRefusal(request) ?? this.answer(request, socket);
          if (answer === 'close') socket.destroy();
          else if (answer !== 'silent' && !isOneway(request)) socket.write(encodeCommand({ ...answer, opaque: request.opaque, flag: FLAG_RESPONSE }));
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    t.after(() => this.stop());
    return this;
  }

  /** PlainPermissionManager.validate's refusals, as the 4.9 remoting server answers a hook's exception. */
  private aclRefusal(request: RemotingCommand): RemotingCommand | undefined {
    if (!this.acl) return undefined;
    const accessKey = request.extFields[AclField.ACCESS_KEY];
    const secretKey = accessKey === undefined ? undefined : this.acl.get(accessKey);
    let reason: string | undefined;
    if (accessKey === undefined) reason = 'No accessKey is configured';
    else if (secretKey === undefined) reason = `No acl config for ${accessKey}`;
    else if (aclSignature(request.extFields, request.body, secretKey) !== request.extFields[AclField.SIGNATURE]) reason = `Check signature failed for accessKey=${accessKey}`;
    if (reason === undefined) return undefined;
    return { ...command(ResponseCode.SYSTEM_ERROR), remark: `org.apache.rocketmq.acl.common.AclException: ${reason}, org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:683)` };
  }

  /** Requests of `code` received so far. */
  received(code: number): RemotingCommand[] {
    return this.requests.filter((r) => r.code === code);
  }

  /** Stops listening and drops every connection (a broker gone: later connects are refused). */
  stop(): Promise<void> {
    this.sockets.forEach((s) => s.destroy());
    const server = this.server;
    this.server = undefined;
    return server ? new Promise((resolve) => server.close(() => resolve())) : Promise.resolve();
  }
}

export interface FakeTopicRoute {
  /** Broker name to the broker serving it, and the topic's write queue count there. */
  brokers: { name: string; address: string; queues: number }[];
  orderTopicConf?: string;
}

export class FakeNameServer extends FakeServer {
  /** Topic to route; a topic not here is answered TOPIC_NOT_EXIST. */
  readonly routes = new Map<string, FakeTopicRoute>();

  protected answer(request: RemotingCommand): RemotingCommand {
    if (request.code !== RequestCode.GET_ROUTEINFO_BY_TOPIC) return command(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    const route = this.routes.get(request.extFields.topic ?? '');
    if (!route) return { ...command(ResponseCode.TOPIC_NOT_EXIST), remark: `No topic route info in name server for the topic: ${request.extFields.topic}` };
    return command(ResponseCode.SUCCESS, {}, Buffer.from(fastjsonRoute(route), 'utf8'));
  }

  lookups(topic: string): number {
    return this.received(RequestCode.GET_ROUTEINFO_BY_TOPIC).filter((r) => r.extFields.topic === topic).length;
  }
}

/** TopicRouteData as fastjson writes it for an old client: brokerAddrs with a bare integer key. */
function fastjsonRoute(route: FakeTopicRoute): string {
  const brokerDatas = route.brokers.map((b) => `{"brokerAddrs":{0:${JSON.stringify(b.address)}},"brokerName":${JSON.stringify(b.name)},"cluster":"DefaultCluster"}`);
  const queueDatas = route.brokers.map((b) => JSON.stringify({ brokerName: b.name, perm: 6, readQueueNums: b.queues, topicSysFlag: 0, writeQueueNums: b.queues }));
  const order = route.orderTopicConf ? `"orderTopicConf":${JSON.stringify(route.orderTopicConf)},` : '';
  return `{"brokerDatas":[${brokerDatas.join(',')}],"filterServerTable":{},${order}"queueDatas":[${queueDatas.join(',')}]}`;
}

export class FakeBroker extends FakeServer {
  /** How the next send is answered; default: stored. */
  script: (request: RemotingCommand) => SendAnswer = () => STORE;
  private readonly offsets = new Map<number, number>();

  constructor(readonly name: string) {
    super();
  }

  protected answer(request: RemotingCommand): RemotingCommand | 'silent' | 'close' {
    if (!SEND_CODES.has(request.code)) {
      const known = request.code === RequestCode.HEART_BEAT || request.code === RequestCode.UNREGISTER_CLIENT;
      return command(known ? ResponseCode.SUCCESS : ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    }
    const answer = this.script(request);
    if (answer.kind === 'silent' || answer.kind === 'close') return answer.kind;
    if (answer.kind === 'code') return { ...command(answer.code), remark: answer.remark };
    const queueId = Number(request.extFields.e);
    const offset = this.offsets.get(queueId) ?? 0;
    this.offsets.set(queueId, offset + batchCount(request));
    return command(answer.code ?? ResponseCode.SUCCESS, { msgId: `${this.name}-${queueId}-${offset}`, queueId: String(queueId), queueOffset: String(offset) });
  }

  sends(): RemotingCommand[] {
    return this.requests.filter((r) => SEND_CODES.has(r.code));
  }
}

/** The messages in a send: 1, or the entries of a batch body (each led by its total size). */
export function batchCount(request: RemotingCommand): number {
  if (request.code !== RequestCode.SEND_BATCH_MESSAGE) return 1;
  const body = request.body ?? Buffer.alloc(0);
  let n = 0;
  for (let at = 0; at < body.length; at += body.readInt32BE(at)) n++;
  return n;
}

export async function fakeNameServer(t: TestContext, port?: number): Promise<FakeNameServer> {
  return new FakeNameServer().listen(t, port);
}

export async function fakeBroker(t: TestContext, name: string): Promise<FakeBroker> {
  return new FakeBroker(name).listen(t);
}
