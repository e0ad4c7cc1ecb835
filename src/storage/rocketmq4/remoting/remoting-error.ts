/**
 * The one error type of the RocketMQ remoting layer: its `kind` says what failed, so that a storage
 * can map it to its own codes without reading messages.
 */

/**
 * timeout: no answer within the request's deadline; closed: the connection ended (by us, the peer
 * or a socket error) before the answer; connect: the connection could not be opened; protocol: the
 * peer sent bytes that are no valid frame, or an answer that does not fit the request.
 */
export type RemotingErrorKind = 'timeout' | 'closed' | 'connect' | 'protocol';

export class RemotingError extends Error {
  override name = 'RemotingError';

  constructor(
    readonly kind: RemotingErrorKind,
    message: string,
  ) {
    super(message);
  }
}
