/** The RocketMQ 4.x request and response codes this client sends or tells apart. */

export const RequestCode = {
  HEART_BEAT: 34,
  UNREGISTER_CLIENT: 35,
  GET_ROUTEINFO_BY_TOPIC: 105,
  GET_BROKER_CLUSTER_INFO: 106,
  SEND_MESSAGE_V2: 310,
  SEND_BATCH_MESSAGE: 320,
} as const;

export const ResponseCode = {
  SUCCESS: 0,
  SYSTEM_ERROR: 1,
  SYSTEM_BUSY: 2,
  REQUEST_CODE_NOT_SUPPORTED: 3,
  FLUSH_DISK_TIMEOUT: 10,
  SLAVE_NOT_AVAILABLE: 11,
  FLUSH_SLAVE_TIMEOUT: 12,
  MESSAGE_ILLEGAL: 13,
  SERVICE_NOT_AVAILABLE: 14,
  NO_PERMISSION: 16,
  TOPIC_NOT_EXIST: 17,
} as const;

/**
 * An answer that is not SUCCESS to a request that has no other expected outcome: the server's code
 * and remark, for the caller to map.
 */
export class ResponseError extends Error {
  override name = 'ResponseError';

  constructor(
    readonly code: number,
    readonly remark: string | undefined,
    what: string,
  ) {
    super(`${what}: response code ${code}${remark ? ` (${remark})` : ''}`);
  }
}
