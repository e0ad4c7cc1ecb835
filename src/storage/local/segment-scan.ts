/**
 * Sequential, chunked reading of one segment file, validating every record. Both recovery (which
 * must find where the valid records end) and the reader (which must not return a record another
 * process is still writing) are built on it.
 */
import { promises as fs } from 'node:fs';
import { checkFrame } from './record';

export interface SegmentScan {
  /** Size of the file when the scan began; bytes appended later are not looked at. */
  readonly fileBytes: number;
  /** Length of the run of whole, valid records from the start of the file. */
  readonly validBytes: number;
  readonly records: number;
  /** The offset the record after the last valid one would have. */
  readonly nextOffset: bigint;
  /** Why records stop before fileBytes, when they do and the visitor did not stop the scan. */
  readonly problem: string | undefined;
}

/**
 * Called for each valid record; `buffer` holds it at `position` until the visitor returns (decode
 * it with decodeFrame). Returning false ends the scan.
 */
export type RecordVisitor = (offset: bigint, buffer: Buffer, position: number) => boolean;

const READ_CHUNK_BYTES = 1 << 20;

/**
 * Reads the records of a segment in order. A record must carry the offset that follows its
 * predecessor's (the first one `baseOffset`); a record that does not is treated as corrupt, since
 * offsets are what readers and the next append rely on.
 */
export async function scanSegment(filePath: string, baseOffset: bigint, visit?: RecordVisitor): Promise<SegmentScan> {
  const file = await fs.open(filePath, 'r');
  try {
    const fileBytes = (await file.stat()).size;
    let buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, Math.max(fileBytes, 1)));
    let bufferFilePosition = 0;
    let filled = 0;
    let position = 0;
    let records = 0;
    let nextOffset = baseOffset;
    let problem: string | undefined;
    scanning: for (;;) {
      const frame = checkFrame(buffer, position, filled);
      if (frame.kind === 'record') {
        if (frame.offset !== nextOffset) {
          problem = `record offset ${frame.offset} where ${nextOffset} was expected`;
          break;
        }
        records++;
        nextOffset++;
        const keepGoing = visit === undefined || visit(frame.offset, buffer, position);
        position = frame.end;
        if (!keepGoing) break;
        continue;
      }
      if (frame.kind === 'corrupt') {
        problem = frame.reason;
        break;
      }
      const recordFilePosition = bufferFilePosition + position;
      if (recordFilePosition + frame.needed > fileBytes) {
        if (recordFilePosition < fileBytes) problem = 'incomplete record';
        break;
      }
      // The record is in the file but not all in the buffer: keep its start, read the rest.
      if (frame.needed > buffer.length) {
        const larger = Buffer.allocUnsafe(frame.needed);
        buffer.copy(larger, 0, position, filled);
        buffer = larger;
      } else {
        buffer.copy(buffer, 0, position, filled);
      }
      bufferFilePosition = recordFilePosition;
      filled -= position;
      position = 0;
      while (filled < frame.needed) {
        const wanted = Math.min(buffer.length - filled, fileBytes - (bufferFilePosition + filled));
        const { bytesRead } = await file.read(buffer, filled, wanted, bufferFilePosition + filled);
        if (bytesRead === 0) {
          // The file shrank under us (a writer cut a torn tail): what is left is not a record.
          problem = 'incomplete record';
          break scanning;
        }
        filled += bytesRead;
      }
    }
    return { fileBytes, validBytes: bufferFilePosition + position, records, nextOffset, problem };
  } finally {
    await file.close();
  }
}
