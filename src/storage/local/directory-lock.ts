/**
 * One proxy per local data directory: two processes appending to the same partition files would
 * interleave records and corrupt both logs. The lock is a file holding the owner's pid; a lock
 * left by a process that died (kill -9) is recognised and taken over.
 */
import { readFileSync, promises as fs } from 'node:fs';
import path from 'node:path';

const LOCK_FILE = '.lock';
/** Directories locked by this process: the pid in the file cannot tell two of its storages apart. */
const lockedHere = new Set<string>();

/** Takes the lock of `directory` (created if missing); resolves with its release. */
export async function lockDirectory(directory: string): Promise<() => Promise<void>> {
  await fs.mkdir(directory, { recursive: true });
  const real = await fs.realpath(directory);
  if (lockedHere.has(real)) throw new Error(`${directory} is already used by another cluster of this proxy`);
  lockedHere.add(real);
  const file = path.join(real, LOCK_FILE);
  for (;;) {
    try {
      await fs.writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      return async () => {
        await release(file);
        lockedHere.delete(real);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      lockedHere.delete(real);
      throw new Error(`${directory} is in use by process ${owner} (lock ${file})`);
    }
    await fs.rm(file, { force: true });
  }
}

async function release(file: string): Promise<void> {
  const owner = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
  if (owner === String(process.pid)) await fs.rm(file, { force: true });
}

/** Alive and not a zombie (a killed orphan may wait for a reaper that never comes). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
