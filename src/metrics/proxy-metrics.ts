/**
 * Every metric the proxy exports, in one place: names (Prometheus conventions: `pproxy_` prefix,
 * base units, `_total` counters), help, labels and buckets. The docs' metric reference, the shipped
 * Grafana dashboard and `pproxy top` are checked against this catalog.
 *
 * Cardinality is bounded by configuration, never by what clients send: a topic label is a topic
 * this node serves (every other name counts as UNSERVED_TOPIC), a cluster label a cluster it
 * runs, a code label one of DDMQ's result codes or the storage contract's error codes. Children of
 * topics and clusters that leave the configuration are dropped at the next apply (retain()).
 *
 * Per-message counting goes through children resolved once per topic or cluster (TopicMetrics,
 * ClusterMetrics): a field increment, no label lookup (finding a message's TopicMetrics is still a
 * Map get by its topic name). With metrics off (no admin listener) every child is a no-op, nothing
 * is registered and nothing is kept: topic() always gives the one unserved bundle, cluster() a
 * bundle it does not store, and a sampled gauge drops its source.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { ResultCode } from '../protocol/result-codes';
import { PPROXY_VERSION } from '../version';
import { StorageMetricSet } from '../storage/storage-metrics';
import { chronosMetrics, type ChronosMetrics } from './chronos-metrics';
import type { CounterChild, CounterFamily, GaugeChild, GaugeFamily, HistogramChild, HistogramFamily } from './families';
import { lifecycleMetrics, type LifecycleMetrics } from './lifecycle-metrics';
import { METHODS } from './methods';
import { MetricRegistrar, type SampledGauge } from './registrar';
import { serverMetrics, type ServerMetrics } from './server-metrics';

/** The topic label of every message whose topic this node does not serve (or that has none). */
export const UNSERVED_TOPIC = '_unserved';

/** Seconds: 0.5 ms to 10 s, for answers and storage writes. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Bytes: RocketMQ's message size buckets (1 KiB, 4 KiB, 512 KiB, 1 MiB, 2 MiB, 4 MiB) with finer steps below 64 KiB. */
export const SIZE_BUCKETS = [128, 512, 1024, 4096, 16_384, 65_536, 262_144, 524_288, 1_048_576, 2_097_152, 4_194_304];
/** Messages per storage send. */
export const BATCH_COUNT_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
/** Bytes per storage send. */
export const BATCH_SIZE_BUCKETS = [1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216];
/** Seconds an auto-batch waited from its first member to its send (linger and budget), 0.1 ms to 1 s. */
export const LINGER_BUCKETS = [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1];

/**
 * prom-client's default counts of active handles, requests and resources are gauges named `_total`,
 * which Prometheus' conventions (and `promtool check metrics`) reserve for counters; its
 * `nodejs_active_resources` gauge, by type, says the same and stays.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** A topic's per-message children, resolved when the configuration names the topic. */
export interface TopicMetrics {
  readonly name: string;
  /** Messages received, by method (METHODS' order). */
  readonly received: readonly CounterChild[];
  /** Body bytes received. */
  readonly receivedBytes: CounterChild;
  readonly messageSize: HistogramChild;
  /** Receive to answer, by method. */
  readonly duration: readonly HistogramChild[];
  /** Messages answered with `code` for `method`: made on a code's first use, then reused. */
  answered(method: number, code: ResultCode): CounterChild;
  readonly limiterAdmitted: CounterChild;
  /** Admitted from the warning part of DDMQ's split bucket. */
  readonly limiterWarning: CounterChild;
  readonly limiterRefused: CounterChild;
  /** Requests that waited for DDMQ's one deferred limiter retry (one spanning topics counts under its first). */
  readonly limiterDeferred: CounterChild;
}

