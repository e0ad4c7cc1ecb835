/**
 * The storage contract the core owns. Each broker cluster of the configuration is one
 * ClusterStorage, made by the plugin of its type (plugin-api.ts). Nothing above this layer knows a
 * broker client's types.
 */

/** A validated message on its way to a cluster. Routing hints are resolved by the adapter. */
export interface OutgoingMessage {
  readonly topic: string;
  readonly key: string | undefined;
  readonly tags: string | undefined;
  readonly body: Buffer;
  readonly properties: ReadonlyMap<string, string> | undefined;
  /** DDMQ's partition hint: >= 0 explicit, -1 by hashId, < -1 random. */
  readonly partitionId: number;
  readonly hashId: bigint;
  /** The topic is `strongOrder` (DDMQ): messages with a partition or hash hint keep their order. */
  readonly ordered: boolean;
  /** Milliseconds since the epoch, taken when the proxy received the message. */
  readonly timestamp: number;
}

/**
 * Storage failures by kind, not by client library. The mapping to DDMQ result codes lives in
 * core/result-mapping.ts; retry decisions read only `retriable`.
 */
export const STORAGE_ERROR_CODES = [
  'TOPIC_NOT_FOUND',
  'PARTITION_OUT_OF_RANGE',
  'MESSAGE_TOO_LARGE',
  'MESSAGE_ILLEGAL',
  'TIMEOUT',
  'UNAVAILABLE',
  'THROTTLED',
  'CLOSED',
  'UNKNOWN',
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

/** Why a message was not stored. Plugins may return plain objects of this shape. */
export interface StorageFailure {
  readonly code: StorageErrorCode;
  readonly message: string;
  /** Whether the same message may succeed if sent again (the pipeline retries within the deadline). */
  readonly retriable: boolean;
}

export class StorageError extends Error implements StorageFailure {
  override readonly name = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Where a stored message landed: `partition` is its index, or -1 when the broker chose and does not
 * say (RocketMQ 5); `offset` is the partition offset where the broker reports one.
 */
export type SendOutcome =
  | { readonly ok: true; readonly partition: number; readonly offset: bigint | undefined }
  | { readonly ok: false; readonly error: StorageFailure };

export interface ClusterStorage {
  readonly cluster: string;
  /** The plugin's kind. */
  readonly kind: string;
  /** Largest body this cluster accepts, when its configuration sets one. */
  readonly maxMessageSize: number | undefined;
  /**
   * The reason this cluster cannot take the message, for rules of its broker beyond DDMQ's (a header
   * name it reserves, say). Called while requests are validated, before anything is sent, so such a
   * message is answered FAIL_ILLEGAL_MSG (11) and a sendBatchSync holding it sends nothing. Absent:
   * every message DDMQ's rules let through is acceptable.
   */
  illegalMessageReason?(message: OutgoingMessage): string | undefined;
  /**
   * Makes the cluster ready before the proxy serves: recovers what is on disk, or connects. Rejects
   * when the cluster cannot be used at all, which stops the proxy from starting.
   */
  start(): Promise<void>;
  /**
   * Readies a started storage for these topics (connections, metadata, routes) before requests are
   * routed to it, so that a cluster replaced by a configuration change does not make the first
   * requests after the swap wait for them. Never rejects; what fails here fails again, and is
   * answered, on send. Absent: nothing to prepare.
   */
  warmUp?(topics: readonly string[]): Promise<void>;
  /**
   * Stores the messages and resolves with one outcome per message, in input order. Never rejects:
   * failures are outcomes, so one bad message cannot hide the fate of the others. Messages that
   * land on the same partition are stored in input order.
   */
  send(messages: readonly OutgoingMessage[]): Promise<SendOutcome[]>;
  /**
   * Flushes, then releases files and connections. Later sends fail with CLOSED, retriable: the
   * pipeline retries them on the cluster's current storage (a configuration change replaced it).
   */
  close(): Promise<void>;
}
