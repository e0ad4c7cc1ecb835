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
import type { ResultCode } from '../protocol/result-codes';
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

/** What the decoder applies; read at every frame, so a configuration change applies at once. */
export interface DecodeSettings {
  propertyLimits: PropertyLimits;
}

export function createProducerFrameHandler(
  pipeline: ProducerPipeline,
  delays: DelaySender,
  logger: Logger,
  decoding: Readonly<DecodeSettings>,
): FrameHandler {
  // a handler that throws does so for every request of its kind: one line a second, with the count
  const failures = new ThrottledWarning(logger, 1000);
  return (frame) => {
    const reader = new CompactReader(frame);
    const header = readCallHeader(reader); // throws: the connection closes
    try {
      return answer(header, handleCall(header, reader, pipeline, delays, decoding.propertyLimits));
    } catch (err) {
      if (err instanceof ThriftDecodeError) {
        logger.debug({ method: header.name, err: err.message }, 'undecodable arguments');
        return answer(
          header,
          encodeApplicationException(header.name, header.seqid, AppExceptionType.PROTOCOL_ERROR, err.message),
        );
      }
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
): Buffer | Promise<Buffer> {
  const { name, seqid } = header;
  switch (name) {
    case 'sendSync': {
      const args = readSendArgs(reader, limits);
      return reply(name, seqid, pipeline.sendSync(args.message, timeoutMs(args.timeout)));
    }
    case 'sendAsync': {
      const args = readSendArgs(reader, limits);
      return reply(name, seqid, pipeline.sendAsync(args.message));
    }
    case 'sendBatchSync': {
      const args = readBatchArgs(reader, limits);
      return reply(name, seqid, pipeline.sendBatch(args.messages));
    }
    case 'sendDelaySync': {
      const args = readDelayArgs(reader, limits);
      const result = delays.send(args.message, timeoutMs(args.timeout));
      if (!(result instanceof Promise)) return encodeDelayResultReply(name, seqid, result.code, result.uniqDelayMsgId);
      return result.then((r) => encodeDelayResultReply(name, seqid, r.code, r.uniqDelayMsgId));
    }
    default:
      skipArgs(reader);
      return encodeApplicationException(name, seqid, AppExceptionType.UNKNOWN_METHOD, `Invalid method name: '${name}'`);
  }
}

function reply(name: string, seqid: number, result: ResultCode | Promise<ResultCode>): Buffer | Promise<Buffer> {
  if (typeof result === 'number') return encodeResultReply(name, seqid, result);
  return result.then((code) => encodeResultReply(name, seqid, code));
}

/** The i64 timeout as milliseconds, clamped to what a timer can hold. */
function timeoutMs(timeout: bigint): number {
  if (timeout <= 0n) return 0;
  return timeout > 2_147_483_647n ? 2_147_483_647 : Number(timeout);
}