/** A cluster's children, resolved when the configuration starts the cluster. */
export interface ClusterMetrics extends BudgetMetrics {
  readonly name: string;
  /** From handing a send to the storage to its outcome. */
  readonly writeDuration: HistogramChild;
  readonly messagesStored: CounterChild;
  readonly batchMessages: HistogramChild;
  readonly batchBytes: HistogramChild;
  readonly batchLinger: HistogramChild;
  /** Storage failures by StorageError code: made on a code's first use, then reused. */
  errors(code: string): CounterChild;
  /** Attempts after the first, by reason (RETRY_REASONS). */
  retries(reason: RetryReason): CounterChild;
}

/**
 * Why a message is sent again: a retriable storage failure, or DDMQ's one extra attempt for a
 * sendSync that has not completed near its deadline.
 */
export const RETRY_REASONS = ['retriable_failure', 'deadline_attempt'] as const;
export type RetryReason = (typeof RETRY_REASONS)[number];


export class ProxyMetrics {
  /** prom-client's registry: what GET /metrics renders. */
  readonly registry = new Registry();
  private readonly topics = new Map<string, TopicMetrics>();
  private readonly clusters = new Map<string, ClusterMetrics>();
  private readonly unserved: TopicMetrics;

  readonly requestsReceived: CounterFamily<'method'>;
  readonly messagesReceived: CounterFamily<'method' | 'topic'>;
  readonly messagesAnswered: CounterFamily<'method' | 'topic' | 'code'>;
  readonly receivedBytes: CounterFamily<'topic'>;
  readonly messageSize: HistogramFamily<'topic'>;
  readonly requestDuration: HistogramFamily<'method' | 'topic'>;
  readonly limiterAdmitted: CounterFamily<'topic'>;
  readonly limiterWarning: CounterFamily<'topic'>;
  readonly limiterRefused: CounterFamily<'topic'>;
  readonly limiterDeferred: CounterFamily<'topic'>;
  readonly storageWriteDuration: HistogramFamily<'cluster'>;
  readonly storageMessages: CounterFamily<'cluster'>;
  readonly storageErrors: CounterFamily<'cluster' | 'code'>;
  readonly batchMessages: HistogramFamily<'cluster'>;
  readonly batchBytes: HistogramFamily<'cluster'>;
  readonly batchLinger: HistogramFamily<'cluster'>;
  readonly retries: CounterFamily<'cluster' | 'reason'>;
  /** Lifecycle, readiness and configuration versions (see LifecycleMetrics). */
  readonly lifecycle: LifecycleMetrics;

  // the core's storage budgets and limiter queue
  readonly storageInFlightBytes: GaugeFamily<'cluster'>;
  readonly storageBudgetWaiting: GaugeFamily<'cluster'>;
  readonly storageBudgetWaits: CounterFamily<'cluster'>;
  readonly storageInFlightLimit: SampledGauge;
  readonly limiterRetriesWaiting: SampledGauge;
  readonly limiterRetryQueueSize: SampledGauge;
  /** Sends refused for who sent them: not an allowed producer of the topic (13), an untrusted from_chronos (19). */
  readonly securityRefusals: { readonly producerNotAllowed: CounterChild; readonly untrustedFromChronos: CounterChild };

  // --- storages' own metrics: pproxy_storage_<kind>_*, declared by each storage through its context ---
  /** What storages count into; their clusters' series follow configure(). */
  readonly storages: StorageMetricSet;

  readonly chronos: ChronosMetrics;
  /** The Thrift server's connections, budgets and failed requests (see the server block below). */
  readonly server: ServerMetrics;

