// Finding the kernel socket behind whatever the user holds.
import type * as http from 'node:http';
import * as net from 'node:net';
import { invalidType, invalidValue, noFd, outOfRange, socketClosed } from '../errors';
import { binding, hasAddon } from '../native';
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

/**
 * The socket's fd: the one Node's handle holds, or, in a runtime whose
 * socket shows none (Bun's http server sockets, every Deno socket), the
 * descriptor of the same connection found in this process. -1 if neither.
 */
export function handleFd(socket: net.Socket): number {
  const fd = visibleFd(socket);
  if (fd >= 0) return fd;
  return CAN_FIND_FD ? findConnectionFd(socket) : -1;
}

/** The fd Node's handle shows, or -1: no search (see handleFd). */
export function visibleFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

// Node on Windows has no fds to find; FreeBSD has no runtime that hides them.
const CAN_FIND_FD = process.platform === 'linux' || process.platform === 'darwin';

/** The fd found last per socket: checked first next time (two system calls instead of a scan). */
const foundFds = new WeakMap<net.Socket, number>();
/** Why the last search failed, for the error message. */
let searchFailure: string | null = null;

/**
 * The descriptor whose local and remote endpoints are the socket's. A socket
 * that has no remote address yet (not connected) is not looked for: the
 * listener it shares the local address with would not match anyway.
 */
function findConnectionFd(socket: net.Socket): number {
  searchFailure = null;
  const { localAddress, localPort, remoteAddress, remotePort } = socket;
  if (!localAddress || !remoteAddress || !localPort || !remotePort || !hasAddon()) return -1;
  let fd: number;
  try {
    fd = binding.findConnectionFd(foundFds.get(socket) ?? -1, localAddress, localPort, remoteAddress, remotePort);
  } catch (error) {
    searchFailure = (error as Error).message;
    return -1;
  }
  if (fd >= 0) foundFds.set(socket, fd);
  else foundFds.delete(socket);
  return fd;
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

/**
 * node:http, loaded where it is first needed (here, a target that is not a
 * net.Socket or an fd; Bun's servers in protect/reach-runtimes.ts): the
 * preload and most database clients never need it, and loading it keeps
 * some 250 KiB more on the heap of every protected process.
 */
export function httpModule(): typeof http {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node:http') as typeof http;
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
  const { ClientRequest, IncomingMessage, ServerResponse } = httpModule();
  if (target instanceof ClientRequest) {
    if (target.socket) return resolveNetSocket(target.socket);
    if (target.destroyed) throw socketClosed();
    return { kind: 'pending', emitter: target, ready: 'socket' };
  }
  if (target instanceof IncomingMessage || target instanceof ServerResponse) {
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
  // Node creates the fd only when connect() reaches libuv (after DNS), and a
  // connecting TLS socket reports its fd only after the TCP connect.
  if (socket.connecting) return { kind: 'pending', emitter: socket, ready: 'connect' };
  const fd = handleFd(socket);
  if (fd >= 0) return { kind: 'fd', fd, socket };
  const handle = (socket as unknown as { _handle?: unknown })._handle;
  if (process.platform === 'win32' && handle) return { kind: 'handle-only', socket };
  // A socket not yet told to connect: Node itself defers its setKeepAlive so.
  // (Bun's http server sockets have no handle either, but a peer.)
  if (!handle && socket.remoteAddress === undefined) return { kind: 'pending', emitter: socket, ready: 'connect' };
  throw noFd(noFdSubject(socket));
}

function noFdSubject(socket: net.Socket): string {
  if (searchFailure !== null) return `This socket (the search for its descriptor failed: ${searchFailure})`;
  if (!CAN_FIND_FD) return `This socket (${process.platform} has no search for a descriptor the runtime does not show)`;
  if (!hasAddon()) return 'This socket (the runtime shows no fd, and finding it needs the native addon)';
  if (socket.remoteAddress === undefined) return 'This socket (not a TCP connection: for example TLS over another stream)';
  return 'This socket (no descriptor of this process is its connection)';
}
