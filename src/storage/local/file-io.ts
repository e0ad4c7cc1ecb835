/**
 * The file calls of the partition log, on raw descriptors (the callback API is the lightest way to
 * issue them from the append path). Writes and syncs go through SegmentIo so that tests can count
 * them or make them fail the way a full or broken disk would.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

export interface SegmentIo {
  /** One positional write; may write fewer bytes than asked. */
  write(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
  datasync(fd: number): Promise<void>;
}

export const fileSystemIo: SegmentIo = {
  write: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) => {
      fs.write(fd, buffer, offset, length, position, (error, written) => (error ? reject(error) : resolve(written)));
    }),
  datasync: (fd) =>
    new Promise((resolve, reject) => {
      fs.fdatasync(fd, (error) => (error ? reject(error) : resolve()));
    }),
};

export const openFile = promisify(fs.open);
export const closeFile = promisify(fs.close);
export const truncateFile = promisify(fs.ftruncate);
const syncFile = promisify(fs.fsync);

/** Writes buffer[start, end) at `position`, continuing after short writes. */
export async function writeFully(
  io: SegmentIo,
  fd: number,
  buffer: Buffer,
  start: number,
  end: number,
  position: number,
): Promise<void> {
  while (start < end) {
    const written = await io.write(fd, buffer, start, end - start, position);
    if (written <= 0) throw new Error(`write made no progress (${written} of ${end - start} bytes)`);
    start += written;
    position += written;
  }
}

/** Makes the creation (or removal) of entries in `directory` survive an OS crash. */
export async function syncDirectory(directory: string): Promise<void> {
  const fd = await openFile(directory, fs.constants.O_RDONLY);
  try {
    await syncFile(fd);
  } finally {
    await closeFile(fd);
  }
}
