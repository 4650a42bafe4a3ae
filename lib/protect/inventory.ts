// sockets(): the live protected sockets of this process, as the kernel holds them.
import type * as net from 'node:net';
import { binding } from '../native';
import { getKeepAlive, type KeepAliveOptions, type KeepAliveState } from '../kernel/keepalive';
import { handleFd } from '../kernel/socket';
import type { Direction } from './policy';
import { kPolicy, live } from './protect';

export interface ProtectedSocket {
  socket: net.Socket;
  direction: Direction;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localPort: number | undefined;
  /** the policy's options as given; rule is the index of the rule that chose it, null for the base policy */
  policy: KeepAliveOptions;
  rule: number | null;
  /** what the kernel holds, read back now; null if it cannot be read (closing) */
  keepalive: KeepAliveState | null;
  /** from TCP_INFO, null where the platform does not say */
  tcp: {
    rttMs: number | null;
    retransmits: number | null;
    unacked: number | null;
    /** keepalive probes sent and unanswered */
    probes: number | null;
    /** ms since data was last received */
    lastDataReceivedMs: number | null;
  } | null;
}

function readOrNull<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

export function sockets(): ProtectedSocket[] {
  const list: ProtectedSocket[] = [];
  for (const socket of live) {
    const policy = socket[kPolicy];
    if (typeof policy !== 'object') continue;
    const fd = handleFd(socket);
    const info = fd < 0 ? null : readOrNull(() => binding.tcpInfo(fd));
    list.push({
      socket,
      direction: (socket as net.Socket & { server?: unknown }).server ? 'server' : 'client',
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      localPort: socket.localPort,
      policy: policy.options,
      rule: policy.rule,
      keepalive: readOrNull(() => getKeepAlive(socket)),
      tcp: info && {
        rttMs: info.rttUs === null ? null : info.rttUs / 1000,
        retransmits: info.retransmits,
        unacked: info.unacked,
        probes: info.probes,
        lastDataReceivedMs: info.lastDataRecvMs,
      },
    });
  }
  return list;
}
