/**
 * The last good configuration read from ZooKeeper, on disk, so that a proxy restarted while
 * ZooKeeper is down still serves (DDMQ keeps a similar cache under ~/carrera.conf). Written
 * atomically (temp file + rename) after every applied change, a chunk of topics at a time: the
 * file of tens of thousands of topics is megabytes of JSON, which must not hold the event loop.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../log';
import { configSchemas, topicSchemas, type ClusterType } from '../schema';
import type { ConfigSnapshot } from './zk-source';

interface CacheFile {
  instance: string;
  savedAt: string;
  pproxy: unknown;
  topics: unknown[];
}

/** Topics serialised per write. */
const TOPICS_PER_WRITE = 500;

export async function saveSnapshot(file: string, instance: string, snapshot: ConfigSnapshot): Promise<void> {
  const head: Omit<CacheFile, 'topics'> = { instance, savedAt: new Date().toISOString(), pproxy: snapshot.pproxy ?? null };
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  const out = await fs.promises.open(temp, 'w');
  try {
    // the CacheFile's JSON, its topics array written in pieces (writeFile writes each whole)
    await out.writeFile(`${JSON.stringify(head).slice(0, -1)},"topics":[`);
    for (let i = 0; i < snapshot.topics.length; i += TOPICS_PER_WRITE) {
      const piece = snapshot.topics.slice(i, i + TOPICS_PER_WRITE).map((t) => JSON.stringify(t)).join(',');
      await out.writeFile(i === 0 ? piece : `,${piece}`); // the event loop runs between two writes
    }
    await out.writeFile(']}');
    // on disk before it replaces the good copy: a crash must not leave a torn cache in its place
    await out.sync();
  } catch (err) {
    await out.close();
    await fs.promises.rm(temp, { force: true });
    throw err;
  }
  await out.close();
  await fs.promises.rename(temp, file);
}

/** The cached snapshot for `instance`, or undefined when there is none or it is unusable. */
export function loadSnapshot(file: string, instance: string, types: readonly ClusterType[], logger: Logger): ConfigSnapshot | undefined {
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
  const pproxy = content.pproxy === null ? undefined : configSchemas(types).loose.pproxyConfig.safeParse(content.pproxy);
  const topics = content.topics.map((t) => topicSchemas.loose.safeParse(t));
  if ((pproxy && !pproxy.success) || topics.some((t) => !t.success)) {
    logger.warn({ file }, 'configuration cache does not validate; ignored');
    return undefined;
  }
  logger.info({ file, savedAt: content.savedAt }, 'serving the cached ZooKeeper configuration');
  return { pproxy: pproxy?.data, topics: topics.map((t) => t.data!) };
}
