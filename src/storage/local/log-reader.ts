/**
 * Read-only access to a local log directory, for the `tail` command and for tests. It takes no
 * lock and writes nothing, so it can read a log a running proxy is appending to: a record still
 * being written fails its length or crc check and is left out, and a segment deleted by retention
 * between listing and reading is skipped.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  isNotFound,
  isPartitionDirectoryName,
  isValidTopicName,
  listSegments,
  partitionDirectory,
  type SegmentFile,
} from './layout';
import { decodeFrame, type StoredRecord } from './record';
import { scanSegment, type RecordVisitor, type SegmentScan } from './segment-scan';

export interface ReadOptions {
  /** First offset wanted; defaults to the oldest record kept. */
  readonly fromOffset?: bigint;
  /** Most records returned; defaults to all. */
  readonly limit?: number;
}

export async function listTopics(dataDir: string): Promise<string[]> {
  const names = await subdirectories(dataDir);
  return names.filter(isValidTopicName).sort();
}

export async function listPartitions(dataDir: string, topic: string): Promise<number[]> {
  assertTopic(topic);
  const names = await subdirectories(path.join(dataDir, topic));
  return names
    .filter(isPartitionDirectoryName)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Records in offset order across segments; a segment's records end at its first bad record. */
export async function readRecords(
  dataDir: string,
  topic: string,
  partition: number,
  options: ReadOptions = {},
): Promise<StoredRecord[]> {
  assertTopic(topic);
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const records: StoredRecord[] = [];
  if (limit <= 0) return records;
  const segments = await listSegments(partitionDirectory(dataDir, topic, partition));
  const fromOffset = options.fromOffset ?? segments[0]?.baseOffset ?? 0n;
  // Segments wholly before fromOffset are skipped: the one holding it is the last starting at or before it.
  let first = 0;
  while (first + 1 < segments.length && segments[first + 1].baseOffset <= fromOffset) first++;
  const collect: RecordVisitor = (offset, buffer, position) => {
    if (offset >= fromOffset) records.push(decodeFrame(buffer, position));
    return records.length < limit;
  };
  for (const segment of segments.slice(first)) {
    await scanIfPresent(segment, collect);
    if (records.length >= limit) break;
  }
  return records;
}

/** The last `count` records of the partition, oldest first. */
export async function readLastRecords(
  dataDir: string,
  topic: string,
  partition: number,
  count: number,
): Promise<StoredRecord[]> {
  assertTopic(topic);
  if (count <= 0) return [];
  const segments = await listSegments(partitionDirectory(dataDir, topic, partition));
  // Count records from the newest segment back (checking them, not decoding them) to find where
  // the last `count` begin, then decode only those.
  let missing = count;
  let fromOffset: bigint | undefined;
  for (let i = segments.length - 1; i >= 0 && missing > 0; i--) {
    const scan = await scanIfPresent(segments[i]);
    if (scan === undefined) continue;
    const taken = Math.min(missing, scan.records);
    fromOffset = scan.nextOffset - BigInt(taken);
    missing -= taken;
  }
  if (fromOffset === undefined) return [];
  return readRecords(dataDir, topic, partition, { fromOffset, limit: count });
}

async function scanIfPresent(segment: SegmentFile, visit?: RecordVisitor): Promise<SegmentScan | undefined> {
  try {
    return await scanSegment(segment.path, segment.baseOffset, visit);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function subdirectories(directory: string): Promise<string[]> {
  try {
    const entries = await fs.readdir(directory, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

/** A topic is a path component here: refuse anything the proxy could not have written. */
function assertTopic(topic: string): void {
  if (!isValidTopicName(topic)) throw new Error(`illegal topic name ${JSON.stringify(topic)}`);
}
