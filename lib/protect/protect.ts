// protect(): one policy for every TCP socket of the process, held against
// the drivers' own setKeepAlive() calls, with a report when one dies.
//
// Per socket this keeps one property (the shared compiled policy, or a
// marker while a client connects) and one entry in the set of live
// protected sockets; the listeners are shared functions.
import type * as net from 'node:net';
import { binding } from '../native';
import { applyRequest, kExplicit, rememberExplicitCalls, type KernelRequest } from '../kernel/keepalive';
import { handleFd, isUnixDomain } from '../kernel/socket';
import { causeOf, countClosed, countProtected, countUnprotected, reportDeath } from './events';
import { install } from './reach';
import { compileProtection, policyFor, servicePort, type CompiledPolicy, type CompiledProtection, type Direction, type ProtectOptions } from './policy';

export const kPolicy = Symbol('tcp-keepalive.policy');
/** A client reached and waiting for its 'connect'. */
const CONNECTING = 0;
/** Node's setKeepAlive() ran on the socket before it was protected (a server's keepAlive option, a 'connection' handler). */
const TOUCHED = 1;

export type Protected = net.Socket & {
  [kPolicy]?: CompiledPolicy | typeof CONNECTING | typeof TOUCHED;
  [kExplicit]?: KernelRequest | false;
  _host?: string;
};

/** Live protected sockets: what sockets() lists. */
export const live = new Set<Protected>();

/** protect() calls still in force; the latest decides for new sockets. */
const active: CompiledProtection[] = [];
let uninstall: (() => void) | null = null;

/** The policy, then what the application itself set through this package on top. */
function enforce(socket: Protected, policy: CompiledPolicy): void {
  applyRequest(socket, policy.request);
  const explicit = socket[kExplicit];
  if (explicit !== undefined) applyRequest(socket, explicit);
}

/** Only rules need the addresses: each is a getpeername or getsockname system call. */
function matchRules(socket: Protected, protection: CompiledProtection, direction: Direction) {
  const addresses = [socket.remoteAddress, socket._host].filter((a): a is string => typeof a === 'string');
  return policyFor(protection, direction, addresses, servicePort(socket.remotePort, socket.localPort, direction));
}

function decide(socket: Protected, direction: Direction): void {
  const protection = active[active.length - 1];
  if (protection === undefined || socket.destroyed) return;
  if (isUnixDomain(socket)) {
    countUnprotected('unix');
    return;
  }
  const { policy, byRule } = protection.rules.length === 0 ? { policy: protection.base, byRule: false } : matchRules(socket, protection, direction);
  if (policy === null) {
    countUnprotected(byRule ? 'rule' : 'no-policy');
    return;
  }
  try {
    enforce(socket, policy);
  } catch {
    // The application's socket stays usable: the preload never breaks what it cannot protect.
    countUnprotected('error');
    return;
  }
  track(socket, policy);
}

function track(socket: Protected, policy: CompiledPolicy): void {
  socket[kPolicy] = policy;
  if (!live.has(socket)) {
    live.add(socket);
    countProtected();
  }
}

// Linux copies a listening socket's SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
// TCP_KEEPCNT and TCP_USER_TIMEOUT to every socket it accepts (the accepted
// socket is a clone of the listener's). So when no rule tells one listener's
// sockets apart, the policy goes on the listener once, at its first accepted
// socket, and the others arrive with it: no system call per accepted socket.
const LISTENERS_PASS_ON_OPTIONS = process.platform === 'linux';
const kCarried = Symbol('tcp-keepalive.listener-policy');

type Listener = net.Server & {
  [kCarried]?: { protection: CompiledProtection; policy: CompiledPolicy | null; byRule: boolean };
  _handle?: { fd?: number } | null;
};
/** Listeners that carry a policy, to take it off again at unprotect(). */
const carriers = new Set<Listener>();

