/**
 * The ordering guarantee: messages of a strongOrder topic with the same partition hint (an explicit
 * partition, or a hashId) land on one partition, in the order they were sent, also when they come in
 * several concurrent sends. Each message's body names its hint and its place in the input order, so
 * that what a storage reports (partition, offset) or stores (read back) can be checked against it.
 */
import assert from 'node:assert/strict';
import { PARTITION_BY_HASH } from '../../routing/partition';
import type { OutgoingMessage, SendOutcome } from '../storage';
import { PARTITION_NOT_REPORTED, type StoredOutcome } from './outcome-checks';
import { outgoingMessage } from './outgoing-message';

/** hashIds of both signs and the 64-bit extremes. */
const HASH_IDS = [1n, 12_345_678_901_234_567n, -9n, 2n ** 63n - 1n, -(2n ** 63n)];

export interface OrderedMessage {
  readonly message: OutgoingMessage;
  /** Which hint the message carries, e.g. `partition 2` or `hash -9`. */
  readonly hint: string;
  /** Its place in the input order: sends in the order they were made, then index in the send. */
  readonly seq: number;
}

/** `sends` sends of `perSend` ordered messages to `topic`, cycling through explicit-partition and hashId hints. */
export function orderedSends(topic: string, partitions: number, sends: number, perSend: number, run: string): OrderedMessage[][] {
  const hints = [
    ...Array.from({ length: partitions }, (_, p) => ({ hint: `partition ${p}`, partitionId: p, hashId: 0n })),
    ...HASH_IDS.map((hashId) => ({ hint: `hash ${hashId}`, partitionId: PARTITION_BY_HASH, hashId })),
  ];
  return Array.from({ length: sends }, (_, s) =>
    Array.from({ length: perSend }, (_, j) => {
      const seq = s * perSend + j;
      const { hint, partitionId, hashId } = hints[seq % hints.length]!;
      const body = Buffer.from(`${run}|${hint}|${seq}`);
      return { message: outgoingMessage({ topic, body, partitionId, hashId, ordered: true }), hint, seq };
    }),
  );
}

/** Messages with the same hint on one reported partition; an explicit partition on that partition. */
export function assertPlacement(sent: readonly OrderedMessage[], outcomes: readonly StoredOutcome[]): void {
  const partitionOf = new Map<string, number>();
  sent.forEach(({ message, hint, seq }, i) => {
    const { partition } = outcomes[i]!;
    if (partition === PARTITION_NOT_REPORTED) return;
    if (message.partitionId >= 0) assert.equal(partition, message.partitionId, `message ${seq} (${hint}) stored on partition ${partition}`);
    const first = partitionOf.get(hint) ?? partition;
    partitionOf.set(hint, first);
    assert.equal(partition, first, `message ${seq} (${hint}) on partition ${partition}, earlier ones of its hint on ${first}`);
  });
}

/**
 * Offsets increasing in input order among the messages of one hint on one partition. `required`:
 * every outcome must report both (order has no other witness); else unreported ones are passed over.
 */
export function assertOffsetOrder(sent: readonly OrderedMessage[], outcomes: readonly StoredOutcome[], required: boolean): void {
  const last = new Map<string, { offset: bigint; seq: number }>();
  sent.forEach(({ hint, seq }, i) => {
    const { partition, offset } = outcomes[i]!;
    const reported = partition !== PARTITION_NOT_REPORTED && offset !== undefined;
    assert.ok(
      reported || !required,
      `message ${seq} (${hint}): without readBack the outcome must report partition and offset, got partition ${partition}, offset ${offset}`,
    );
    if (!reported) return;
    const key = `${partition}/${hint}`;
    const previous = last.get(key);
    if (previous !== undefined) {
      assert.ok(offset > previous.offset, `partition ${partition} (${hint}): message ${seq} at offset ${offset}, sent after message ${previous.seq} at ${previous.offset}`);
    }
    last.set(key, { offset, seq });
  });
}

/**
 * What was read back: every message exactly once, on its reported partition, and those of one hint
 * on one partition in input order. Bodies of other runs (earlier tests on a shared topic) are ignored.
 */
export function assertStoredOrder(sent: readonly OrderedMessage[], outcomes: readonly SendOutcome[], stored: ReadonlyMap<number, readonly Buffer[]>, run: string): void {
  const bySeq = new Map(sent.map((m, i) => [m.seq, { ...m, outcome: outcomes[i]! }]));
  const found = new Set<number>();
  for (const [partition, bodies] of stored) {
    const lastSeq = new Map<string, number>();
    for (const body of bodies) {
      const [bodyRun, hint, seqText] = body.toString('latin1').split('|');
      if (bodyRun !== run) continue;
      const seq = Number(seqText);
      const entry = bySeq.get(seq);
      assert.ok(entry !== undefined && entry.hint === hint, `partition ${partition} holds a body that was not sent: ${body.toString('latin1')}`);
      assert.ok(!found.has(seq), `message ${seq} (${hint}) stored twice`);
      found.add(seq);
      const reported = entry.outcome.ok ? entry.outcome.partition : PARTITION_NOT_REPORTED;
      if (reported !== PARTITION_NOT_REPORTED) assert.equal(partition, reported, `message ${seq} (${hint}) read back from partition ${partition}, reported on ${reported}`);
      const previous = lastSeq.get(hint);
      if (previous !== undefined) assert.ok(seq > previous, `partition ${partition} (${hint}): message ${seq} stored after message ${previous}`);
      lastSeq.set(hint, seq);
    }
  }
  const missing = sent.filter((m) => !found.has(m.seq)).map((m) => m.seq);
  assert.deepEqual(missing, [], `messages not read back from partitions ${[...stored.keys()].join(', ')}`);
}
