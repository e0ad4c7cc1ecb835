/**
 * Writes to a socket corked until the next tick, so that everything written in one tick (a batch's
 * replies, a load generator's calls) leaves in one writev instead of one syscall each.
 */
import type net from 'node:net';

export function writeCoalesced(socket: net.Socket, chunk: Buffer): void {
  if (socket.writableCorked === 0) {
    socket.cork();
    process.nextTick(() => socket.uncork());
  }
  socket.write(chunk);
}
