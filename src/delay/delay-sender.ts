/**
 * sendDelaySync: DDMQ's delay protocol in its order and with its codes (ProducerAsyncServerImpl's
 * sendDelaySync with DelayRequest; docs/ddmq/delay.md): the message's own validity, the topic, the delay checks, then
 * the inner message (key = the delay id, partition by the uuid's Java hash, body = BodyExt JSON) to
 * `chronosInnerTopicPrefix + seq`, validated as DDMQ validates any message (an id over 255
 * characters is 11), sent through the pipeline limited under the user topic and bounded by the
 * caller's timeout. An add whose last delivery Chronos could not make (its key, that firing's id,
 * over 255 characters) is refused with 11 too, rather than accepted and dropped later. A storage
 * failure answers its own code (the original answers 12 to everything, and nothing at all on its
 * timeout path). In local mode the local Chronos is told of every add and cancel stored, and the
 * client is answered OK once the Chronos has journaled it. One it could not journal (a full or
 * failing disk) is answered 10, as a local-log write failure is: it was not kept, as DDMQ answers a
 * client whose inner message was not stored, and the local Chronos never delivers it (the inner
 * message already stored is read by nothing in local mode), so the client may send it again.
 */
import type { Logger } from '../log';
import { emptyProducerMessage, type DelayMessage, type ProducerMessage } from '../core/message';
import { ASYNC_REQUEST_TIMEOUT_MS, mayProduce, type PreparedMessage } from '../core/pipeline';
import type { RoutingTable, ServedTopic } from '../core/routing-table';
import { DEFAULT_MAX_MESSAGE_SIZE, illegalMessageReason } from '../core/validate';
import { ResultCode } from '../protocol/result-codes';
import type { Caller } from '../security/caller';
import { javaStringHashCode } from '../core/java-string';
import { encodeBodyExt } from './body-ext';
import { DELAY_EXPIRE_SECONDS, DelayAction, DelayType, delayRefusal } from './delay-check';
import { formatDelayId, innerTopicSeq, parseDelayId, type DelayKey } from './delay-id';
import type { AcceptedDelay } from './local-chronos';
import { firingKey, lastFiring } from './loop-schedule';

export interface DelayReply {
  readonly code: ResultCode;
  readonly uniqDelayMsgId: string;
}

/** What the delay protocol needs of the pipeline: the routing served now, and a send of a prepared message. */
export interface PreparedSender {
  readonly routingTable: RoutingTable;
  /** Counts and logs a caller refused as not one of a topic's allowed producers; returns 13. */
  unauthorised(topic: string, caller: Caller): ResultCode;
  sendPrepared(topic: ServedTopic, message: PreparedMessage, limitedAs: ServedTopic, timeoutMs: number): ResultCode | Promise<ResultCode>;
}

/** Local mode's Chronos: keeps what was accepted; a promise settles once it is kept (or was not). */
export interface DelayAcceptor {
  accept(delay: AcceptedDelay): void | Promise<void>;
}

export class DelaySender {
  constructor(
    private readonly pipeline: PreparedSender,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly chronos: DelayAcceptor | undefined,
  ) {}

