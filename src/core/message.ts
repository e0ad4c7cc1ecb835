/**
 * DDMQ's Thrift `Message` and `DelayMessage` as the proxy receives them. Absent optional fields are
 * undefined, exactly as the original's null checks see them; defaults are the IDL's.
 */

export interface ProducerMessage {
  topic: string | undefined;
  key: string | undefined;
  /** Legacy body (field 3). Kept as raw bytes, so non-UTF-8 payloads pass through unchanged. */
  value: Buffer | undefined;
  hashId: bigint;
  tags: string | undefined;
  partitionId: number;
  body: Buffer | undefined;
  version: string | undefined;
  properties: Map<string, string> | undefined;
  /** Set when the properties exceed the bounds (property-limits.ts): why; they are then left unread and the message is illegal. */
  oversizeProperties: string | undefined;
}

export interface DelayMessage {
  topic: string | undefined;
  uniqDelayMsgId: string | undefined;
  body: Buffer | undefined;
  tags: string | undefined;
  action: number;
  timestamp: bigint | undefined;
  dmsgtype: number | undefined;
  interval: bigint | undefined;
  expire: bigint | undefined;
  times: bigint | undefined;
  uuid: string | undefined;
  version: string | undefined;
  properties: Map<string, string> | undefined;
  /** As in ProducerMessage. */
  oversizeProperties: string | undefined;
}

/** IDL default of Message.partitionId: route by hashId. */
export const DEFAULT_PARTITION_ID = -1;

export function emptyProducerMessage(): ProducerMessage {
  return {
    topic: undefined,
    key: undefined,
    value: undefined,
    hashId: 0n,
    tags: undefined,
    partitionId: DEFAULT_PARTITION_ID,
    body: undefined,
    version: undefined,
    properties: undefined,
    oversizeProperties: undefined,
  };
}

export function emptyDelayMessage(): DelayMessage {
  return {
    topic: undefined,
    uniqDelayMsgId: undefined,
    body: undefined,
    tags: undefined,
    action: 0,
    timestamp: undefined,
    dmsgtype: undefined,
    interval: undefined,
    expire: undefined,
    times: undefined,
    uuid: undefined,
    version: undefined,
    properties: undefined,
    oversizeProperties: undefined,
  };
}
