import { binding, type TcpInfo } from '../native';
import { unsupported } from '../errors';
import { resolveSocket, type SocketLike } from './socket';

/** The kernel's TCP_INFO for a connected socket: probes sent, RTO, last data received and more. */
export function tcpInfo(socket: SocketLike): TcpInfo {
  const resolved = resolveSocket(socket);
  if (resolved.kind !== 'fd') throw unsupported('TCP_INFO needs a connected socket with a file descriptor');
  return binding.tcpInfo(resolved.fd);
}
