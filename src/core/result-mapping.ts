/**
 * The one place where storage failures become DDMQ result codes (docs/ddmq/pipeline.md, "Broker failures to codes").
 */
import { ResultCode } from '../protocol/result-codes';
import type { StorageErrorCode } from '../storage/storage';

const STORAGE_ERROR_RESULTS: Readonly<Record<StorageErrorCode, ResultCode>> = {
  TOPIC_NOT_FOUND: ResultCode.FAIL_TOPIC_NOT_EXIST,
  PARTITION_OUT_OF_RANGE: ResultCode.FAIL_ILLEGAL_MSG,
  MESSAGE_TOO_LARGE: ResultCode.FAIL_ILLEGAL_MSG,
  MESSAGE_ILLEGAL: ResultCode.FAIL_ILLEGAL_MSG,
  TIMEOUT: ResultCode.FAIL_TIMEOUT,
  UNAVAILABLE: ResultCode.FAIL_UNKNOWN,
  THROTTLED: ResultCode.FAIL_UNKNOWN,
  // A cluster closes when the proxy shuts down or swaps the cluster's client.
  CLOSED: ResultCode.FAIL_SERVER_SHUTDOWN,
  UNKNOWN: ResultCode.FAIL_UNKNOWN,
};

export function resultForStorageError(code: StorageErrorCode): ResultCode {
  return STORAGE_ERROR_RESULTS[code];
}
