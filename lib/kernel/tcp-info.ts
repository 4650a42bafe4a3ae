import { binding, type TcpInfo } from '../native';
import { unsupported } from '../errors';
import { resolveSocket, type SocketLike } from './socket';

/**
 * The kernel's TCP_INFO for a connected socket: keepalive probes
 * unanswered, retransmissions, RTO and RTT (µs), ms since data was last
 * sent and received. A field the platform does not report is null.
 *
 * @throws `ERR_TCP_KEEPALIVE_UNSUPPORTED` for a socket still connecting,
 *   one without an fd (Windows) or without the native addon; a system error
 *   (`code`, `errno`, `syscall`) from getsockopt.
 */
export function tcpInfo(socket: SocketLike): TcpInfo {
  const resolved = resolveSocket(socket);
  if (resolved.kind !== 'fd') throw unsupported('TCP_INFO needs a connected socket with a file descriptor');
  return binding.tcpInfo(resolved.fd);
}
