// protect(): one policy for every TCP socket of the process, held against
// the drivers' own setKeepAlive() calls, with a report when one dies.
//
// Per socket this keeps one property (the shared compiled policy, or a
// marker while a client connects) and, while it is protected, the two links
// of the list of live protected sockets; the listeners are shared functions.
import type * as net from 'node:net';
import { binding, hasAddon } from '../native';
import { applyRequest, kExplicit, rememberExplicitCalls, type KernelRequest } from '../kernel/keepalive';
import { handleFd, isUnixDomain } from '../kernel/socket';
import { causeOf, countClosed, countProtected, countUnprotected, reportDeath } from './events';
import { LiveSockets } from './live';
import { install, kPolicy } from './reach';
import { handlelessSockets } from './reach-runtimes';
import { compileProtection, policyFor, servicePort, type CompiledPolicy, type CompiledProtection, type Direction, type ProtectOptions } from './policy';

/** A client reached and waiting for its 'connect'. */
const CONNECTING = 0;
/** Node's setKeepAlive() ran on the socket before it was protected (a 'connection' handler; Node emits 'connection' before publishing the socket). */
const TOUCHED = 1;
/** Decided: left alone (Unix-domain, a rule, no policy, the kernel refused), unprotected, or handed to another process. */
const LEFT = 2;

export { kPolicy };
export type Protected = net.Socket & {
  [kPolicy]?: CompiledPolicy | typeof CONNECTING | typeof TOUCHED | typeof LEFT;
  [kExplicit]?: KernelRequest | false;
  _host?: string | null;
  _handle?: { constructor?: { name?: string } } | null;
  server?: Listener | null;
};

/** Live protected sockets: what sockets() lists. */
export const live = new LiveSockets<Protected>();

/** protect() calls still in force; the latest decides for new sockets. */
const active: CompiledProtection[] = [];
let uninstall: (() => void) | null = null;

/** The policy, then what the application itself set through this package on top. */
function enforce(socket: Protected, policy: CompiledPolicy): void {
  const fd = policy.native === null || socket.connecting ? -1 : handleFd(socket);
  if (fd >= 0) {
    // The common case, straight to the addon: what applyRequest would do after finding the fd.
    const [idleS, intervalS, count, userTimeoutMs] = policy.native!;
    binding.setKeepAlive(fd, true, idleS, intervalS, count, userTimeoutMs);
  } else applyRequest(socket, policy.request);
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
  socket[kPolicy] = LEFT;
  if (isUnixDomain(socket)) {
    countUnprotected('unix');
    return;
  }
  let policy = protection.base;
  let byRule = false;
  if (protection.rules.length > 0) ({ policy, byRule } = matchRules(socket, protection, direction));
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
  if (live.add(socket)) countProtected();
}

// Linux copies a listening socket's SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
// TCP_KEEPCNT and TCP_USER_TIMEOUT to each connection when its handshake
// completes (the new socket is a clone of the listener). So when no rule
// tells one listener's sockets apart, the policy goes on the listener once,
// right after listen(), and accepted sockets arrive with it: no system call
// per accepted socket. Connections that completed before (a listener that
// was already listening, or is given the policy only at its first accept)
// sit in the accept queue without it: the listener's TCP_INFO tells how many
// (tcpi_unacked of a listener is its accept queue), and those next accepted
// sockets get the policy each. Not carried: listeners shared with other
// processes (a cluster worker's, one made from a handle or fd), where
// another process may change what the listener passes on.
const LISTENERS_PASS_ON_OPTIONS = process.platform === 'linux';
const kCarried = Symbol('tcp-keepalive.listener-policy');
const kShared = Symbol('tcp-keepalive.listener-shared');
let clusterWorker: boolean | undefined;
/**
 * A cluster worker's listeners are the primary's socket, shared by every
 * worker (SCHED_NONE), or not in this process at all (SCHED_RR). Node
 * deletes NODE_UNIQUE_ID before the application runs, so the cluster module
 * answers; only a process with an IPC channel can be a worker.
 */
