/**
 * The running storages, one per broker cluster, and how a new configuration replaces them: an
 * unchanged cluster keeps its storage; a changed one gets a new storage that is started, and warmed
 * up for its topics when the caller asks, before the caller swaps it in, after which the old one is
 * closed (requests already on it finish there).
 *
 * Storages that hold an exclusive resource (a local cluster's directory lock) are the exception: two
 * cannot run side by side, so a changed one is closed first and reopened; requests in that short
 * gap are answered 20.
 */
import type { Logger } from '../log';
import { TIMED_OUT, timeLimit } from '../time/time-limit';
import type { ClusterSpec } from './storage-registry';
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
   * closed, the running set stays as it was (but for an exclusive cluster already closed for its
   * replacement, which is dropped so that the next configuration, the old one included, reopens it),
   * and the error is thrown. With `warmUp`, the broker storages started here are warmed up for their
   * topics (meanwhile the running ones keep serving), for `warmUp.timeoutMs` at most.
   */
  async apply(specs: readonly ClusterSpec[], warmUp?: WarmUp): Promise<ClusterChange> {
    const next = new Map<string, Running>();
    const started: ClusterStorage[] = [];
    const retired: ClusterStorage[] = [];
    const closedEarly: string[] = [];
    const startOrKeep = async (spec: ClusterSpec) => {
      const current = this.running.get(spec.name);
      if (current?.key === spec.key) {
        next.set(spec.name, current);
        return;
      }
      if (current && spec.exclusive) {
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
    };
    try {
      for (const spec of specs) if (!spec.exclusive) await startOrKeep(spec);
      if (warmUp && started.length > 0) await this.warmUp(started, warmUp);
      // exclusive clusters last: a changed one is closed before it reopens (two cannot share a
      // directory), and that gap must not include the other clusters' start and warm-up
      for (const spec of specs) if (spec.exclusive) await startOrKeep(spec);
    } catch (error) {
      await Promise.allSettled(started.map((s) => s.close()));
      // a closed storage must not count as running: the next configuration recreates it
      for (const name of closedEarly) this.running.delete(name);
      throw error;
    }
    for (const [name, current] of this.running) {
      if (!next.has(name)) retired.push(current.storage);
    }
    this.running = next;
    return {
      storages: new Map(specs.map((spec) => [spec.name, next.get(spec.name)!.storage])),
      retire: async () => {
        const results = await Promise.allSettled(retired.map((s) => s.close()));
        results.forEach((r, i) => {
          if (r.status === 'rejected') this.logger.error({ err: r.reason, cluster: retired[i]!.cluster }, 'closing a retired cluster failed');
        });
      },
    };
  }

  /** Never throws: a storage that cannot warm up is routed to anyway, and fails on send. */
  private async warmUp(storages: readonly ClusterStorage[], { topicsOf, timeoutMs }: WarmUp): Promise<void> {
    const began = Date.now();
    const clusters = storages.map((s) => s.cluster);
    const ready = Promise.all(
      storages.map((s) =>
        Promise.resolve()
          .then(() => s.warmUp?.(topicsOf(s.cluster)))
          .catch((err: unknown) => this.logger.warn({ err, cluster: s.cluster }, 'warming a new cluster storage up failed')),
      ),
    );
    if ((await timeLimit(ready, timeoutMs)) === TIMED_OUT) {
      this.logger.warn({ clusters, timeoutMs }, 'new cluster storages not ready in time; routing to them anyway');
    } else {
      this.logger.info({ clusters, ms: Date.now() - began }, 'new cluster storages ready');
    }
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
