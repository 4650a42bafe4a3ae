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

export type Protected = net.Socket & {
  [kPolicy]?: CompiledPolicy | typeof CONNECTING;
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

function decide(socket: Protected, direction: Direction): void {
  const protection = active[active.length - 1];
  if (protection === undefined || socket.destroyed) return;
  if (isUnixDomain(socket)) {
    countUnprotected('unix');
    return;
  }
  const addresses = [socket.remoteAddress, socket._host].filter((a): a is string => typeof a === 'string');
  const { policy, byRule } = policyFor(protection, direction, addresses, servicePort(socket.remotePort, socket.localPort, direction));
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
  socket[kPolicy] = policy;
  if (!live.has(socket)) {
    live.add(socket);
    countProtected();
  }
}

function onClientConnect(this: Protected): void {
  if (this[kPolicy] === CONNECTING) this[kPolicy] = undefined;
  decide(this, 'client');
}

function reachClient(socket: Protected): void {
  // A socket reused for reconnects is reached again: one listener at a time.
  if (socket[kPolicy] === CONNECTING) return;
  if (socket[kPolicy] !== undefined) {
    live.delete(socket);
    countClosed();
  }
  socket[kPolicy] = CONNECTING;
  // Prepended: the policy is in force before the application's 'connect' callbacks run.
  socket.prependOnceListener('connect', onClientConnect);
}

function silence(socket: net.Socket): number | null {
  const fd = handleFd(socket);
  if (fd < 0) return null;
  try {
    return binding.tcpInfo(fd).lastDataRecvMs;
  } catch {
    return null;
  }
}

function onDestroy(socket: Protected, error: Error | null): void {
  const policy = socket[kPolicy];
  if (policy === undefined || policy === CONNECTING) return;
  socket[kPolicy] = undefined;
  live.delete(socket);
  countClosed();
  if (error === null) return;
  const silentMs = silence(socket);
  const cause = causeOf(error, silentMs, policy.idleMs);
  if (cause === null) return;
  reportDeath(
    () => ({
      socket,
      cause,
      error,
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      localPort: socket.localPort,
      budgetMs: policy.budgetMs,
      silentMs,
    }),
    cause,
  );
}

function onNodeSetKeepAlive(socket: Protected): void {
  const policy = socket[kPolicy];
  // While connecting Node only records the call; the policy follows it at 'connect'.
  if (policy === undefined || policy === CONNECTING || socket.connecting || socket.destroyed) return;
  try {
    enforce(socket, policy);
  } catch {
    // the socket is closing under us: nothing left to protect
  }
}

const hooks = {
  client: reachClient,
  server: (socket: net.Socket) => decide(socket, 'server'),
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
    if (active.length === 0 && uninstall) {
      uninstall();
      uninstall = null;
      rememberExplicitCalls(false);
    }
  };
}
