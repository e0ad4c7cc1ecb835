/**
 * The local Chronos' time-ordered index: a binary min-heap of items by their due time (epoch ms),
 * so that a tick looks only at what is due instead of at every pending message.
 */
export interface Due {
  /** When the item is due, epoch ms; read when the item is pushed, and not to change while it is in the heap. */
  readonly due: number;
}

export class DueHeap<T extends Due> {
  private items: T[] = [];

  /** A heap of `items` (taken over, not copied), built in linear time. */
  static of<T extends Due>(items: T[]): DueHeap<T> {
    const heap = new DueHeap<T>();
    heap.items = items;
    heap.heapify();
    return heap;
  }

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    const items = this.items;
    let at = items.push(item) - 1;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (items[parent]!.due <= item.due) break;
      items[at] = items[parent]!;
      at = parent;
    }
    items[at] = item;
  }

  /** The earliest item if it is due at `now`, removed from the heap. */
  popDue(now: number): T | undefined {
    const top = this.items[0];
    if (top === undefined || top.due > now) return undefined;
    const last = this.items.pop()!;
    if (this.items.length > 0) {
      this.items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Keeps only the items `keep` accepts (the heap's way to shed items that were removed elsewhere). */
  retain(keep: (item: T) => boolean): void {
    this.items = this.items.filter(keep);
    this.heapify();
  }

  private heapify(): void {
    for (let at = (this.items.length >> 1) - 1; at >= 0; at--) this.siftDown(at);
  }

  private siftDown(start: number): void {
    const items = this.items;
    const item = items[start]!;
    let at = start;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= items.length) break;
      if (child + 1 < items.length && items[child + 1]!.due < items[child]!.due) child++;
      if (items[child]!.due >= item.due) break;
      items[at] = items[child]!;
      at = child;
    }
    items[at] = item;
  }
}
