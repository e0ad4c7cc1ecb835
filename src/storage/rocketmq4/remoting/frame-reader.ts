/**
 * Cuts a TCP byte stream into remoting commands: a chunk may hold part of a frame, several frames,
 * or the end of one and the start of the next. Each frame's length is checked before its bytes are
 * kept, so a corrupt length is an error at once, not a wait for gigabytes.
 */
import { decodeFrame, frameLength, type RemotingCommand } from './remoting-command';

export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxFrameSize: number) {}

  /** The commands completed by `chunk`, in order; throws a protocol RemotingError on a bad frame. */
  push(chunk: Buffer): RemotingCommand[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const commands: RemotingCommand[] = [];
    for (;;) {
      if (this.pendingBytes < 4) break;
      const head = this.contiguous(4);
      const length = frameLength(head, 0, this.maxFrameSize);
      if (this.pendingBytes < 4 + length) break;
      const all = this.contiguous(4 + length);
      commands.push(decodeFrame(all.subarray(4, 4 + length)));
      this.drop(4 + length);
    }
    return commands;
  }

  /** At least the first `n` pending bytes as one buffer (joining chunks only when needed). */
  private contiguous(n: number): Buffer {
    if (this.pending[0]!.length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!;
  }

  private drop(n: number): void {
    const first = this.pending[0]!;
    if (first.length === n) this.pending.shift();
    else this.pending[0] = first.subarray(n);
    this.pendingBytes -= n;
  }
}