  /** `enabled` false: every child is a no-op and the registry stays empty. */
  constructor(readonly enabled: boolean) {
    const metrics = new MetricRegistrar(this.registry, enabled);
    const counter = metrics.counter.bind(metrics);
    const histogram = metrics.histogram.bind(metrics);

    this.requestsReceived = counter('pproxy_requests_received_total', 'Thrift requests received, by method.', ['method']);
    this.messagesReceived = counter('pproxy_messages_received_total', 'Messages received, by method and topic.', ['method', 'topic']);
    this.messagesAnswered = counter(
      'pproxy_messages_answered_total',
      "Messages answered, by method, topic and DDMQ result code (a sendBatchSync's code counts for each of its messages).",
      ['method', 'topic', 'code'],
    );
    this.receivedBytes = counter('pproxy_received_bytes_total', 'Message body bytes received, by topic.', ['topic']);
    this.messageSize = histogram('pproxy_message_size_bytes', 'Message body sizes, by topic.', ['topic'], SIZE_BUCKETS);
    this.requestDuration = histogram(
      'pproxy_request_duration_seconds',
      "Receive to answer, by method and topic (a sendBatchSync under its first message's topic).",
      ['method', 'topic'],
      LATENCY_BUCKETS,
    );
    this.limiterAdmitted = counter('pproxy_rate_limit_admitted_total', 'Messages the rate limiter admitted, by topic.', ['topic']);
    this.limiterWarning = counter(
      'pproxy_rate_limit_warning_total',
      "Messages admitted from the warning part of the topic's or node's rate, by topic.",
      ['topic'],
    );
    this.limiterRefused = counter('pproxy_rate_limit_refused_total', 'Messages the rate limiter refused (answered 15), by topic.', ['topic']);
    this.limiterDeferred = counter(
      'pproxy_rate_limit_deferred_total',
      "Requests that waited for their deferred limiter retry, by topic (a sendBatchSync once, under its first message's topic).",
      ['topic'],
    );
    this.storageWriteDuration = histogram(
      'pproxy_storage_write_duration_seconds',
      'From handing a send to the storage to its outcome, by cluster.',
      ['cluster'],
      LATENCY_BUCKETS,
    );
    this.storageMessages = counter('pproxy_storage_messages_stored_total', 'Messages the storage acknowledged, by cluster.', ['cluster']);
    this.storageErrors = counter('pproxy_storage_errors_total', 'Messages a storage send failed, by cluster and StorageError code.', ['cluster', 'code']);
    this.batchMessages = histogram('pproxy_batch_messages', 'Messages per storage send, by cluster.', ['cluster'], BATCH_COUNT_BUCKETS);
    this.batchBytes = histogram('pproxy_batch_bytes', 'Body bytes per storage send, by cluster.', ['cluster'], BATCH_SIZE_BUCKETS);
    this.batchLinger = histogram(
      'pproxy_batch_linger_seconds',
      "From an auto-batch's first member's arrival (or the previous batch's send, for members that arrived while it was out) to its hand-over to the storage, waiting for the storage's budget included, by cluster.",
      ['cluster'],
      LINGER_BUCKETS,
    );
    this.retries = counter('pproxy_retries_total', 'Messages handed to the storage again, by cluster and reason.', ['cluster', 'reason']);

    this.storageInFlightBytes = metrics.gauge('pproxy_storage_in_flight_bytes', 'Body bytes handed to the storage whose send has not returned, by cluster.', ['cluster']);
    this.storageBudgetWaiting = metrics.gauge('pproxy_storage_budget_waiting_sends', "Storage sends waiting for bytes of their storage's budget now, by cluster.", ['cluster']);
    this.storageBudgetWaits = counter('pproxy_storage_budget_waits_total', "Storage sends that had to wait for bytes of their storage's budget, by cluster.", ['cluster']);
    this.storageInFlightLimit = metrics.sampled('pproxy_storage_in_flight_bytes_limit', 'Each storage\'s budget of in-flight body bytes (maxInFlightBytesPerStorage).');
    this.limiterRetriesWaiting = metrics.sampled('pproxy_rate_limit_deferred_waiting', 'Requests waiting for their deferred limiter retry now.');
    this.limiterRetryQueueSize = metrics.sampled('pproxy_rate_limit_deferred_queue_size', 'Requests that may wait for their deferred limiter retry at once (limiterFailureRetryQueueSize).');

    const refusals = counter(
      'pproxy_security_refusals_total',
      "Sends refused for their sender, by reason: producer_not_allowed (not one of the topic's allowedProducers, answered 13), untrusted_from_chronos (from_chronos from a sender not in delay.trustedSenders, answered 19).",
      ['reason'],
    );
    this.securityRefusals = {
      producerNotAllowed: refusals.child({ reason: 'producer_not_allowed' }),
      untrustedFromChronos: refusals.child({ reason: 'untrusted_from_chronos' }),
    };

    this.lifecycle = lifecycleMetrics(metrics);
    this.chronos = chronosMetrics(metrics);
    this.server = serverMetrics(metrics, this.requestsReceived);
    this.unserved = this.makeTopic(UNSERVED_TOPIC);
    if (enabled) {
      collectDefaultMetrics({ register: this.registry, prefix: 'pproxy_' });
      for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(`pproxy_${name}`);
      new Gauge({ name: 'pproxy_build_info', help: 'The running version; always 1.', labelNames: ['version'], registers: [this.registry] }).set(
        { version: PPROXY_VERSION },
        1,
      );
    }
    // --- storages' own metrics: checked against every name the registrar made, enabled or not ---
    this.storages = new StorageMetricSet(enabled ? this.registry : undefined, metrics.names);
  }