  /** `caller`: the client; it must be one of the topic's allowed producers (13 otherwise). */
  send(message: DelayMessage | undefined, timeoutMs: number, caller: Caller): DelayReply | Promise<DelayReply> {
    const refuse = (code: ResultCode): DelayReply => ({ code, uniqDelayMsgId: '' });
    if (!message) return refuse(this.illegal(undefined, 'delay message is missing'));
    const routing = this.pipeline.routingTable;
    const check: ProducerMessage = { ...emptyProducerMessage(), topic: message.topic, body: message.body, properties: message.properties, oversizeProperties: message.oversizeProperties, tags: message.tags };
    const reason = illegalMessageReason(check, undefined);
    if (reason) return refuse(this.illegal(message.topic, reason));
    const body = message.body ?? Buffer.alloc(0);
    if (body.length === 0) return refuse(this.illegal(message.topic, 'body is empty'));
    const topicName = message.topic!;
    const topic = routing.topics.get(topicName);
    if (body.length > (topic ? topic.maxMessageSize : DEFAULT_MAX_MESSAGE_SIZE)) return refuse(this.illegal(topicName, 'body too large'));
    if (!topic) return refuse(ResultCode.FAIL_TOPIC_NOT_ALLOWED);
    if (!mayProduce(topic, caller)) return refuse(this.pipeline.unauthorised(topicName, caller));
    const prefix = routing.innerTopicPrefix;
    // without a delay configuration there is no inner topic to write to
    if (prefix === undefined) return refuse(ResultCode.FAIL_TOPIC_NOT_ALLOWED);
    if (topicName.startsWith(prefix)) return refuse(this.illegal(topicName, 'a delay inner topic'));
    if (!topic.delayTopic) return refuse(ResultCode.FAIL_TOPIC_IS_NOT_DELAY);
    const refusal = delayRefusal(message, routing.innerTopicNum, Math.floor(this.now() / 1000));
    if (refusal) return refusal;

    let key: DelayKey;
    if (message.action === DelayAction.CANCEL) {
      key = parseDelayId(message.uniqDelayMsgId!);
    } else {
      if (!message.uuid) return refuse(this.illegal(topicName, 'uuid is missing'));
      key = addKey(message, message.uuid, routing.innerTopicNum);
    }
    const uniqDelayMsgId = message.action === DelayAction.CANCEL ? message.uniqDelayMsgId! : formatDelayId(key);
    const innerName = `${prefix}${key.seq}`;
    // DDMQ validates the inner message as any other (its key is the id: 255 characters at most)
    const innerReason = illegalMessageReason({ ...emptyProducerMessage(), topic: innerName, key: uniqDelayMsgId, tags: message.tags }, undefined);
    if (innerReason) return refuse(this.illegal(innerName, `inner message: ${innerReason}`));
    if (message.action === DelayAction.ADD) {
      // Chronos delivers each firing with that firing's id as its key, the last one the longest:
      // what the proxy would refuse then is refused now, rather than accepted and dropped later
      const lastDelivery: ProducerMessage = { ...check, key: formatDelayId(firingKey(key, lastFiring(key))) };
      const deliveryReason = illegalMessageReason(lastDelivery, undefined);
      if (deliveryReason) return refuse(this.illegal(topicName, `its last delivery: ${deliveryReason}`));
    }
    const inner = routing.topics.get(innerName);
    // the inner topic must be bound to this proxy too (DDMQ issue #23)
    if (!inner) return refuse(ResultCode.FAIL_TOPIC_NOT_ALLOWED);
    const innerBody = encodeBodyExt({ action: message.action, body, properties: message.properties, tags: message.tags, topic: topicName, uniqDelayMsgId });
    if (innerBody.length > inner.maxMessageSize) return refuse(this.illegal(inner.name, 'delay body too large for the inner topic'));
    const innerMessage: PreparedMessage = {
      key: uniqDelayMsgId,
      tags: message.tags,
      body: innerBody,
      properties: undefined,
      partitionId: -1,
      hashId: BigInt(javaStringHashCode(key.uuid)),
    };
    const result = this.pipeline.sendPrepared(inner, innerMessage, topic, timeoutMs > 0 ? timeoutMs : ASYNC_REQUEST_TIMEOUT_MS);
    const reply = (code: ResultCode): DelayReply | Promise<DelayReply> => {
      if (code !== ResultCode.OK) return refuse(code);
      const accepted: DelayReply = { code, uniqDelayMsgId };
      const kept = this.chronos?.accept({ action: message.action, key, topic: topicName, body, tags: message.tags, properties: message.properties });
      if (!kept) return accepted;
      return kept.then(
        () => accepted,
        (err: unknown) => {
          this.logger.debug({ err, topic: topicName, uniqDelayMsgId }, 'delay message not journaled by the local Chronos');
          return refuse(ResultCode.FAIL_UNKNOWN);
        },
      );
    };
    return typeof result === 'number' ? reply(result) : result.then(reply);
  }

  private illegal(topic: string | undefined, reason: string): ResultCode {
    this.logger.debug({ topic, reason }, 'illegal delay message');
    return ResultCode.FAIL_ILLEGAL_MSG;
  }
}

/** The id DDMQ's proxy makes for an add: a plain delay expires 2 days after its trigger time. */
function addKey(message: DelayMessage, uuid: string, innerTopicNum: number): DelayKey {
  const timestamp = message.timestamp!;
  const type = message.dmsgtype!;
  return {
    timestamp,
    type,
    expire: type === DelayType.DELAY ? timestamp + BigInt(DELAY_EXPIRE_SECONDS) : message.expire!,
    times: message.times ?? 0n,
    timed: 0n,
    interval: message.interval ?? 0n,
    seq: innerTopicSeq(uuid, innerTopicNum),
    uuid,
  };
}
