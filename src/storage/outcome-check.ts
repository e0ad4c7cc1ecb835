/**
 * The shape the contract gives a send's outcomes (storage.ts), checked at run time: a plugin is
 * JavaScript the compiler never saw, and what its send resolves with is whatever it is.
 */
import { STORAGE_ERROR_CODES, type SendOutcome, type StorageErrorCode } from './storage';

const CODES: ReadonlySet<unknown> = new Set(STORAGE_ERROR_CODES);

export function isStorageErrorCode(code: unknown): code is StorageErrorCode {
  return CODES.has(code);
}

/**
 * `{ok: true, partition: an integer >= -1, offset: a bigint or undefined}`, or
 * `{ok: false, error: {code: one of STORAGE_ERROR_CODES, message: a string, retriable: a boolean}}`.
 */
export function isWellFormedOutcome(outcome: unknown): outcome is SendOutcome {
  if (typeof outcome !== 'object' || outcome === null) return false;
  const o = outcome as { ok?: unknown; partition?: unknown; offset?: unknown; error?: unknown };
  if (o.ok === true) {
    return typeof o.partition === 'number' && Number.isInteger(o.partition) && o.partition >= -1 && (o.offset === undefined || typeof o.offset === 'bigint');
  }
  return o.ok === false && isWellFormedFailure(o.error);
}

function isWellFormedFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; message?: unknown; retriable?: unknown };
  return CODES.has(e.code) && typeof e.message === 'string' && typeof e.retriable === 'boolean';
}

/** The ways a send's resolution can break the contract, one kind of log line each. */
export type OutcomeViolation =
  | 'outcomes not an array'
  | 'too few outcomes'
  | 'too many outcomes'
  | 'malformed outcome'
  | 'success with a malformed partition or offset'
  | 'unknown error code'
  | 'retriable not a boolean';

/**
 * One well-formed outcome per message from what a send of `count` messages resolved with. The
 * storage's own array when it is right (the common case costs the check alone); otherwise a copy
 * in which an extra outcome is dropped, a missing or malformed one is UNKNOWN and not retriable,
 * a success with a malformed partition or offset is a success at partition -1, and a failure keeps
 * what can be kept: an unknown code becomes UNKNOWN, a retriable that is no boolean becomes false.
 * `report` hears each kind of violation once.
 */
export function checkOutcomes(value: unknown, count: number, report: (violation: OutcomeViolation) => void): SendOutcome[] {
  if (!Array.isArray(value)) {
    report('outcomes not an array');
    return new Array<SendOutcome>(count).fill(unknownOutcome('the storage resolved with no outcome array'));
  }
  if (value.length === count) {
    let i = 0;
    while (i < count && isWellFormedOutcome(value[i])) i++;
    if (i === count) return value as SendOutcome[];
  }
  if (value.length > count) report('too many outcomes');
  let missing: SendOutcome | undefined;
  let malformed: SendOutcome | undefined;
  let reported: Set<OutcomeViolation> | undefined;
  const once = (violation: OutcomeViolation) => {
    if ((reported ??= new Set()).has(violation)) return;
    reported.add(violation);
    report(violation);
  };
  const outcomes = new Array<SendOutcome>(count);
  for (let i = 0; i < count; i++) {
    const outcome: unknown = value[i];
    if (i >= value.length) {
      once('too few outcomes');
      outcomes[i] = missing ??= unknownOutcome('the storage gave no outcome for this message');
    } else if (isWellFormedOutcome(outcome)) {
      outcomes[i] = outcome;
    } else {
      outcomes[i] =
        repairedSuccess(outcome, once) ??
        repairedFailure(outcome, once) ??
        (once('malformed outcome'), (malformed ??= unknownOutcome('the storage gave a malformed outcome for this message')));
    }
  }
  return outcomes;
}

/**
 * A success whose partition or offset is off (a number offset, a stream id): the message is stored,
 * so it stays a success, one that says nothing of where. Answered a failure, its caller would send
 * it again.
 */
function repairedSuccess(outcome: unknown, report: (violation: OutcomeViolation) => void): SendOutcome | undefined {
  if ((outcome as { ok?: unknown } | null | undefined)?.ok !== true) return undefined;
  report('success with a malformed partition or offset');
  return UNPLACED_SUCCESS;
}

const UNPLACED_SUCCESS: SendOutcome = { ok: true, partition: -1, offset: undefined };

/** A failure whose code or retriable is off, corrected; undefined when the outcome is not a failure with a message. */
function repairedFailure(outcome: unknown, report: (violation: OutcomeViolation) => void): SendOutcome | undefined {
  const o = outcome as { ok?: unknown; error?: { code?: unknown; message?: unknown; retriable?: unknown } } | null | undefined;
  const error = o?.ok === false ? o.error : undefined;
  if (typeof error !== 'object' || error === null || typeof error.message !== 'string') return undefined;
  const known = isStorageErrorCode(error.code);
  if (!known) report('unknown error code');
  if (typeof error.retriable !== 'boolean') report('retriable not a boolean');
  return {
    ok: false,
    error: {
      code: known ? (error.code as StorageErrorCode) : 'UNKNOWN',
      message: known ? error.message : `${error.message} (code ${describe(error.code)})`,
      retriable: error.retriable === true,
    },
  };
}

function unknownOutcome(message: string): SendOutcome {
  return { ok: false, error: { code: 'UNKNOWN', message, retriable: false } };
}

/** A value for a log or an error message, whatever it is (String() throws on some objects). */
function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' && value !== null ? 'an object' : String(value);
}