  /** A topic's children; UNSERVED_TOPIC's for a topic the configuration does not name. */
  topic(name: string | undefined): TopicMetrics {
    return (name !== undefined && this.topics.get(name)) || this.unserved;
  }

  /** A cluster's children (made on first use: a cluster the configuration starts); with metrics off, no-ops kept nowhere. */
  cluster(name: string): ClusterMetrics {
    if (!this.enabled) return this.makeCluster(name);
    let metrics = this.clusters.get(name);
    if (!metrics) {
      metrics = this.makeCluster(name);
      this.clusters.set(name, metrics);
    }
    return metrics;
  }

  /**
   * The topics and clusters configured now: children are made for new ones and dropped for those
   * gone, so series follow the configuration.
   */
  configure(topics: Iterable<string>, clusters: Iterable<string>): void {
    if (!this.enabled) {
      // every topic counts into the unserved no-ops and no cluster is kept; storages' own sets still follow
      this.storages.retain(clusters);
      return;
    }
    const topicNames = new Set(topics);
    const clusterNames = new Set(clusters);
    for (const name of this.topics.keys()) if (!topicNames.has(name)) this.topics.delete(name);
    for (const name of topicNames) if (!this.topics.has(name)) this.topics.set(name, this.makeTopic(name));
    for (const name of this.clusters.keys()) if (!clusterNames.has(name)) this.clusters.delete(name);
    for (const name of clusterNames) this.cluster(name);
    topicNames.add(UNSERVED_TOPIC);
    for (const family of this.perTopic()) family.retain('topic', topicNames);
    for (const family of this.perCluster()) family.retain('cluster', clusterNames);
    this.storages.retain(clusterNames);
  }

