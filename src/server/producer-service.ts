/**
 * ProducerService over frames: decode the call, run it through the pipeline (sendDelaySync through
 * the delay sender), encode the reply.
 *
 * Error behaviour matches libthrift 0.9.2's async processor, which the original runs:
 * - unknown method: TApplicationException UNKNOWN_METHOD "Invalid method name: '<name>'" (an
 *   absurdly long name is cut, see readCallHeader);
 * - arguments that do not decode: TApplicationException PROTOCOL_ERROR, connection kept (the frame
 *   boundary is known, so the next request is unaffected);
 * - a frame whose message header is not compact protocol: connection closed (no reply possible).
 */
import type { ProducerPipeline } from '../core/pipeline';
import type { PropertyLimits } from '../core/property-limits';
import type { DelaySender } from '../delay/delay-sender';
import { ThrottledWarning, type Logger } from '../log';
import type { ProducerMessage } from '../core/message';
import type { ProxyMetrics, TopicMetrics } from '../metrics/proxy-metrics';
import type { ResultCode } from '../protocol/result-codes';
import type { Caller } from '../security/caller';
import { CompactReader, MessageType, ThriftDecodeError } from './compact-protocol';
import {
  AppExceptionType,
  encodeApplicationException,
  encodeDelayResultReply,
  encodeResultReply,
  readBatchArgs,
  readCallHeader,
  readDelayArgs,
  readSendArgs,
  skipArgs,
  type CallHeader,
} from './producer-codec';
import type { FrameHandler } from './frame-connection';
import { requestCounts, SEND_ASYNC, SEND_BATCH_SYNC, SEND_DELAY_SYNC, SEND_SYNC, type RequestCounts } from './request-metrics';

/** What the decoder applies; read at every frame, so a configuration change applies at once. */
export interface DecodeSettings {
  propertyLimits: PropertyLimits;
}

export function createProducerFrameHandler(
  pipeline: ProducerPipeline,
  delays: DelaySender,
  logger: Logger,
  decoding: Readonly<DecodeSettings>,
  metrics: ProxyMetrics,
): FrameHandler {
  // a handler that throws does so for every request of its kind: one line a second, with the count
  const failures = new ThrottledWarning(logger, 1000);
  const counts = requestCounts(metrics);
  return (frame, receivedAt, caller) => {
    const reader = new CompactReader(frame);
    const header = readCallHeader(reader); // throws: the connection closes
    try {
      return answer(header, handleCall(header, reader, pipeline, delays, decoding.propertyLimits, counts, receivedAt, caller));
    } catch (err) {
      if (err instanceof ThriftDecodeError) {
        counts.exception('protocol_error');
        logger.debug({ method: header.name, err: err.message }, 'undecodable arguments');
        return answer(
          header,
          encodeApplicationException(header.name, header.seqid, AppExceptionType.PROTOCOL_ERROR, err.message),
        );
      }
      counts.exception('internal_error');
      failures.warn(`failed:${header.name}`, { method: header.name }, 'request failed', err);
      return answer(
        header,
        encodeApplicationException(header.name, header.seqid, AppExceptionType.INTERNAL_ERROR, String((err as Error).message)),
      );
    }
  };
}

/**
 * Oneway calls get no reply (none of the IDL's methods is oneway, but a client may send one). Their
 * sends still count in flight until they end, so oneway floods are bounded like any other call.
 */
function answer(header: CallHeader, reply: Buffer | Promise<Buffer>): Buffer | Promise<Buffer | null> | null {
  if (header.type !== MessageType.ONEWAY) return reply;
  return Buffer.isBuffer(reply) ? null : reply.then(() => null);
}

function handleCall(
  header: CallHeader,
  reader: CompactReader,
  pipeline: ProducerPipeline,
  delays: DelaySender,
  limits: PropertyLimits,
  counts: RequestCounts,
  startedAt: number,
  caller: Caller,
): Buffer | Promise<Buffer> {
  const { name, seqid } = header;
  switch (name) {
    case 'sendSync': {
      counts.received(SEND_SYNC);
      const args = readSendArgs(reader, limits);
      const topic = counts.message(SEND_SYNC, args.message);
      return reply(name, seqid, pipeline.sendSync(args.message, timeoutMs(args.timeout), caller), counts, SEND_SYNC, topic, startedAt);
    }
    case 'sendAsync': {
      counts.received(SEND_ASYNC);
      const args = readSendArgs(reader, limits);
      const topic = counts.message(SEND_ASYNC, args.message);
      return reply(name, seqid, pipeline.sendAsync(args.message, caller), counts, SEND_ASYNC, topic, startedAt);
    }
    case 'sendBatchSync': {
      counts.received(SEND_BATCH_SYNC);
      const { messages } = readBatchArgs(reader, limits);
      const first = counts.batch(messages);
      return reply(name, seqid, pipeline.sendBatch(messages, caller), counts, SEND_BATCH_SYNC, first, startedAt, messages);
    }
    case 'sendDelaySync': {
      counts.received(SEND_DELAY_SYNC);
      const args = readDelayArgs(reader, limits);
      const topic = counts.delayMessage(args.message);
      const result = delays.send(args.message, timeoutMs(args.timeout), caller);
      if (!(result instanceof Promise)) {
        counts.answered(SEND_DELAY_SYNC, topic, result.code, startedAt);
        return encodeDelayResultReply(name, seqid, result.code, result.uniqDelayMsgId);
      }
      return result.then((r) => {
        counts.answered(SEND_DELAY_SYNC, topic, r.code, startedAt);
        return encodeDelayResultReply(name, seqid, r.code, r.uniqDelayMsgId);
      });
    }
    default:
      skipArgs(reader);
      counts.exception('unknown_method');
      return encodeApplicationException(name, seqid, AppExceptionType.UNKNOWN_METHOD, `Invalid method name: '${name}'`);
  }
}

/**
 * The reply of a call answered with a result code, counted when the code is known: under `topic`,
 * or for a sendBatchSync for each of its `batch` messages (`topic` being its first one's).
 */
function reply(
  name: string,
  seqid: number,
  result: ResultCode | Promise<ResultCode>,
  counts: RequestCounts,
  method: number,
  topic: TopicMetrics,
  startedAt: number,
  batch?: readonly ProducerMessage[],
): Buffer | Promise<Buffer> {
  if (typeof result === 'number') return countedReply(name, seqid, result, counts, method, topic, startedAt, batch);
  return result.then((code) => countedReply(name, seqid, code, counts, method, topic, startedAt, batch));
}

function countedReply(
  name: string,
  seqid: number,
  code: ResultCode,
  counts: RequestCounts,
  method: number,
  topic: TopicMetrics,
  startedAt: number,
  batch: readonly ProducerMessage[] | undefined,
): Buffer {
  if (method === SEND_BATCH_SYNC) counts.batchAnswered(batch, topic, code, startedAt);
  else counts.answered(method, topic, code, startedAt);
  return encodeResultReply(name, seqid, code);
}

/** The i64 timeout as milliseconds, clamped to what a timer can hold. */
function timeoutMs(timeout: bigint): number {
  if (timeout <= 0n) return 0;
  return timeout > 2_147_483_647n ? 2_147_483_647 : Number(timeout);
}
