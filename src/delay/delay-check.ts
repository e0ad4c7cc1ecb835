/**
 * sendDelaySync's checks, in DDMQ's order and with its codes (DelayRequest.checkDelayMessage; docs/ddmq/delay.md).
 * Timestamps are epoch seconds. The submitted id is echoed back with the codes DDMQ echoes it with.
 */
import type { DelayMessage } from '../core/message';
import { ResultCode } from '../protocol/result-codes';
import { CANCEL_ID_PATTERN, parseDelayId } from './delay-id';

export const DelayAction = { ADD: 1, CANCEL: 2 } as const;
export const DelayType = { DELAY: 2, LOOP_DELAY: 3, LOOP_EXPONENT_DELAY: 4 } as const;
/** Furthest trigger time accepted: 62 days ahead. */
export const MAX_DELAY_SECONDS = 62 * 24 * 3600;
/** Expire of a plain delay: 2 days after its trigger time. */
export const DELAY_EXPIRE_SECONDS = 2 * 24 * 3600;
const MIN_INTERVAL = 3;
const MIN_EXPONENT_BASE = 2;

export interface DelayRefusal {
  readonly code: ResultCode;
  readonly uniqDelayMsgId: string;
}

const isType = (t: number) => t === DelayType.DELAY || t === DelayType.LOOP_DELAY || t === DelayType.LOOP_EXPONENT_DELAY;

/** The action and its parameters (topic checks come before, in the pipeline). undefined: valid. */
export function delayRefusal(m: DelayMessage, innerTopicNum: number, nowSeconds: number): DelayRefusal | undefined {
  const refuse = (code: ResultCode, echoId = false): DelayRefusal => ({ code, uniqDelayMsgId: echoId ? (m.uniqDelayMsgId ?? '') : '' });
  if (m.action === DelayAction.CANCEL) {
    // DDMQ first refuses a blank id (StringUtils.isBlank), with the same code: no blank id has the id's form
    const id = m.uniqDelayMsgId ?? '';
    if (!CANCEL_ID_PATTERN.test(id)) return refuse(ResultCode.FAIL_ILLEGAL_UNIQ_DELAY_MSG_ID, true);
    const key = parseDelayId(id);
    if (!isType(key.type)) return refuse(ResultCode.FAIL_ILLEGAL_DELAY_MSG_TYPE, true);
    if (key.seq >= innerTopicNum) return refuse(ResultCode.FAIL_ILLEGAL_DELAY_INNER_TOPIC_SEQ, true);
    return undefined;
  }
  if (m.action !== DelayAction.ADD) return refuse(ResultCode.FAIL_ILLEGAL_DELAY_ACTION);
  const timestamp = m.timestamp ?? 0n;
  if (timestamp < 1_000_000_000n || timestamp > BigInt(nowSeconds + MAX_DELAY_SECONDS)) return refuse(ResultCode.FAIL_ILLEGAL_DELAY_TIMESTAMP);
  const type = m.dmsgtype ?? 0;
  if (!isType(type)) return refuse(ResultCode.FAIL_ILLEGAL_DELAY_MSG_TYPE, true);
  const times = m.times ?? 0n;
  if (type === DelayType.DELAY) return times !== 0n ? refuse(ResultCode.FAIL_ILLEGAL_DELAY_LOOP_TIMES) : undefined;
  if (times <= 0n) return refuse(ResultCode.FAIL_ILLEGAL_DELAY_LOOP_TIMES);
  if ((m.expire ?? 0n) <= timestamp) return refuse(ResultCode.FAIL_ILLEGAL_DELAY_LOOP_EXPIRE);
  const interval = m.interval ?? 0n;
  if (type === DelayType.LOOP_DELAY && interval < MIN_INTERVAL) return refuse(ResultCode.FAIL_ILLEGAL_DELAY_LOOP_INTERVAL);
  if (type === DelayType.LOOP_EXPONENT_DELAY && interval < MIN_EXPONENT_BASE) return refuse(ResultCode.FAIL_ILLEGAL_DELAY_LOOP_EXPONENT_BASE);
  return undefined;
}