function inClusterWorker(): boolean {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  clusterWorker ??= process.channel !== undefined && (require('node:cluster') as typeof import('node:cluster').default).isWorker;
  return clusterWorker as boolean;
}

interface Carried {
  protection: CompiledProtection;
  policy: CompiledPolicy | null;
  byRule: boolean;
  /** connections accepted from now on that were queued before the listener had the policy */
  owed: number;
}

type Listener = net.Server & {
  [kCarried]?: Carried;
  [kShared]?: boolean;
  _handle?: { fd?: number } | null;
  keepAlive?: boolean;
};
/** Listeners that carry a policy, to take it off again at unprotect(). */
const carriers = new Set<Listener>();

function listenerFd(server: Listener | null | undefined): number {
  const fd = server?._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

function mayCarry(server: Listener, protection: CompiledProtection | undefined): protection is CompiledProtection {
  return LISTENERS_PASS_ON_OPTIONS && protection !== undefined && !protection.serverRulesByHost && !server[kShared] && hasAddon() && !inClusterWorker();
}

function onListenStart(server: Listener, existing: boolean): void {
  if (existing) server[kShared] = true;
}

function onListening(server: Listener): void {
  const protection = active[active.length - 1];
  const fd = listenerFd(server);
  if (fd >= 0 && mayCarry(server, protection) && server[kCarried]?.protection !== protection) carryPolicy(server, fd, protection);
}

function onAccepted(socket: Protected): void {
  const protection = active[active.length - 1];
  // Sent to another process in its 'connection' handler (Node emits 'connection' before publishing): not ours to hold.
  if (socket._handle === null && !handlelessSockets) {
    socket[kPolicy] = LEFT;
    return;
  }
  const server = socket.server;
  const carried = server?.[kCarried];
  // The common case: the listener passes this protection's policy on. Only
  // a TCP listener can (carryPolicy reads its TCP_INFO), so the socket is TCP.
  if (carried !== undefined && carried.protection === protection) {
    inherit(socket, server!, carried);
    return;
  }
  const fd = listenerFd(server);
  // Accepted before its listener had the policy: cloned without it, so it gets its own.
  if (fd >= 0 && mayCarry(server!, protection) && !isUnixDomain(socket)) carryPolicy(server!, fd, protection);
  decide(socket, 'server');
}

/** An accepted socket whose listener carries the policy: it holds it already, unless something changed it. */
function inherit(socket: Protected, server: Listener, carried: Carried): void {
  if (
    carried.owed > 0 ||
    // Node's own setKeepAlive() already changed what the socket inherited:
    // the server's keepAlive option, or a 'connection' handler (Node emits 'connection' first).
    server.keepAlive ||
    socket[kPolicy] === TOUCHED ||
    socket[kExplicit] !== undefined
  ) {
    if (carried.owed > 0) carried.owed--;
    decide(socket, 'server');
    return;
  }
  if (carried.policy === null) {
    socket[kPolicy] = LEFT;
    countUnprotected(carried.byRule ? 'rule' : 'no-policy');
  } else track(socket, carried.policy);
}

function carryPolicy(server: Listener, fd: number, protection: CompiledProtection): Carried | undefined {
  const port = (server.address() as net.AddressInfo | null)?.port;
  const { policy, byRule } = protection.rules.length === 0 ? { policy: protection.base, byRule: false } : policyFor(protection, 'server', [], port);
  let owed: number;
  try {
    if (policy) applyRequest(fd, policy.request);
    else if (server[kCarried]?.policy) dropCarried(fd);
    // Read after the change: whatever is queued now was cloned before it.
    owed = binding.tcpInfo(fd).unacked ?? Infinity;
  } catch {
    return undefined; // then each accepted socket gets its own, as on other platforms
  }
  const carried: Carried = { protection, policy, byRule, owed };
  server[kCarried] = carried;
  if (!carriers.has(server)) {
    carriers.add(server);
    // A server listening again has a new listening socket, without the policy.
    server.once('close', () => {
      carriers.delete(server);
      server[kCarried] = undefined;
    });
  }
  return carried;
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
  if (fd < 0 || !hasAddon()) return null;
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
  let peer: [string, number] | null = null;
  try {
    if (fd >= 0 && hasAddon()) peer = binding.peerName(fd);
  } catch {
    // the kernel has forgotten it too: report what Node knows
  }
  return peer ? { address: peer[0], port: peer[1] } : { address: socket.remoteAddress, port: socket.remotePort };
}

/** No longer listed or counted as live; the kernel keeps what it holds. */
function release(socket: Protected): void {
  socket[kPolicy] = LEFT;
  live.delete(socket);
  countClosed();
}

function onDestroy(socket: Protected, error: Error | null): void {
  const policy = socket[kPolicy];
  if (typeof policy !== 'object') return;
  release(socket);
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

/**
 * Sockets first seen inside their constructor: every accepted socket, and
 * those made from an fd or a received handle. Kept here rather than marked
 * on the socket: a property written there, before the constructor's last
 * ones, would give accepted sockets other hidden classes than client sockets
 * all through Node's stream code (and a larger property store each).
 */
const constructing: Protected[] = [];
/** A promise job, not queueMicrotask(): that one wraps each callback in an AsyncResource (always on Node 20, with AsyncLocalStorage in use on 24). */
const settled = Promise.resolve();

/**
 * Once the constructors are done: each socket the accept path did not reach
 * meanwhile. The one array is emptied, not replaced: a new array per batch
 * is an allocation site V8 may decide to allocate in the old generation,
 * and each dead array there would keep its batch of sockets alive through
 * every young-generation collection until the next full one.
 */
function adoptConstructed(): void {
  // Read the length each time: a socket constructed meanwhile joins this batch.
  for (let i = 0; i < constructing.length; i++) {
    const socket = constructing[i];
    if (socket[kPolicy] === undefined) onUnseen(socket, true);
  }
  constructing.length = 0;
}

/**
 * A socket with a handle protect() has not decided on: made from an fd or a
 * handle received over IPC, or one that existed before protect(). Such a
 * socket has no listener to match rules by: it counts as 'server' (sticky
 * sessions and socket activation hand over accepted sockets), unless it
 * connected to a host itself.
 */
function onUnseen(socket: Protected, constructed = false): void {
  // Bun never sets `server` on a socket, so once the constructor is known to
  // be done (adoptConstructed), undefined no longer means "still
  // constructing": deferring again would queue microtasks forever.
  if (socket.server === undefined && !constructed) {
    // Still in the Socket constructor. An accepted socket is published right
    // after it; the others are decided in a microtask, one per batch: it
    // runs before the event loop turns again. Not process.nextTick: a tick
    // queued from libuv's accept callback makes Node enter its JavaScript
    // tick loop once more per connection (docs/protect.md, "Cost").
    if (constructing.length === 0) void settled.then(adoptConstructed);
    constructing.push(socket);
    return;
  }
  if (socket.destroyed || active.length === 0) return;
  if (socket.connecting) {
    reachClient(socket);
    return;
  }
  // TLS and other wrappers: the TCP socket under them is the one protected.
  if (socket._handle?.constructor?.name !== 'TCP') {
    socket[kPolicy] = LEFT;
    return;
  }
  decide(socket, typeof socket._host === 'string' && socket.server === null ? 'client' : 'server');
}

function onHandedOff(socket: Protected): void {
  release(socket);
}

const hooks = {
  client: reachClient,
  server: onAccepted,
  afterSetKeepAlive: onNodeSetKeepAlive,
  beforeDestroy: onDestroy,
  unseen: onUnseen,
  handedOff: onHandedOff,
  listenStart: onListenStart,
  listening: onListening,
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
  // Without the addon each policy is what Node's own setKeepAlive() can set; the preload says so at start.
  const protection = compileProtection(options, !hasAddon());
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
      if (typeof policy === 'object' && owned.has(policy)) release(socket);
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
