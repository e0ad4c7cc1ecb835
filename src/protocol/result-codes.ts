/**
 * DDMQ's result codes (ProxySendResult.java; docs/ddmq/result-codes.md), with the exact `msg` strings the original sends.
 * Clients branch on the numbers and some log the strings, so both are part of the wire contract.
 * This table is the only place a numeric code is paired with its message.
 */
export const ResultCode = {
  OK: 0,
  FAIL_UNKNOWN: 10,
  FAIL_ILLEGAL_MSG: 11,
  FAIL_TIMEOUT: 12,
  FAIL_TOPIC_NOT_ALLOWED: 13,
  FAIL_TOPIC_NOT_EXIST: 14,
  FAIL_REFUSED_BY_RATE_LIMITER: 15,
  FAIL_TOPIC_IS_NOT_DELAY: 18,
  FAIL_TOPIC_IS_DELAY: 19,
  FAIL_SERVER_SHUTDOWN: 20,
  FAIL_NO_PRODUCER_FOR_CLUSTER: 21,
  FAIL_ILLEGAL_UNIQ_DELAY_MSG_ID: 30,
  FAIL_ILLEGAL_DELAY_MSG_TYPE: 31,
  FAIL_ILLEGAL_DELAY_ACTION: 32,
  FAIL_ILLEGAL_DELAY_TIMESTAMP: 33,
  FAIL_ILLEGAL_DELAY_INNER_TOPIC_SEQ: 34,
  FAIL_ILLEGAL_DELAY_LOOP_TIMES: 35,
  FAIL_ILLEGAL_DELAY_LOOP_EXPIRE: 36,
  FAIL_ILLEGAL_DELAY_LOOP_INTERVAL: 37,
  FAIL_ILLEGAL_DELAY_LOOP_EXPONENT_BASE: 38,
} as const;

export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

export const RESULT_MESSAGES: Readonly<Record<ResultCode, string>> = {
  0: 'OK',
  10: 'FAILED: unknown reason.',
  11: 'FAILED: Message is too large or illegal or the length is 0',
  12: 'FAILED: Send timeout',
  13: 'FAILED: Topic is not in the proxy white list',
  14: 'FAILED: Topic do not exist!',
  15: 'FAILED: Refused by the rate limiter.',
  18: 'FAILED: Topic is not delay',
  19: 'FAILED: Topic is delay',
  20: 'FAILED: Server is shutting down.',
  21: 'FAILED: no producer for cluster.',
  30: 'FAILED: Illegal uniqDelayMsgId.',
  31: 'FAILED: Illegal dMsgType.',
  32: 'FAILED: Illegal delay action.',
  33: 'FAILED: Illegal delay timestamp.',
  34: 'FAILED: Illegal delay innerTopicSeq.',
  35: 'FAILED: Illegal delay loopTimes.',
  36: 'FAILED: Illegal delay expire, expire must be greater than timestamp.',
  37: 'FAILED: Illegal delay interval, interval can not be less than 3.',
  38: 'FAILED: Illegal delay exponent base, base can not be less than 2.',
};

const NAMES = new Map<number, string>(Object.entries(ResultCode).map(([name, code]) => [code, name]));

/** The symbolic name of a code, e.g. 13 -> FAIL_TOPIC_NOT_ALLOWED (for logs and the CLI). */
export function resultCodeName(code: number): string {
  return NAMES.get(code) ?? `UNKNOWN_CODE_${code}`;
}
