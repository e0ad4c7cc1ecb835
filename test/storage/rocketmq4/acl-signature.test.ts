/**
 * RocketMQ 4's ACL signature: the content (ext field values by name, the signature's left out, then
 * the body) and its HmacSHA1, against vectors computed apart from this code (openssl, and the 4.9.7
 * Java client's AclClientRPCHook on the same SEND_MESSAGE_V2); the signer's fields; and a connection
 * signing every request and oneway request it writes, as the peer receives them.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { AclField, aclSignature, requestSigner } from '../../../src/storage/rocketmq4/remoting/acl-signature';
import { FrameReader } from '../../../src/storage/rocketmq4/remoting/frame-reader';
import type { UniqIdGenerator } from '../../../src/storage/rocketmq4/remoting/message-codec';
import { command, encodeCommand, FLAG_RESPONSE, type RemotingCommand } from '../../../src/storage/rocketmq4/remoting/remoting-command';
import { RemotingConnection } from '../../../src/storage/rocketmq4/remoting/remoting-connection';
import { sendMessageRequest } from '../../../src/storage/rocketmq4/remoting/send-message';

const SECRET = 'secret-key-1';
const CREDENTIALS = { accessKey: 'ak-test', secretKey: SECRET, securityToken: 'token-1' };

test('content: values ordered by field name (upper case first, as Java compares), UTF-8, the body last, the signature left out', () => {
  const fields = { i: 'cödé ✓', b: 'topic-x', SecurityToken: 'token-1', a: 'group-1', AccessKey: 'ak-test', Signature: 'not signed' };
  // printf %s 'ak-testtoken-1group-1topic-xcödé ✓hello' | openssl dgst -sha1 -hmac secret-key-1 -binary | base64
  assert.equal(aclSignature(fields, Buffer.from('hello'), SECRET), 'raIuSouylXu2boqJ8jaiASi0fvo=');
  // no fields but the access key, no body: printf %s ak-test | openssl ...
  assert.equal(aclSignature({ AccessKey: 'ak-test' }, undefined, SECRET), 'rsryw4b+QDz2gUTTbgfF7TwDM58=');
});

test('SEND_MESSAGE_V2 as we build it is signed as the 4.9.7 Java client signs the same request', () => {
  const ids = { next: () => 'ABC' } as unknown as UniqIdGenerator;
  const { request } = sendMessageRequest({ producerGroup: 'group-1', topic: 'topic-x', queueId: 3 }, { body: Buffer.from('hello') }, { body: Buffer.from('hello'), sysFlag: 0 }, ids, 1_700_000_000_000);
  const signed = requestSigner(CREDENTIALS)(request);
  // AclClientRPCHook(new SessionCredentials("ak-test", "secret-key-1", "token-1")).doBeforeRequest on
  // RemotingCommand.createRequestCommand(310, SendMessageRequestHeaderV2 of the same values), its
  // extFields printed in order (rocketmq-acl 4.9.7); maxReconsumeTimes (l), null, is left out there too
  assert.deepEqual(Object.fromEntries(Object.entries(signed.extFields).sort(([a], [b]) => (a < b ? -1 : 1))), {
    AccessKey: 'ak-test',
    SecurityToken: 'token-1',
    Signature: 'VRrj2CrfimKqOaaI/uln84Ni6E4=',
    a: 'group-1',
    b: 'topic-x',
    c: 'TBW102',
    d: '4',
    e: '3',
    f: '0',
    g: '1700000000000',
    h: '0',
    i: 'WAIT\u0001true\u0002UNIQ_KEY\u0001ABC',
    j: '0',
    k: 'false',
    m: 'false',
  });
  assert.equal(request.extFields[AclField.SIGNATURE], undefined, 'the request given is left as it was');
});

test('without a security token there is no SecurityToken field; the signer prints as a function, not its keys', () => {
  const signer = requestSigner({ accessKey: 'ak-test', secretKey: SECRET });
  const signed = signer(command(105, { topic: 'topic-x' }));
  assert.deepEqual(Object.keys(signed.extFields).sort(), ['AccessKey', 'Signature', 'topic']);
  // printf %s ak-testtopic-x | openssl dgst -sha1 -hmac secret-key-1 -binary | base64
  assert.equal(signed.extFields.Signature, 'E2oo3NaGxsly+9YVdmRvOF/OUsI=');
  assert.ok(!inspect(signer).includes(SECRET) && !String(signer).includes(SECRET), inspect(signer));
});

test('a connection with a signer signs every request and oneway request; the peer can verify each', async (t) => {
  const received: RemotingCommand[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const reader = new FrameReader(1 << 20);
    socket.on('data', (chunk) => {
      for (const request of reader.push(chunk)) {
        received.push(request);
        socket.write(encodeCommand({ ...command(0), opaque: request.opaque, flag: FLAG_RESPONSE }));
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    sockets.forEach((socket) => socket.destroy());
    return new Promise((resolve) => server.close(resolve));
  });
  const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const connection = await RemotingConnection.connect(address, { sign: requestSigner(CREDENTIALS) });
  t.after(() => connection.close());

  await connection.request(command(34, {}, Buffer.from('{"clientID":"c"}')), 5000);
  await connection.request(command(35, { clientID: 'c', producerGroup: 'g' }), 5000);
  connection.oneway(command(105, { topic: 't' }));
  await connection.request(command(105, { topic: 'u' }), 5000);
  assert.deepEqual(received.map((r) => r.code), [34, 35, 105, 105]);
  for (const r of received) {
    assert.equal(r.extFields.AccessKey, 'ak-test');
    assert.equal(r.extFields.SecurityToken, 'token-1');
    assert.equal(r.extFields.Signature, aclSignature(r.extFields, r.body, SECRET), `request ${r.code} verifies`);
  }
  assert.notEqual(received[0]!.extFields.Signature, aclSignature(received[0]!.extFields, undefined, SECRET), 'the body is signed');
});
