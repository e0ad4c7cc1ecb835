/**
 * A producer's registration with a broker: HEART_BEAT (34) with a HeartbeatData JSON body naming
 * the client and its producer group (a broker forgets a client it has not heard from for 120 s),
 * and UNREGISTER_CLIENT (35) when the producer goes away.
 */
import { RequestCode, ResponseCode, ResponseError } from './codes';
import { command, type RemotingCommand } from './remoting-command';
import type { RemotingConnection } from './remoting-connection';

export function heartbeatRequest(clientId: string, producerGroup: string): RemotingCommand {
  const data = { clientID: clientId, producerDataSet: [{ groupName: producerGroup }], consumerDataSet: [] };
  return command(RequestCode.HEART_BEAT, {}, Buffer.from(JSON.stringify(data), 'utf8'));
}

export function unregisterRequest(clientId: string, producerGroup: string): RemotingCommand {
  return command(RequestCode.UNREGISTER_CLIENT, { clientID: clientId, producerGroup });
}

export async function sendHeartbeat(connection: RemotingConnection, clientId: string, producerGroup: string, timeoutMs: number): Promise<void> {
  expectSuccess(await connection.request(heartbeatRequest(clientId, producerGroup), timeoutMs), `heartbeat of ${producerGroup}`);
}

export async function unregisterClient(connection: RemotingConnection, clientId: string, producerGroup: string, timeoutMs: number): Promise<void> {
  expectSuccess(await connection.request(unregisterRequest(clientId, producerGroup), timeoutMs), `unregistering ${producerGroup}`);
}

function expectSuccess(response: RemotingCommand, what: string): void {
  if (response.code !== ResponseCode.SUCCESS) throw new ResponseError(response.code, response.remark, what);
}
