/**
 * A no-op ProducerService on the stock `thrift` library: the generated Processor behind
 * thrift.createServer, framed + compact. Each handler declares exactly the IDL's parameters: the
 * generated processor picks the promise style by the handler's arity and otherwise waits for a
 * callback that never comes. Run as a child process; prints "listening <port>".
 */
import type net from 'node:net';
import thrift from 'thrift';
import { Processor } from '../../src/gen/ProducerService';
import { DelayResult, Result, type DelayMessage, type Message } from '../../src/gen/producer_types';

const ok = () => new Result({ code: 0, msg: 'OK' });

const handler = {
  async sendSync(_message: Message, _timeout: unknown) {
    return ok();
  },
  async sendBatchSync(_messages: Message[]) {
    return ok();
  },
  async sendAsync(_message: Message) {
    return ok();
  },
  async sendDelaySync(_message: DelayMessage, _timeout: unknown) {
    return new DelayResult({ code: 0, msg: 'OK', uniqDelayMsgId: '' });
  },
};

const server = thrift.createServer(Processor, handler, { transport: thrift.TFramedTransport, protocol: thrift.TCompactProtocol });
server.on('error', () => undefined); // a client's reset; the connection is gone either way
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`));
