/**
 * A ClusterStorage for unit tests of timing logic: records every send and answers when the test
 * says, with the outcomes it says. Integration tests use the real storages.
 */
import { StorageError, type ClusterStorage, type OutgoingMessage, type SendOutcome, type StorageErrorCode } from '../../src/storage/storage';

export type Answer = 'ok' | { code: StorageErrorCode; retriable: boolean };

export class StorageDouble {
  readonly sends: OutgoingMessage[][] = [];
  private readonly waiting = new Map<number, (outcomes: SendOutcome[]) => void>();
  /** Answers given at once, in order; when empty, sends wait for answer(). */
  readonly script: Answer[] = [];

  readonly storage = {
    cluster: 'C',
    kind: 'local',
    maxMessageSize: undefined,
    start: async () => undefined,
    close: async () => undefined,
    send: (messages: readonly OutgoingMessage[]) => {
      this.sends.push([...messages]);
      const scripted = this.script.shift();
      if (scripted) return Promise.resolve(messages.map(() => outcome(scripted)));
      const index = this.sends.length - 1;
      return new Promise<SendOutcome[]>((resolve) => this.waiting.set(index, resolve));
    },
  } as ClusterStorage;

  /** Answers a waiting send (default: the oldest): every message alike, or per message. */
  answer(a: Answer | ((m: OutgoingMessage) => Answer) = 'ok', index = Math.min(...this.waiting.keys())): void {
    const resolve = this.waiting.get(index);
    if (!resolve) throw new Error(`send ${index} is not waiting`);
    this.waiting.delete(index);
    resolve(this.sends[index]!.map((m) => outcome(typeof a === 'function' ? a(m) : a)));
  }

  get sizes(): number[] {
    return this.sends.map((s) => s.length);
  }
}

/**
 * A storage whose send breaks the contract as `send` says: throws, rejects, never resolves, or
 * resolves with anything at all.
 */
export function storageSending(send: (messages: readonly OutgoingMessage[]) => unknown): ClusterStorage {
  return { ...new StorageDouble().storage, send: send as ClusterStorage['send'] };
}

function outcome(a: Answer): SendOutcome {
  return a === 'ok' ? { ok: true, partition: 0, offset: 0n } : { ok: false, error: new StorageError(a.code, a.code, a.retriable) };
}
