/**
 * The last good configuration read from ZooKeeper, on disk, so that a proxy restarted while
 * ZooKeeper is down still serves (DDMQ keeps a similar cache under ~/carrera.conf). Written
 * atomically (temp file + rename) after every applied change.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../log';
import { schemas } from '../schema';
import type { ConfigSnapshot } from './zk-source';

interface CacheFile {
  instance: string;
  savedAt: string;
  pproxy: unknown;
  topics: unknown[];
}

export function saveSnapshot(file: string, instance: string, snapshot: ConfigSnapshot): void {
  const content: CacheFile = { instance, savedAt: new Date().toISOString(), pproxy: snapshot.pproxy ?? null, topics: [...snapshot.topics] };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(content));
  fs.renameSync(temp, file);
}

/** The cached snapshot for `instance`, or undefined when there is none or it is unusable. */
export function loadSnapshot(file: string, instance: string, logger: Logger): ConfigSnapshot | undefined {
  let content: CacheFile;
  try {
    content = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ file, err: (err as Error).message }, 'configuration cache unreadable');
    return undefined;
  }
  if (content.instance !== instance) {
    logger.warn({ file, cached: content.instance, instance }, 'configuration cache is for another instance; ignored');
    return undefined;
  }
  const pproxy = content.pproxy === null ? undefined : schemas.loose.pproxyConfig.safeParse(content.pproxy);
  const topics = content.topics.map((t) => schemas.loose.topicConfig.safeParse(t));
  if ((pproxy && !pproxy.success) || topics.some((t) => !t.success)) {
    logger.warn({ file }, 'configuration cache does not validate; ignored');
    return undefined;
  }
  logger.info({ file, savedAt: content.savedAt }, 'serving the cached ZooKeeper configuration');
  return { pproxy: pproxy?.data, topics: topics.map((t) => t.data!) };
}