  /** The Prometheus text exposition of everything registered. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private perTopic(): { retain(label: 'topic', keep: ReadonlySet<string>): void }[] {
    return [
      this.messagesReceived,
      this.messagesAnswered,
      this.receivedBytes,
      this.messageSize,
      this.requestDuration,
      this.limiterAdmitted,
      this.limiterWarning,
      this.limiterRefused,
      this.limiterDeferred,
    ];
  }

  private perCluster(): { retain(label: 'cluster', keep: ReadonlySet<string>): void }[] {
    return [
      this.storageWriteDuration,
      this.storageMessages,
      this.storageErrors,
      this.batchMessages,
      this.batchBytes,
      this.batchLinger,
      this.retries,
      ...this.budgetFamilies(),
    ];
  }


  private makeTopic(topic: string): TopicMetrics {
    return new TopicChildren(topic, this);
  }

  private makeCluster(cluster: string): ClusterMetrics {
    const errors = new Map<string, CounterChild>();
    const retries = new Map(RETRY_REASONS.map((reason) => [reason, this.retries.child({ cluster, reason })]));
    return {
      name: cluster,
      writeDuration: this.storageWriteDuration.child({ cluster }),
      messagesStored: this.storageMessages.child({ cluster }),
      batchMessages: this.batchMessages.child({ cluster }),
      batchBytes: this.batchBytes.child({ cluster }),
      batchLinger: this.batchLinger.child({ cluster }),
      errors: (code) => {
        let child = errors.get(code);
        if (!child) {
          child = this.storageErrors.child({ cluster, code });
          errors.set(code, child);
        }
        return child;
      },
      retries: (reason) => retries.get(reason)!,
      ...this.budgetChildren(cluster),
    };
  }

  // ---- the core's storage budgets and limiter queue ----

  private budgetFamilies(): { retain(label: 'cluster', keep: ReadonlySet<string>): void }[] {
    return [this.storageInFlightBytes, this.storageBudgetWaiting, this.storageBudgetWaits];
  }

  private budgetChildren(cluster: string): BudgetMetrics {
    return {
      inFlightBytes: this.storageInFlightBytes.child({ cluster }),
      budgetWaiting: this.storageBudgetWaiting.child({ cluster }),
      budgetWaits: this.storageBudgetWaits.child({ cluster }),
    };
  }


}


/** Result codes are below this (DDMQ's end at 38), so a topic's answered children sit in an array by method and code. */
const CODE_SLOTS = 64;

class TopicChildren implements TopicMetrics {
  readonly received: readonly CounterChild[];
  readonly receivedBytes: CounterChild;
  readonly messageSize: HistogramChild;
  readonly duration: readonly HistogramChild[];
  readonly limiterAdmitted: CounterChild;
  readonly limiterWarning: CounterChild;
  readonly limiterRefused: CounterChild;
  readonly limiterDeferred: CounterChild;
  /** Index method * CODE_SLOTS + code; empty until the code is first answered. */
  private readonly answeredByCode: (CounterChild | undefined)[] = new Array<CounterChild | undefined>(METHODS.length * CODE_SLOTS).fill(undefined);
  private readonly answeredFamily: CounterFamily<'method' | 'topic' | 'code'>;

  constructor(
    readonly name: string,
    families: ProxyMetrics,
  ) {
    const topic = name;
    this.received = METHODS.map((method) => families.messagesReceived.child({ method, topic }));
    this.receivedBytes = families.receivedBytes.child({ topic });
    this.messageSize = families.messageSize.child({ topic });
    this.duration = METHODS.map((method) => families.requestDuration.child({ method, topic }));
    this.limiterAdmitted = families.limiterAdmitted.child({ topic });
    this.limiterWarning = families.limiterWarning.child({ topic });
    this.limiterRefused = families.limiterRefused.child({ topic });
    this.limiterDeferred = families.limiterDeferred.child({ topic });
    this.answeredFamily = families.messagesAnswered;
  }

  answered(method: number, code: ResultCode): CounterChild {
    const slot = method * CODE_SLOTS + code;
    return (this.answeredByCode[slot] ??= this.answeredFamily.child({ method: METHODS[method]!, topic: this.name, code: String(code) }));
  }
}

// ---- the core's storage budgets and limiter queue ----

/** A storage budget's children, part of its cluster's. */
export interface BudgetMetrics {
  /** Body bytes handed to the cluster's storages and not returned yet. */
  readonly inFlightBytes: GaugeChild;
  /** Sends waiting for budget now. */
  readonly budgetWaiting: GaugeChild;
  /** Sends that had to wait for budget. */
  readonly budgetWaits: CounterChild;
}


/** A catalog counting nothing: what a part of the proxy built without one (tests, tools) counts into. */
export const METRICS_OFF = new ProxyMetrics(false);
