/**
 * The routes of the topics a RocketMQ 4 cluster is sent to: each topic's write queues in the 4.x
 * client's order and its brokers' master addresses, fetched from the name servers on first use and
 * then again every `pollNameServerInterval`, as the 4.x client polls them. A send uses the route
 * held; it waits only for a topic's first lookup (lookups of one topic share one request). A failed
 * refresh keeps the route held: brokers that served a moment ago are a better guess than none. So
 * does a name server that answers TOPIC_NOT_EXIST for a topic held, as the 4.x client does: a name
 * server drops a broker's topics when that broker's connection to it drops, and a topic truly
 * deleted is refused by its broker (TOPIC_NOT_EXIST from the send). A topic the name servers do not
 * know is held as such until the next poll, so a flood of sends to it asks the name servers once
 * per interval, not once per message; one they cannot know, having no broker, is not held.
 */
import { StorageError } from '../storage';
import type { StorageTimers } from '../plugin-api';
import type { RouteLookup } from './remoting/name-server';
import { masterAddress, type WriteQueue } from './remoting/topic-route';

export interface PublishRoute {
  /** The write queues, in the order DDMQ's queue rule indexes. */
  readonly queues: readonly WriteQueue[];
  /** Broker name to its master's host:port. */
  readonly masters: ReadonlyMap<string, string>;
}

export type RouteState = { readonly kind: 'found'; readonly route: PublishRoute } | { readonly kind: 'topic-not-exist' };

/** Where routes come from: the name servers (NameServerClient), or a test's stand-in. */
export interface RouteSource {
  topicRoute(topic: string, timeoutMs: number): Promise<RouteLookup>;
}

interface Entry {
  state: RouteState | undefined;
  lookup: Promise<RouteState> | undefined;
}

export class TopicRoutes {
  private readonly entries = new Map<string, Entry>();
  private timer: unknown;
  private stopped = false;

  constructor(
    private readonly source: RouteSource,
    private readonly timers: StorageTimers,
    private readonly pollIntervalMs: number,
    private readonly lookupTimeoutMs: number,
  ) {}

  /** Polls the routes held every interval until stop(). */
  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
  }

  /** The route held for `topic`, or its first lookup; rejects when that lookup fails. */
  get(topic: string): RouteState | Promise<RouteState> {
    const entry = this.entries.get(topic);
    if (entry?.state) return entry.state;
    return this.refresh(topic);
  }

  /** The route held, if any (no lookup). */
  held(topic: string): RouteState | undefined {
    return this.entries.get(topic)?.state;
  }

  /** Looks `topic` up now, joining a lookup under way. */
  refresh(topic: string): Promise<RouteState> {
    let entry = this.entries.get(topic);
    if (!entry) this.entries.set(topic, (entry = { state: undefined, lookup: undefined }));
    if (entry.lookup) return entry.lookup;
    const current = entry;
    current.lookup = this.source.topicRoute(topic, this.lookupTimeoutMs).then(
      (lookup) => {
        current.lookup = undefined;
        if (lookup.kind !== 'found' && current.state?.kind === 'found') return current.state;
        if (lookup.kind === 'no-broker') throw new StorageError('UNAVAILABLE', `the name servers have no broker registered: ${topic} is not known for now`, true);
        return (current.state = stateOf(lookup));
      },
      (error: unknown) => {
        current.lookup = undefined;
        throw error;
      },
    );
    return current.lookup;
  }

  /** Every broker master address of the routes held, for heartbeats. */
  masterAddresses(): Set<string> {
    const addresses = new Set<string>();
    for (const { state } of this.entries.values()) if (state?.kind === 'found') for (const address of state.route.masters.values()) addresses.add(address);
    return addresses;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.timers.set(() => {
      const lookups = [...this.entries.keys()].map((topic) => this.refresh(topic).catch(() => undefined));
      void Promise.all(lookups).then(() => this.schedule());
    }, this.pollIntervalMs);
  }
}

function stateOf(lookup: Exclude<RouteLookup, { kind: 'no-broker' }>): RouteState {
  if (lookup.kind === 'topic-not-exist') return lookup;
  const masters = new Map<string, string>();
  for (const queue of lookup.queues) {
    if (masters.has(queue.brokerName)) continue;
    const address = masterAddress(lookup.route, queue.brokerName);
    if (address !== undefined) masters.set(queue.brokerName, address);
  }
  return { kind: 'found', route: { queues: lookup.queues, masters } };
}