function listenerFd(server: Listener | undefined): number {
  const fd = server?._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

function onAccepted(socket: Protected): void {
  const protection = active[active.length - 1];
  const server = (socket as net.Socket & { server?: Listener }).server;
  const fd = listenerFd(server);
  if (!LISTENERS_PASS_ON_OPTIONS || protection === undefined || protection.serverRulesByHost || fd < 0 || isUnixDomain(socket)) {
    decide(socket, 'server');
    return;
  }
  const carried = server![kCarried];
  // Node's own setKeepAlive() on this socket already changed what it inherited.
  if (carried?.protection !== protection || socket[kPolicy] === TOUCHED || socket[kExplicit] !== undefined) {
    // This socket was accepted before the listener carried the policy: it gets its own.
    decide(socket, 'server');
    if (carried?.protection !== protection) carryPolicy(server!, fd, protection, (server!.address() as net.AddressInfo).port);
    return;
  }
  if (carried.policy === null) countUnprotected(carried.byRule ? 'rule' : 'no-policy');
  else track(socket, carried.policy);
}

function carryPolicy(server: Listener, fd: number, protection: CompiledProtection, port: number): void {
  const { policy, byRule } = protection.rules.length === 0 ? { policy: protection.base, byRule: false } : policyFor(protection, 'server', [], port);
  try {
    if (policy) applyRequest(fd, policy.request);
    else if (server[kCarried]?.policy) dropCarried(fd);
  } catch {
    return; // then each accepted socket gets its own, as on other platforms
  }
  server[kCarried] = { protection, policy, byRule };
  if (!carriers.has(server)) {
    carriers.add(server);
    server.once('close', () => carriers.delete(server));
  }
}

/** Keepalive off and no user timeout: what accepted sockets inherit once no policy is carried. */
function dropCarried(fd: number): void {
  binding.setKeepAlive(fd, false, -1, -1, -1, 0);
}

function onClientConnect(this: Protected): void {
  this[kPolicy] = undefined;
  decide(this, 'client');
}

function reachClient(socket: Protected): void {
  // A socket reused for reconnects is reached again: one listener at a time.
  if (socket[kPolicy] === CONNECTING) return;
  if (typeof socket[kPolicy] === 'object') {
    live.delete(socket);
    countClosed();
  }
  socket[kPolicy] = CONNECTING;
  // Prepended: the policy is in force before the application's 'connect' callbacks run.
  socket.prependOnceListener('connect', onClientConnect);
}

function silence(fd: number): number | null {
  if (fd < 0) return null;
  try {
    return binding.tcpInfo(fd).lastDataRecvMs;
  } catch {
    return null;
  }
}

/**
 * The peer of a dead socket. Node's remoteAddress asks getpeername(), which
 * a reset or timed-out socket refuses, unless something read it before (Node
 * caches it); no copy is kept per socket, SO_PEERNAME still tells.
 */
function peerOf(socket: net.Socket, fd: number): { address: string | undefined; port: number | undefined } {
  const cached = (socket as net.Socket & { _peername?: { address?: string; port?: number } })._peername;
  if (cached?.address !== undefined) return { address: cached.address, port: cached.port };
  const peer = fd < 0 ? null : binding.peerName(fd);
  return peer ? { address: peer[0], port: peer[1] } : { address: socket.remoteAddress, port: socket.remotePort };
}

function onDestroy(socket: Protected, error: Error | null): void {
  const policy = socket[kPolicy];
  if (typeof policy !== 'object') return;
  socket[kPolicy] = undefined;
  live.delete(socket);
  countClosed();
  if (error === null) return;
  const fd = handleFd(socket);
  const silentMs = silence(fd);
  const cause = causeOf(error, silentMs, policy.idleMs);
  if (cause === null) return;
  reportDeath(() => {
    const peer = peerOf(socket, fd);
    return {
      socket,
      cause,
      error,
      remoteAddress: peer.address,
      remotePort: peer.port,
      // getsockname still answers for a dead socket
      localPort: socket.localPort,
      budgetMs: policy.budgetMs,
      silentMs,
    };
  }, cause);
}

function onNodeSetKeepAlive(socket: Protected): void {
  const policy = socket[kPolicy];
  if (policy === undefined && !socket.connecting) {
    socket[kPolicy] = TOUCHED;
    return;
  }
  // While connecting Node only records the call; the policy follows it at 'connect'.
  if (typeof policy !== 'object' || socket.connecting || socket.destroyed) return;
  try {
    enforce(socket, policy);
  } catch {
    // the socket is closing under us: nothing left to protect
  }
}

const hooks = {
  client: reachClient,
  server: onAccepted,
  afterSetKeepAlive: onNodeSetKeepAlive,
  beforeDestroy: onDestroy,
};

/**
 * Applies a keepalive policy to every TCP socket this process creates or
 * accepts from now on, and keeps it in force when a driver calls Node's
 * socket.setKeepAlive() itself. Values this package's own setKeepAlive()
 * sets on a socket stay on top of the policy. Returns unprotect(): new
 * sockets are then left alone and the ones protected so far are no longer
 * re-applied or listed (their kernel values stay).
 *
 * @throws TypeError / RangeError naming the field (`options.rules[0].port`)
 *   for bad options; nothing is protected then.
 * @example
 * ```js
 * const unprotect = protect({
 *   within: 30_000, // or idle, interval, count, userTimeout in ms
 *   rules: [{ port: 9464, direction: 'server', keepalive: false }],
 * });
 * ```
 */
export function protect(options: ProtectOptions): () => void {
  const protection = compileProtection(options);
  active.push(protection);
  if (uninstall === null) {
    uninstall = install(hooks);
    rememberExplicitCalls(true);
  }
  let done = false;
  return function unprotect() {
    if (done) return;
    done = true;
    active.splice(active.lastIndexOf(protection), 1);
    const owned = new Set<CompiledPolicy | null>([protection.base, ...protection.rules.map((r) => r.policy || null)]);
    for (const socket of live) {
      const policy = socket[kPolicy];
      if (typeof policy === 'object' && owned.has(policy)) {
        socket[kPolicy] = undefined;
        live.delete(socket);
        countClosed();
      }
    }
    for (const server of carriers) {
      if (server[kCarried]?.protection !== protection) continue;
      const fd = listenerFd(server);
      if (fd >= 0 && server[kCarried].policy) dropCarried(fd);
      server[kCarried] = undefined;
      carriers.delete(server);
    }
    if (active.length === 0 && uninstall) {
      uninstall();
      uninstall = null;
      rememberExplicitCalls(false);
    }
  };
}
