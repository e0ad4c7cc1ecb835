/**
 * Partition counts of Kafka topics, fetched from broker metadata and cached. Concurrent requests
 * for a topic share one fetch; a topic's fetch never waits on another topic's. A count is trusted
 * for `maxAgeMs`, and fetched again early when a send suggests it is stale.
 */
export type FetchPartitionCount = (topic: string) => Promise<number>;

interface Entry {
  count: number | undefined;
  fetchedAt: number;
  fetching: Promise<number> | undefined;
}

export class PartitionCounts {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly fetch: FetchPartitionCount,
    private readonly maxAgeMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The topic's partition count; fetched when unknown, refreshed in the background when old. */
  get(topic: string): Promise<number> {
    const entry = this.entries.get(topic);
    if (entry?.count !== undefined) {
      if (this.clock() - entry.fetchedAt > this.maxAgeMs) void this.refresh(topic).catch(() => undefined);
      return Promise.resolve(entry.count);
    }
    return this.refresh(topic);
  }

  /** Fetches now (joining a fetch under way). A failed fetch keeps the previous count. */
  refresh(topic: string): Promise<number> {
    let entry = this.entries.get(topic);
    if (!entry) this.entries.set(topic, (entry = { count: undefined, fetchedAt: 0, fetching: undefined }));
    if (entry.fetching) return entry.fetching;
    const current = entry;
    current.fetching = this.fetch(topic).then(
      (count) => {
        current.count = count;
        current.fetchedAt = this.clock();
        current.fetching = undefined;
        return count;
      },
      (error: unknown) => {
        current.fetching = undefined;
        throw error;
      },
    );
    return current.fetching;
  }
}
