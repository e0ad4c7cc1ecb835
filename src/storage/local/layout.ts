/**
 * Where the local log keeps things: `<dataDir>/<topic>/<partition>/<first offset>.log`, the segment
 * name being its first offset zero-padded to 20 digits (Kafka's convention) so that name order is
 * offset order.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** DDMQ's topic rule. It also keeps a topic a single, harmless path component. */
const TOPIC_NAME = /^[%|a-zA-Z0-9_-]{1,255}$/;
const SEGMENT_NAME = /^(\d{20})\.log$/;
const PARTITION_NAME = /^(0|[1-9]\d*)$/;

export interface SegmentFile {
  readonly baseOffset: bigint;
  readonly path: string;
  readonly bytes: number;
}

export function isValidTopicName(topic: string): boolean {
  return TOPIC_NAME.test(topic);
}

export function isPartitionDirectoryName(name: string): boolean {
  return PARTITION_NAME.test(name);
}

export function partitionDirectory(dataDir: string, topic: string, partition: number): string {
  return path.join(dataDir, topic, String(partition));
}

export function segmentPath(directory: string, baseOffset: bigint): string {
  return path.join(directory, `${baseOffset.toString().padStart(20, '0')}.log`);
}

/** The segments of a partition directory in offset order; none when the directory does not exist. */
export async function listSegments(directory: string): Promise<SegmentFile[]> {
  let names: string[];
  try {
    names = await fs.readdir(directory);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const segments: SegmentFile[] = [];
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name);
    if (match === null) continue;
    const filePath = path.join(directory, name);
    try {
      segments.push({ baseOffset: BigInt(match[1]), path: filePath, bytes: (await fs.stat(filePath)).size });
    } catch (error) {
      // Retention may delete a segment between the listing and the stat.
      if (!isNotFound(error)) throw error;
    }
  }
  return segments.sort((a, b) => (a.baseOffset < b.baseOffset ? -1 : a.baseOffset > b.baseOffset ? 1 : 0));
}

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
