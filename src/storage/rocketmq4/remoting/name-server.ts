/**
 * Topic routes from a list of RocketMQ 4.x name servers (GET_ROUTEINFO_BY_TOPIC, code 105, the topic
 * as ext field `topic`). One connection at a time, kept while it works; an address that refuses,
 * times out or drops the connection is left for the next one in the list, each address tried at
 * most once per lookup, starting from the one last used.
 *
 * A name server forgets a broker's topics the moment the broker's connection to it drops, so with
 * every broker down it answers TOPIC_NOT_EXIST for any topic. That answer is told apart by asking
 * it for its brokers (GET_BROKER_CLUSTER_INFO): with none registered, it says nothing of the topic.
 */
import { RequestCode, ResponseCode, ResponseError } from './codes';
import { command } from './remoting-command';
import { RemotingConnection, type ConnectionOptions } from './remoting-connection';
import { RemotingError } from './remoting-error';
import { decodeTopicRoute, parseFastjson, writeQueues, type TopicRoute, type WriteQueue } from './topic-route';

export type RouteLookup = { kind: 'found'; route: TopicRoute; queues: WriteQueue[] } | { kind: 'topic-not-exist' } | { kind: 'no-broker' };

export class NameServerClient {
  private current = 0;
  private connection: RemotingConnection | undefined;

  constructor(
    private readonly addresses: readonly string[],
    private readonly options: ConnectionOptions = {},
  ) {
    if (addresses.length === 0) throw new Error('no name server address');
  }

  /**
   * The route of `topic` and its write queues; TOPIC_NOT_EXIST as its own result, or `no-broker`
   * when the name server that answered it has no broker registered. Rejects with a
   * RemotingError of the last failure's kind, naming every address's failure, when no address
   * answered; a ResponseError for another code; a protocol RemotingError at once.
   */
  async topicRoute(topic: string, timeoutMs: number): Promise<RouteLookup> {
    const failures: string[] = [];
    let last: RemotingError | undefined;
    for (let attempt = 0; attempt < this.addresses.length; attempt++) {
      try {
        const connection = await this.connect();
        const response = await connection.request(command(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }), timeoutMs);
        if (response.code === ResponseCode.TOPIC_NOT_EXIST) return (await knowsBrokers(connection, timeoutMs)) ? { kind: 'topic-not-exist' } : { kind: 'no-broker' };
        if (response.code !== ResponseCode.SUCCESS) throw new ResponseError(response.code, response.remark, `route of ${topic}`);
        if (!response.body) throw new RemotingError('protocol', `route of ${topic}: SUCCESS without a body`);
        const route = decodeTopicRoute(response.body);
        return { kind: 'found', route, queues: writeQueues(route) };
      } catch (error) {
        if (!(error instanceof RemotingError) || error.kind === 'protocol') throw error;
        failures.push(error.message);
        last = error;
        this.moveOn();
      }
    }
    throw new RemotingError(last!.kind, `no name server answered the route of ${topic}: ${failures.join('; ')}`);
  }

  close(): void {
    this.connection?.close();
    this.connection = undefined;
  }

  private async connect(): Promise<RemotingConnection> {
    if (this.connection && !this.connection.closed) return this.connection;
    this.connection = await RemotingConnection.connect(this.addresses[this.current]!, this.options);
    return this.connection;
  }

  private moveOn(): void {
    this.close();
    this.current = (this.current + 1) % this.addresses.length;
  }
}

/**
 * Whether the name server has a broker registered: ClusterInfo's brokerAddrTable is not empty. One
 * that does not answer SUCCESS cannot say otherwise, and its TOPIC_NOT_EXIST stands.
 */
async function knowsBrokers(connection: RemotingConnection, timeoutMs: number): Promise<boolean> {
  const response = await connection.request(command(RequestCode.GET_BROKER_CLUSTER_INFO, {}), timeoutMs);
  if (response.code !== ResponseCode.SUCCESS) return true;
  let table: unknown;
  try {
    table = (parseFastjson(response.body?.toString('utf8') ?? '') as { brokerAddrTable?: unknown }).brokerAddrTable;
  } catch (error) {
    throw new RemotingError('protocol', `broker cluster info does not parse: ${(error as Error).message}`);
  }
  if (typeof table !== 'object' || table === null) throw new RemotingError('protocol', 'broker cluster info lacks brokerAddrTable');
  return Object.keys(table).length > 0;
}
