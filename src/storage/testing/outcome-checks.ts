/**
 * Assertions on send outcomes that the storage contract makes for every storage, written so that a
 * failing check names the message and what the storage answered.
 */
import assert from 'node:assert/strict';
import { STORAGE_ERROR_CODES, type SendOutcome, type StorageErrorCode } from '../storage';

/** The partition of an outcome whose storage does not know where the broker put the message. */
export const PARTITION_NOT_REPORTED = -1;

export type StoredOutcome = Extract<SendOutcome, { ok: true }>;

/** One well-formed outcome per message: an ok with a partition, or a failure of a known code. */
export function assertOutcomes(outcomes: unknown, count: number, what: string): asserts outcomes is SendOutcome[] {
  assert.ok(Array.isArray(outcomes), `${what}: send resolved with ${String(outcomes)}, not an array`);
  assert.equal(outcomes.length, count, `${what}: ${outcomes.length} outcomes for ${count} messages`);
  outcomes.forEach((outcome, i) => assertOutcome(outcome, `${what}, message ${i}`));
}

function assertOutcome(outcome: unknown, where: string): void {
  assert.ok(typeof outcome === 'object' && outcome !== null, `${where}: outcome ${String(outcome)} is not an object`);
  const { ok, partition, offset, error } = outcome as { ok?: unknown; partition?: unknown; offset?: unknown; error?: unknown };
  if (ok === true) {
    assert.ok(Number.isInteger(partition) && (partition as number) >= PARTITION_NOT_REPORTED, `${where}: partition ${String(partition)} is not an index or -1`);
    assert.ok(offset === undefined || typeof offset === 'bigint', `${where}: offset ${String(offset)} is neither a bigint nor undefined`);
    return;
  }
  assert.equal(ok, false, `${where}: ok is ${String(ok)}, not a boolean`);
  assertFailure(error, where);
}

/** A StorageFailure: a code of STORAGE_ERROR_CODES, a message, a boolean `retriable`. */
export function assertFailure(error: unknown, where: string): void {
  const { code, message, retriable } = (error ?? {}) as { code?: unknown; message?: unknown; retriable?: unknown };
  assert.ok((STORAGE_ERROR_CODES as readonly unknown[]).includes(code), `${where}: error code ${String(code)} is not one of STORAGE_ERROR_CODES`);
  assert.equal(typeof message, 'string', `${where}: error message is not a string`);
  assert.equal(typeof retriable, 'boolean', `${where}: retriable is ${String(retriable)}, not a boolean`);
}

export function assertStored(outcome: SendOutcome, where: string): asserts outcome is StoredOutcome {
  if (!outcome.ok) assert.fail(`${where}: not stored: ${outcome.error.code} (retriable ${outcome.error.retriable}): ${outcome.error.message}`);
}

export function assertEveryStored(outcomes: readonly SendOutcome[], what: string): asserts outcomes is StoredOutcome[] {
  outcomes.forEach((outcome, i) => assertStored(outcome, `${what}, message ${i}`));
}

/** A failure of one of `codes`, retriable or not as given. */
export function assertRefused(outcome: SendOutcome, codes: readonly StorageErrorCode[], retriable: boolean, where: string): void {
  if (outcome.ok) assert.fail(`${where}: stored on partition ${outcome.partition}, expected ${codes.join(' or ')}`);
  assert.ok(codes.includes(outcome.error.code), `${where}: ${outcome.error.code} (${outcome.error.message}), expected ${codes.join(' or ')}`);
  assert.equal(outcome.error.retriable, retriable, `${where}: ${outcome.error.code} has retriable ${outcome.error.retriable}, expected ${retriable}`);
}
