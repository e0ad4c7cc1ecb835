/**
 * The floor any Thrift server pays here: read length-prefixed frames, answer each with a fixed
 * Result{code 0, msg "OK"} reply carrying the request's seqid and method name. No decoding beyond
 * the message header, no dispatch. Run as a child process so its RSS is its own; prints
 * "listening <port>".
 */
import net from 'node:net';
import { FrameReader, encodeOkReply, readHeader } from '../frames';

const okReply = encodeOkReply();
/** The reply's result struct: what follows its header (seqid 0, method name). */
const resultStruct = okReply.subarray(readHeader(okReply, 4).end);
const REPLY_TYPE_BYTE = okReply[5]!;

const server = net.createServer({ noDelay: true }, (socket) => {
  let replies: Buffer[] = [];
  const reader = new FrameReader((buf, start) => {
    // the request's seqid varint and method name are copied as they are
    const headerEnd = readHeader(buf, start).end;
    const reply = Buffer.allocUnsafe(4 + 2 + (headerEnd - start - 2) + resultStruct.length);
    reply.writeUInt32BE(reply.length - 4, 0);
    reply[4] = okReply[4]!;
    reply[5] = REPLY_TYPE_BYTE;
    buf.copy(reply, 6, start + 2, headerEnd);
    resultStruct.copy(reply, 6 + headerEnd - start - 2);
    replies.push(reply);
  });
  socket.on('data', (chunk: Buffer) => {
    reader.feed(chunk);
    if (replies.length === 0) return;
    socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies)); // one write per read
    replies = [];
  });
  socket.on('error', () => socket.destroy());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`));
