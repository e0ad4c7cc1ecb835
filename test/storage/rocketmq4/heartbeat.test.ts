/**
 * HEART_BEAT and UNREGISTER_CLIENT as a 4.x broker reads them: the heartbeat's body is HeartbeatData
 * (clientID, producerDataSet of ProducerData{groupName}, consumerDataSet), decoded by the broker
 * from JSON; the unregistration's header is UnregisterClientRequestHeader (clientID required,
 * producerGroup and consumerGroup optional). Exchanged with a peer on loopback: SUCCESS resolves,
 * any other code rejects with it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { RequestCode, ResponseCode, ResponseError } from '../../../src/storage/rocketmq4/remoting/codes';
import { FrameReader } from '../../../src/storage/rocketmq4/remoting/frame-reader';
import { heartbeatRequest, sendHeartbeat, unregisterClient, unregisterRequest } from '../../../src/storage/rocketmq4/remoting/heartbeat';
import { command, decodeFrame, encodeCommand, FLAG_RESPONSE, type RemotingCommand } from '../../../src/storage/rocketmq4/remoting/remoting-command';
import { RemotingConnection } from '../../../src/storage/rocketmq4/remoting/remoting-connection';

const onWire = (cmd: RemotingCommand) => decodeFrame(encodeCommand(cmd).subarray(4));

test('heartbeat: code 34, no header fields, a HeartbeatData body naming the client and one producer group', () => {
  const cmd = onWire(heartbeatRequest('host@pproxy_1700', 'pproxy_17000'));
  assert.equal(cmd.code, RequestCode.HEART_BEAT);
  assert.deepEqual(cmd.extFields, {});
  assert.deepEqual(JSON.parse(cmd.body!.toString('utf8')), { clientID: 'host@pproxy_1700', producerDataSet: [{ groupName: 'pproxy_17000' }], consumerDataSet: [] });
});

test('unregister: code 35, clientID and producerGroup in the header, no consumerGroup, no body', () => {
  const cmd = onWire(unregisterRequest('host@pproxy_1700', 'pproxy_17001'));
  assert.equal(cmd.code, RequestCode.UNREGISTER_CLIENT);
  assert.deepEqual(cmd.extFields, { clientID: 'host@pproxy_1700', producerGroup: 'pproxy_17001' });
  assert.equal(cmd.body, undefined);
});

async function broker(t: TestContext, code: number): Promise<{ address: string; seen: RemotingCommand[] }> {
  const seen: RemotingCommand[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const reader = new FrameReader(1 << 20);
    socket.on('data', (d) =>
      reader.push(d).forEach((req) => {
        seen.push(req);
        socket.write(encodeCommand({ ...command(code), opaque: req.opaque, flag: FLAG_RESPONSE, remark: code === 0 ? undefined : 'no' }));
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    return new Promise((resolve) => server.close(resolve));
  });
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, seen };
}

test('sendHeartbeat and unregisterClient resolve on SUCCESS and reject with the code otherwise', async (t) => {
  const ok = await broker(t, ResponseCode.SUCCESS);
  const c = await RemotingConnection.connect(ok.address);
  t.after(() => c.close());
  await sendHeartbeat(c, 'cid', 'g0', 1000);
  await unregisterClient(c, 'cid', 'g0', 1000);
  assert.deepEqual(ok.seen.map((r) => r.code), [RequestCode.HEART_BEAT, RequestCode.UNREGISTER_CLIENT]);

  const refusing = await broker(t, ResponseCode.SYSTEM_ERROR);
  const r = await RemotingConnection.connect(refusing.address);
  t.after(() => r.close());
  await assert.rejects(sendHeartbeat(r, 'cid', 'g0', 1000), (e) => e instanceof ResponseError && e.code === 1 && /heartbeat of g0: response code 1 \(no\)/.test(e.message));
  await assert.rejects(unregisterClient(r, 'cid', 'g1', 1000), (e) => e instanceof ResponseError && e.code === 1 && /unregistering g1/.test(e.message));
});
