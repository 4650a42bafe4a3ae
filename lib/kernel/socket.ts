// Finding the kernel socket behind whatever the user holds.
import * as http from 'node:http';
import * as net from 'node:net';
import { invalidType, invalidValue, noFd, outOfRange, socketClosed } from '../errors';
import { INT32_MAX } from '../time';

export type Resolved =
  /** the fd is there: options can be set now (through `socket` when there is no addon) */
  | { kind: 'fd'; fd: number; socket?: net.Socket }
  /** the fd is not there yet: apply once `ready` fires on `emitter` */
  | { kind: 'pending'; emitter: net.Socket | http.ClientRequest; ready: 'connect' | 'socket' }
  /** a socket Node gives no fd for (Windows) */
  | { kind: 'handle-only'; socket: net.Socket };

/**
 * What the kernel functions take: a `net.Socket` or `tls.TLSSocket` (the TCP
 * socket beneath is used), an `http.IncomingMessage`, `http.ServerResponse`
 * or `http.ClientRequest` (their socket), or a file descriptor number
 * (0 to 2 147 483 647).
 */
export type SocketLike = net.Socket | http.IncomingMessage | http.ServerResponse | http.ClientRequest | number;

const EXPECTED = 'a net.Socket, tls.TLSSocket, an http request or response, or a file descriptor number';

export function handleFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/**
 * A Unix-domain socket: it has an fd but no TCP options, and the kernel
 * refuses them with EOPNOTSUPP. Node creates its Pipe handle in connect(),
 * before the socket connects.
 */
export function isUnixDomain(socket: net.Socket): boolean {
  const handle = (socket as unknown as { _handle?: { constructor?: { name?: string } } | null })._handle;
  return handle?.constructor?.name === 'Pipe';
}

export function resolveSocket(target: unknown, name = 'socket'): Resolved {
  if (typeof target === 'number') {
    // The addon takes an int: a larger number would wrap onto another, live fd.
    if (!Number.isInteger(target) || target < 0 || target > INT32_MAX) {
      throw outOfRange(name, `a file descriptor, an integer from 0 to ${INT32_MAX}`, target);
    }
    return { kind: 'fd', fd: target };
  }
  if (target instanceof net.Socket) return resolveNetSocket(target);
  if (target instanceof http.ClientRequest) {
    if (target.socket) return resolveNetSocket(target.socket);
    if (target.destroyed) throw socketClosed();
    return { kind: 'pending', emitter: target, ready: 'socket' };
  }
  if (target instanceof http.IncomingMessage || target instanceof http.ServerResponse) {
    if (!target.socket) throw socketClosed();
    return resolveNetSocket(target.socket);
  }
  if (target instanceof net.Server) {
    throw invalidValue(name, 'is a server, which has no connection of its own: use applyToServer() for the sockets it accepts');
  }
  throw invalidType(name, EXPECTED, target);
}

function resolveNetSocket(socket: net.Socket): Resolved {
  if (socket.destroyed) throw socketClosed();
  const fd = handleFd(socket);
  // Node creates the fd only when connect() reaches libuv (after DNS), and a
  // connecting TLS socket reports its fd only after the TCP connect.
  if (socket.connecting) return { kind: 'pending', emitter: socket, ready: 'connect' };
  if (fd >= 0) return { kind: 'fd', fd, socket };
  if (process.platform === 'win32' && (socket as unknown as { _handle?: unknown })._handle) return { kind: 'handle-only', socket };
  // A socket not yet told to connect: Node itself defers its setKeepAlive so.
  if (!(socket as unknown as { _handle?: unknown })._handle) return { kind: 'pending', emitter: socket, ready: 'connect' };
  throw noFd('This socket (for example TLS over a stream that is not a TCP socket)');
}
