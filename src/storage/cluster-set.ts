/**
 * The running storages, one per broker cluster, and how a new configuration replaces them: an
 * unchanged cluster keeps its storage; a changed one gets a new storage that is started, and warmed
 * up for its topics when the caller asks, before the caller swaps it in, after which the old one is
 * closed (requests already on it finish there).
 *
 * Local storages are the exception: two cannot share a directory, so a changed local cluster is
 * closed first and reopened; requests in that short gap are answered 20.
 */
import type { Logger } from '../log';
import type { ClusterSpec } from './registry';
import type { ClusterStorage } from './storage';

interface Running {
  readonly key: string;
  readonly storage: ClusterStorage;
}

export interface ClusterChange {
  /** The storages to route to from now on. */
  readonly storages: ReadonlyMap<string, ClusterStorage>;
  /** Closes what the new set replaced; call once the new storages are routed to. */
  retire(): Promise<void>;
}

export interface WarmUp {
  /** The topics routed to a cluster. */
  topicsOf(cluster: string): readonly string[];
  /** How long a configuration change may wait for its new storages to be ready. */
  timeoutMs: number;
}

export class ClusterSet {
  private running = new Map<string, Running>();

  constructor(private readonly logger: Logger) {}

  /**
   * Starts what `specs` adds or changes. If a storage fails to start, everything started here is
   * closed, the running set stays as it was (but for a local cluster already closed for its
   * replacement, which is dropped so that the next configuration, the old one included, reopens it),
   * and the error is thrown. With `warmUp`, the storages started here are warmed up for their topics
   * (meanwhile the running ones keep serving), for `warmUp.timeoutMs` at most.
   */
  async apply(specs: readonly ClusterSpec[], warmUp?: WarmUp): Promise<ClusterChange> {
    const next = new Map<string, Running>();
    const started: ClusterStorage[] = [];
    const retired: ClusterStorage[] = [];
    const closedEarly: string[] = [];
    try {
      for (const spec of specs) {
        const current = this.running.get(spec.name);
        if (current?.key === spec.key) {
          next.set(spec.name, current);
          continue;
        }
        if (current && spec.kind === 'local') {
          await current.storage.close();
          closedEarly.push(spec.name);
        } else if (current) retired.push(current.storage);
        const storage = spec.create();
        try {
          await storage.start();
        } catch (error) {
          await storage.close().catch(() => undefined); // what it opened before failing
          throw new Error(`cluster ${spec.name} (${spec.kind}) cannot start: ${(error as Error).message}`, { cause: error });
        }
        started.push(storage);
        next.set(spec.name, { key: spec.key, storage });
        this.logger.info({ cluster: spec.name, kind: spec.kind, replaced: current !== undefined }, 'cluster started');
      }
    } catch (error) {
      await Promise.allSettled(started.map((s) => s.close()));
      // a closed storage must not count as running: the next configuration recreates it
      for (const name of closedEarly) this.running.delete(name);
      throw error;
    }
    if (warmUp && started.length > 0) await this.warmUp(started, warmUp);
    for (const [name, current] of this.running) {
      if (!next.has(name)) retired.push(current.storage);
    }
    this.running = next;
    return {
      storages: new Map([...next].map(([name, r]) => [name, r.storage])),
      retire: async () => {
        const results = await Promise.allSettled(retired.map((s) => s.close()));
        results.forEach((r, i) => {
          if (r.status === 'rejected') this.logger.error({ err: r.reason, cluster: retired[i]!.cluster }, 'closing a retired cluster failed');
        });
      },
    };
  }

  private async warmUp(storages: readonly ClusterStorage[], { topicsOf, timeoutMs }: WarmUp): Promise<void> {
    const began = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeUp = new Promise<'time up'>((resolve) => (timer = setTimeout(() => resolve('time up'), timeoutMs)));
    const ready = Promise.all(storages.map((s) => s.warmUp?.(topicsOf(s.cluster)))).then(() => 'ready' as const);
    const result = await Promise.race([ready, timeUp]);
    clearTimeout(timer);
    const clusters = storages.map((s) => s.cluster);
    if (result === 'ready') this.logger.info({ clusters, ms: Date.now() - began }, 'new cluster storages ready');
    else this.logger.warn({ clusters, timeoutMs }, 'new cluster storages not ready in time; routing to them anyway');
  }

  /** Closes every storage (shutdown). */
  async close(): Promise<void> {
    const all = [...this.running.values()];
    this.running = new Map();
    const results = await Promise.allSettled(all.map((r) => r.storage.close()));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.logger.error({ err: r.reason, cluster: all[i]!.storage.cluster }, 'closing storage failed');
    });
  }
}
