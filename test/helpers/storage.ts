/** Reading back what a test proxy stored in its local cluster. */
import path from 'node:path';
import { listPartitions, readRecords } from '../../src/storage/local/log-reader';
import type { StoredRecord } from '../../src/storage/local/record';

export interface StoredMessage extends StoredRecord {
  partition: number;
}

/** Every record of a topic in a local cluster under dataDir (default cluster L_local). */
export async function storedMessages(dataDir: string, topic: string, cluster = 'L_local'): Promise<StoredMessage[]> {
  const dir = path.join(dataDir, 'local', cluster);
  const all: StoredMessage[] = [];
  for (const partition of await listPartitions(dir, topic)) {
    for (const r of await readRecords(dir, topic, partition)) all.push({ ...r, partition });
  }
  return all;
}
