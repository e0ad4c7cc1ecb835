/**
 * One BatchQueue per (storage, topic), created on first use and dropped when idle, so a storage
 * replaced by a configuration change drains its queues and leaves nothing behind.
 */
import type { StorageBudgets } from '../core/storage-budget';
import type { ClusterStorage } from '../storage/storage';
import { realTimers, type Timers } from '../time/timers';
import { BatchQueue, type BatchMember, type BatchSettings } from './batch-queue';

export class AutoBatcher {
  private readonly queues = new Map<ClusterStorage, Map<string, BatchQueue>>();

  constructor(
    private settings: BatchSettings,
    /** Each storage's budget, which its queues' batches count against. */
    private readonly budgets: StorageBudgets,
    private readonly timers: Timers = realTimers,
  ) {}

  /** New settings apply to every queue at once: under load a queue may never go idle and be made anew. */
  configure(settings: BatchSettings): void {
    this.settings = settings;
    for (const byTopic of this.queues.values()) {
      for (const queue of byTopic.values()) queue.configure(settings);
    }
  }

  /** Queues the member on its storage and topic; it can be withdrawn from the queue returned until its batch goes. */
  enqueue(storage: ClusterStorage, member: BatchMember): BatchQueue {
    const { message } = member;
    let byTopic = this.queues.get(storage);
    if (!byTopic) this.queues.set(storage, (byTopic = new Map()));
    let queue = byTopic.get(message.topic);
    if (!queue) {
      const topics = byTopic;
      queue = new BatchQueue(storage, this.budgets.of(storage), this.settings, this.timers, () => {
        topics.delete(message.topic);
        if (topics.size === 0) this.queues.delete(storage);
      });
      byTopic.set(message.topic, queue);
    }
    queue.enqueue(member);
    return queue;
  }
}
