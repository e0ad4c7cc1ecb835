/**
 * RocketMQ 4 failures as storage errors, as DDMQ's proxy maps its client's exceptions: a topic the
 * broker does not know is 14 (TOPIC_NOT_FOUND), an illegal message 11, a send that got no answer in
 * time 12, everything else 10. `retriable` says whether another attempt (here, or the pipeline's
 * extra one before the caller's deadline) can succeed: a connection that failed or a busy broker
 * can, a refusal of the message itself cannot.
 *
 * A broker with ACL on refuses a request whose signature, access key or permission does not pass
 * before any processor sees it: SYSTEM_ERROR, its remark the AclException's text (4.9's remoting
 * server answers every exception a server hook throws that way). That is not retriable: every broker
 * of a cluster checks the same credentials, and they fail the same way until the configuration
 * changes.
 */
import { StorageError } from '../storage';
import { ResponseCode } from './remoting/codes';
import { RemotingError } from './remoting/remoting-error';

const ACL_EXCEPTION = /\bAclException\b/;

/** The broker's ACL (PlainAccessValidator) refused the request: its remark names the AclException. */
export function isAclRefusal(code: number, remark: string | undefined): boolean {
  return code === ResponseCode.SYSTEM_ERROR && remark !== undefined && ACL_EXCEPTION.test(remark);
}

/** A broker's answer to a send that did not store the message. */
export function brokerRefusal(code: number, remark: string | undefined, where: string): StorageError {
  const message = `${where}: broker answered ${code}${remark ? ` (${remark})` : ''}`;
  if (isAclRefusal(code, remark)) return new StorageError('UNAVAILABLE', message, false);
  switch (code) {
    case ResponseCode.TOPIC_NOT_EXIST:
      return new StorageError('TOPIC_NOT_FOUND', message, false);
    case ResponseCode.MESSAGE_ILLEGAL:
      return new StorageError('MESSAGE_ILLEGAL', message, false);
    case ResponseCode.SYSTEM_BUSY:
      return new StorageError('THROTTLED', message, true);
    case ResponseCode.SERVICE_NOT_AVAILABLE:
    case ResponseCode.SYSTEM_ERROR:
      return new StorageError('UNAVAILABLE', message, true);
    default:
      return new StorageError('UNKNOWN', message, false);
  }
}

/** A failure of the connection or the protocol, or anything thrown on the way. */
export function transportFailure(error: unknown, where: string): StorageError {
  if (error instanceof StorageError) return error;
  const message = `${where}: ${(error as Error)?.message ?? String(error)}`;
  if (error instanceof RemotingError) {
    switch (error.kind) {
      case 'timeout':
        return new StorageError('TIMEOUT', message, true, { cause: error });
      case 'connect':
      case 'closed':
        return new StorageError('UNAVAILABLE', message, true, { cause: error });
      case 'protocol':
        return new StorageError('UNKNOWN', message, false, { cause: error });
    }
  }
  return new StorageError('UNKNOWN', message, false, { cause: error });
}
