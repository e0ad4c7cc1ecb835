/**
 * The stock `thrift` library as an independent reference for our codec: encode calls with the
 * generated client into bytes, and decode reply bytes with the same client, without a network.
 */
import thrift from 'thrift';
import { Client } from '../../src/gen/ProducerService';

type ClientInternals = Record<string, (input: thrift.TProtocol, mtype: number, seqid: number) => void>;

/**
 * Runs `invoke` on a generated client whose requests go to `serve` (a frame-in, frame-out handler)
 * and whose replies are parsed by the generated code, exactly as over a socket.
 */
export async function callThroughStockClient<R>(
  invoke: (client: Client) => Promise<R>,
  serve: (frame: Buffer) => Buffer | Promise<Buffer> | null,
): Promise<R> {
  let client!: Client;
  const transport = new thrift.TFramedTransport(undefined, (framed?: Buffer) => {
    void Promise.resolve(serve(framed!.subarray(4))).then((reply) => {
      if (reply) deliverReply(client, reply);
    });
  });
  client = new Client(transport, thrift.TCompactProtocol);
  return invoke(client);
}

function deliverReply(client: Client, frame: Buffer): void {
  const body = frame.subarray(4);
  const input = new thrift.TCompactProtocol(new thrift.TFramedTransport(body));
  const header = input.readMessageBegin();
  const recv = (client as unknown as ClientInternals)[`recv_${header.fname}`];
  if (!recv) throw new Error(`no recv_${header.fname} on the generated client`);
  recv.call(client, input, header.mtype, header.rseqid);
}

/** Encodes one call with the stock client and returns the frame body (no length prefix). */
export function encodeWithStockClient(invoke: (client: Client) => unknown): Buffer {
  let captured: Buffer | undefined;
  const transport = new thrift.TFramedTransport(undefined, (framed?: Buffer) => (captured = framed!.subarray(4)));
  const client = new Client(transport, thrift.TCompactProtocol);
  const pending = invoke(client);
  if (pending instanceof Promise) pending.catch(() => undefined);
  if (!captured) throw new Error('the stock client wrote nothing');
  return captured;
}

/** Writes arbitrary compact-protocol bytes with the stock protocol (for malformed or extended input). */
export function writeRawCall(name: string, writeArgs: (p: thrift.TProtocol) => void): Buffer {
  let captured: Buffer | undefined;
  const transport = new thrift.TFramedTransport(undefined, (framed?: Buffer) => (captured = framed));
  const p = new thrift.TCompactProtocol(transport);
  p.writeMessageBegin(name, thrift.Thrift.MessageType.CALL, 7);
  p.writeStructBegin('args');
  writeArgs(p);
  p.writeFieldStop();
  p.writeStructEnd();
  p.writeMessageEnd();
  transport.flush();
  return captured!;
}

export const T = thrift.Thrift.Type;
