/**
 * DDMQ's delay message id (chronos InternalKey; docs/ddmq/delay.md): `timestamp-type-expire-times-timed-interval-seq-uuid`,
 * e.g. `1507609164-2-1507609214-0-0-0-0-14f22520-ad72-11e7-91be-6ee54da579e3`. `timed` counts the
 * loops already fired (0 when the proxy creates the id); `seq` names the inner topic.
 */
import { javaStringHashCode, wholeStringPattern } from '../core/java-string';
import { hashModulo } from '../routing/partition';

export interface DelayKey {
  readonly timestamp: bigint;
  readonly type: number;
  readonly expire: bigint;
  readonly times: bigint;
  readonly timed: bigint;
  readonly interval: bigint;
  readonly seq: number;
  readonly uuid: string;
}

/**
 * What a cancel may name: DDMQ's DelayRequest regex, over the whole id. DDMQ runs it with find(),
 * whose `$` also matches before one trailing line terminator ("\n", "\r\n", U+2028, ...); such an
 * id then breaks DDMQ's InternalKey parsing with an exception instead of an answer, and is refused
 * here with FAIL_ILLEGAL_UNIQ_DELAY_MSG_ID like any other id not of this form.
 */
export const CANCEL_ID_PATTERN = wholeStringPattern(
  String.raw`\d{10}-\d-\d{10}-\d+-\d+-\d+-\d+-[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}`,
);

export function formatDelayId(k: DelayKey): string {
  return `${k.timestamp}-${k.type}-${k.expire}-${k.times}-${k.timed}-${k.interval}-${k.seq}-${k.uuid}`;
}

/** Parses an id that matched CANCEL_ID_PATTERN. */
export function parseDelayId(id: string): DelayKey {
  const parts = id.split('-');
  return {
    timestamp: BigInt(parts[0]!),
    type: Number(parts[1]),
    expire: BigInt(parts[2]!),
    times: BigInt(parts[3]!),
    timed: BigInt(parts[4]!),
    interval: BigInt(parts[5]!),
    seq: Number(parts[6]),
    uuid: parts.slice(7).join('-'),
  };
}

/**
 * The inner topic a uuid's messages go to: |String.hashCode(uuid)| mod innerTopicNum. The original
 * takes Java's signed remainder, which is negative for half the uuids when innerTopicNum > 1 and
 * yields ids its own cancel rejects.
 */
export function innerTopicSeq(uuid: string, innerTopicNum: number): number {
  return hashModulo(BigInt(javaStringHashCode(uuid)), innerTopicNum);
}
