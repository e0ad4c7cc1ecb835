/** Shared fixtures of the local storage tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import pino from 'pino';
import type { Logger } from '../../../src/log';
import { fileSystemIo, type SegmentIo } from '../../../src/storage/local/file-io';
import type { PartitionLogOptions } from '../../../src/storage/local/partition-log';
import type { RecordFields } from '../../../src/storage/local/record';
import type { OutgoingMessage } from '../../../src/storage/storage';

/** A fresh directory, removed when the test ends. */
export function tempDir(t: TestContext): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'pproxy-local-test-'));
  t.after(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

export function message(fields: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    topic: 'orders',
    key: undefined,
    tags: undefined,
    body: Buffer.from('body'),
    properties: undefined,
    partitionId: 0,
    hashId: 0n,
    ordered: false,
    timestamp: 1_700_000_000_000,
    ...fields,
  };
}

/** Distinct, recognisable records: the body names its index. */
export function records(count: number, from = 0, bodyBytes = 0): RecordFields[] {
  return Array.from({ length: count }, (_, i) => ({
    key: `key-${from + i}`,
    tags: undefined,
    properties: undefined,
    timestamp: 1_700_000_000_000 + from + i,
    body: Buffer.concat([Buffer.from(`record-${from + i}`), Buffer.alloc(bodyBytes, 0x61)]),
  }));
}

export function logOptions(directory: string, options: Partial<PartitionLogOptions> = {}): PartitionLogOptions {
  return {
    directory,
    flushPolicy: 'write',
    flushIntervalMs: 1000,
    segmentBytes: 1024 * 1024,
    retentionBytes: 0,
    ...options,
  };
}

/** Real file I/O that counts the calls made through it. */
export interface CountingIo extends SegmentIo {
  writes: number;
  syncs: number;
}

export function countingIo(): CountingIo {
  const io: CountingIo = {
    writes: 0,
    syncs: 0,
    write: (fd, buffer, offset, length, position) => {
      io.writes++;
      return fileSystemIo.write(fd, buffer, offset, length, position);
    },
    datasync: (fd) => {
      io.syncs++;
      return fileSystemIo.datasync(fd);
    },
  };
  return io;
}

/** A promise and the function that resolves it, to hold an operation until the test lets it go. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** A logger that keeps what it is given, as parsed JSON lines. */
export function capturingLogger(): { logger: Logger; entries: Record<string, unknown>[] } {
  const entries: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => entries.push(JSON.parse(line)) });
  return { logger, entries };
}

/** Resolves once `condition` holds, checking on every turn of the event loop. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

export function segmentNames(directory: string): string[] {
  return fs
    .readdirSync(directory)
    .filter((name) => name.endsWith('.log'))
    .sort();
}
