/**
 * What the producer service counts of each request: received per method, each message under its
 * topic's children (count, body bytes, size), and at the answer its result code and the time from
 * receipt. A message's topic bundle is one Map get by its topic name (an unserved topic gets the
 * shared `_unserved` one); nothing here allocates or looks a label up. With metrics off the
 * service gets UNCOUNTED, which does nothing at all: no walk over a batch, no lookup.
 */
import type { DelayMessage, ProducerMessage } from '../core/message';
import { resolveBody } from '../core/validate';
import { METHODS } from '../metrics/methods';
import type { ProxyMetrics, TopicMetrics } from '../metrics/proxy-metrics';
import type { ExceptionType } from '../metrics/server-metrics';
import type { ResultCode } from '../protocol/result-codes';

/** Indexes of METHODS, as TopicMetrics' per-method children are ordered. */
export const SEND_SYNC = METHODS.indexOf('sendSync');
export const SEND_ASYNC = METHODS.indexOf('sendAsync');
export const SEND_BATCH_SYNC = METHODS.indexOf('sendBatchSync');
export const SEND_DELAY_SYNC = METHODS.indexOf('sendDelaySync');

/** What the producer service tells its metrics of each request. */
export interface RequestCounts {
  /** Counts a request of `method`. */
  received(method: number): void;
  /** Counts one message (none: a call without its message argument) and returns its topic's children. */
  message(method: number, message: ProducerMessage | undefined): TopicMetrics;
  /** As message(), for sendDelaySync's DelayMessage. */
  delayMessage(message: DelayMessage | undefined): TopicMetrics;
  /** Counts every message of a batch; returns the first one's topic children (`_unserved` for none). */
  batch(messages: readonly ProducerMessage[] | undefined): TopicMetrics;
  /** One message answered `code`, `startedAt` being its frame's receipt on the server's clock. */
  answered(method: number, topic: TopicMetrics, code: ResultCode, startedAt: number): void;
  /** A batch answered `code`: counted for each of its messages, its duration under the first one's topic. */
  batchAnswered(messages: readonly ProducerMessage[] | undefined, first: TopicMetrics, code: ResultCode, startedAt: number): void;
  exception(type: ExceptionType): void;
}

/** The producer service's counts into `metrics`: none at all when they are off. */
export function requestCounts(metrics: ProxyMetrics): RequestCounts {
  return metrics.enabled ? new RequestMetrics(metrics) : new UncountedRequests(metrics.topic(undefined));
}

/** Counts nothing; the topic it hands out is only passed back to it. */
class UncountedRequests implements RequestCounts {
  constructor(private readonly none: TopicMetrics) {}
  received(): void {}
  message(): TopicMetrics {
    return this.none;
  }
  delayMessage(): TopicMetrics {
    return this.none;
  }
  batch(): TopicMetrics {
    return this.none;
  }
  answered(): void {}
  batchAnswered(): void {}
  exception(): void {}
}

class RequestMetrics implements RequestCounts {
  constructor(private readonly metrics: ProxyMetrics) {}

  received(method: number): void {
    this.metrics.server.requests[method]!.inc();
  }

  message(method: number, message: ProducerMessage | undefined): TopicMetrics {
    return this.count(method, this.metrics.topic(message?.topic), message && resolveBody(message).length);
  }

  delayMessage(message: DelayMessage | undefined): TopicMetrics {
    return this.count(SEND_DELAY_SYNC, this.metrics.topic(message?.topic), message && (message.body?.length ?? 0));
  }

  batch(messages: readonly ProducerMessage[] | undefined): TopicMetrics {
    if (!messages || messages.length === 0) return this.metrics.topic(undefined);
    let topic = this.metrics.topic(messages[0]!.topic);
    const first = topic;
    for (const m of messages) {
      // a batch is nearly always of one topic: its bundle is looked up again only when that changes
      if (m.topic !== topic.name) topic = this.metrics.topic(m.topic);
      this.count(SEND_BATCH_SYNC, topic, resolveBody(m).length);
    }
    return first;
  }

  answered(method: number, topic: TopicMetrics, code: ResultCode, startedAt: number): void {
    topic.answered(method, code).inc();
    topic.duration[method]!.observe(this.secondsSince(startedAt));
  }

  batchAnswered(messages: readonly ProducerMessage[] | undefined, first: TopicMetrics, code: ResultCode, startedAt: number): void {
    first.duration[SEND_BATCH_SYNC]!.observe(this.secondsSince(startedAt));
    if (!messages || messages.length === 0) return;
    let topic = first;
    let run = 0;
    for (const m of messages) {
      if (m.topic !== topic.name) {
        const next = this.metrics.topic(m.topic);
        if (next !== topic) {
          if (run > 0) topic.answered(SEND_BATCH_SYNC, code).inc(run);
          topic = next;
          run = 0;
        }
      }
      run++;
    }
    topic.answered(SEND_BATCH_SYNC, code).inc(run);
  }

  exception(type: ExceptionType): void {
    this.metrics.server.exceptions[type].inc();
  }

  private count(method: number, topic: TopicMetrics, bytes: number | undefined): TopicMetrics {
    topic.received[method]!.inc();
    if (bytes !== undefined) {
      topic.receivedBytes.inc(bytes);
      topic.messageSize.observe(bytes);
    }
    return topic;
  }

  private secondsSince(startedAt: number): number {
    return (this.metrics.server.clock() - startedAt) / 1000;
  }
}
