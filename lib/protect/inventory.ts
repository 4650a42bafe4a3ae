// sockets(): the live protected sockets of this process, as the kernel holds them.
import type * as net from 'node:net';
import { binding } from '../native';
import { getKeepAlive, type KeepAliveOptions, type KeepAliveState } from '../kernel/keepalive';
import { handleFd } from '../kernel/socket';
import type { Direction } from './policy';
import { kPolicy, live } from './protect';

/** A live socket `protect()` or the preload protects, as `sockets()` lists it. */
export interface ProtectedSocket {
  /** the socket */
  socket: net.Socket;
  /** connected by this process ('client') or accepted by one of its servers ('server') */
  direction: Direction;
  /** the peer's address */
  remoteAddress: string | undefined;
  /** the peer's port */
  remotePort: number | undefined;
  /** this end's port */
  localPort: number | undefined;
  /** the policy's options as given (ms; `within` expanded) */
  policy: KeepAliveOptions;
  /** the index of the rule that chose the policy, null for the base policy */
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

/**
 * The live sockets `protect()` or the preload protects in this process, each
 * with its policy, what the kernel holds now (read back) and TCP_INFO
 * figures. Empty when nothing is protected.
 */
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
