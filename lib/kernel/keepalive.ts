import type * as http from 'node:http';
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { binding, hasAddon, missingAddon, missingAddonRemedy } from '../native';
import { invalidType, invalidValue, outOfRange, unsupported } from '../errors';
import { limitsFor, nodeTakesIntervalAndCount, type PlatformLimits } from './platform';
import { resolveSocket, visibleFd, type SocketLike } from './socket';

/**
 * Kernel keepalive options for {@link setKeepAlive}, `applyToServer`,
 * `applyToAgent` and `protect()`. Times are in milliseconds; an option left
 * out keeps the socket's current value. A dead idle peer is noticed after
 * idle + interval × count.
 */
export interface KeepAliveOptions {
  /** ms of silence before the first probe (TCP_KEEPIDLE); rounded up to whole seconds, Linux 1 to 32 767 000 */
  idle?: number;
  /** ms between unanswered probes (TCP_KEEPINTVL); rounded up to whole seconds, Linux 1 to 32 767 000 */
  interval?: number;
  /** unanswered probes before the connection is dropped (TCP_KEEPCNT); Linux 1 to 127 */
  count?: number;
  /**
   * ms that sent data may stay unacknowledged before the connection is
   * dropped (TCP_USER_TIMEOUT); 0 restores the kernel's default; 'auto' is
   * idle + interval x count of the effective values.
   */
  userTimeout?: number | 'auto';
}

/** What the kernel holds for a socket, as read back or as set. Times in ms. */
export interface KeepAliveState {
  /** SO_KEEPALIVE: whether probes are sent at all */
  enabled: boolean;
  /** ms of silence before the first probe (whole seconds, in ms) */
  idle: number;
  /** ms between unanswered probes (whole seconds, in ms) */
  interval: number;
  /** unanswered probes before the connection is dropped */
  count: number;
  /** null where the platform has no such option */
  userTimeout: number | null;
}

/** The keepalive values a new socket starts with, system-wide (on Linux: per network namespace). Times in ms. */
export interface SystemDefaults {
  /** ms of silence before the first probe (Linux: net.ipv4.tcp_keepalive_time) */
  idle: number;
  /** ms between unanswered probes (Linux: net.ipv4.tcp_keepalive_intvl) */
  interval: number;
  /** unanswered probes before the connection is dropped (Linux: net.ipv4.tcp_keepalive_probes) */
  count: number;
  /** idle + interval x count: how long a dead idle peer goes unnoticed */
  detectAfter: number;
}

const FIELDS = ['idle', 'interval', 'count', 'userTimeout'] as const;
const LEAVE = -1;
/** This platform's ranges: looked up once, as every setKeepAlive() validates against them. */
const LIMITS = limitsFor();

/** Options as the kernel will take them, -1 for "leave as is". */
export interface KernelRequest {
  idleS: number;
  intervalS: number;
  count: number;
  userTimeoutMs: number | 'auto';
}

// Messages are built only on failure: this runs on every call.
function checkInteger(name: string, value: unknown, min: number, max: number, unit: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  const text = `an integer from ${min} to ${max}${unit}`;
  throw typeof value === 'number' ? outOfRange(name, text, value) : invalidType(name, text, value);
}

const ceilSeconds = (ms: number) => Math.ceil(ms / 1000);

function validate(options: unknown, limits: PlatformLimits): KernelRequest {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidType('options', 'an object with idle, interval, count or userTimeout, or false', options);
  }
  // Four comparisons of interned strings: a third of FIELDS.includes() per key.
  for (const key in options) {
    if (key !== 'idle' && key !== 'interval' && key !== 'count' && key !== 'userTimeout') {
      throw invalidValue(`options.${key}`, `is not a keepalive option; the options are ${FIELDS.join(', ')}`);
    }
  }
  const { idle, interval, count, userTimeout } = options as KeepAliveOptions;
  const request: KernelRequest = { idleS: LEAVE, intervalS: LEAVE, count: LEAVE, userTimeoutMs: LEAVE };
  if (idle !== undefined) request.idleS = ceilSeconds(checkInteger('options.idle', idle, 1, limits.idle.max * 1000, ' (ms)'));
  if (interval !== undefined) {
    request.intervalS = ceilSeconds(checkInteger('options.interval', interval, 1, limits.interval.max * 1000, ' (ms)'));
  }
  if (count !== undefined) request.count = checkInteger('options.count', count, limits.count.min, limits.count.max, '');
  if (userTimeout !== undefined) {
    if (!limits.userTimeout) throw unsupported(`options.userTimeout cannot be set on ${process.platform}: the platform has no such socket option`);
    request.userTimeoutMs =
      userTimeout === 'auto'
        ? 'auto'
        : checkInteger('options.userTimeout', userTimeout, limits.userTimeout.min, limits.userTimeout.max, " (ms) or 'auto'");
  }
  return request;
}

function toState([enabled, idleS, intervalS, count, userTimeoutMs]: [boolean, number, number, number, number]): KeepAliveState {
  return { enabled, idle: idleS * 1000, interval: intervalS * 1000, count, userTimeout: userTimeoutMs < 0 ? null : userTimeoutMs };
}

function applyToFd(fd: number, request: KernelRequest | false): KeepAliveState {
  if (request === false) {
    binding.setKeepAlive(fd, false, LEAVE, LEAVE, LEAVE, LEAVE);
    return toState(binding.getKeepAlive(fd));
  }
  let { idleS, intervalS, count, userTimeoutMs } = request;
  const complete = idleS !== LEAVE && intervalS !== LEAVE && count !== LEAVE;
  if (userTimeoutMs === 'auto') {
    if (!complete) {
      // 'auto' is computed from what will be in force, so fill the gaps first.
      const [, curIdle, curInterval, curCount] = binding.getKeepAlive(fd);
      if (idleS === LEAVE) idleS = curIdle;
      if (intervalS === LEAVE) intervalS = curInterval;
      if (count === LEAVE) count = curCount;
    }
    // Past the kernel's bound (idle and interval near their maxima) the
    // bound itself is the closest the kernel can do: about 24.8 days.
    userTimeoutMs = Math.min((idleS + intervalS * count) * 1000, LIMITS.userTimeout!.max);
  }
  binding.setKeepAlive(fd, true, idleS, intervalS, count, userTimeoutMs);
  // With all four set there is nothing left to learn from the kernel.
  if (idleS !== LEAVE && intervalS !== LEAVE && count !== LEAVE && userTimeoutMs !== LEAVE) {
    return { enabled: true, idle: idleS * 1000, interval: intervalS * 1000, count, userTimeout: userTimeoutMs };
  }
  return toState(binding.getKeepAlive(fd));
}

/** What this package put in force through Node's API, per socket: without the addon nothing reads the kernel back. */
const kThroughNode = Symbol('tcp-keepalive.throughNode');
type Held = Pick<KeepAliveState, 'idle' | 'interval' | 'count'>;
type HoldingSocket = net.Socket & { [kThroughNode]?: Held };

/**
 * Interval and count after Node's idle-only setKeepAlive(true, idle), read
 * from libuv's uv__tcp_keepalive: it sets 1 s and 10 probes with the idle
 * time wherever the platform has TCP_KEEPINTVL and TCP_KEEPCNT (Linux and
 * FreeBSD; macOS from libuv 1.47, i.e. Node 22), and leaves them alone on
 * older macOS and on Windows (the registry's interval, 10 probes fixed).
 * Measured on Linux with the addon's getKeepAlive: Node 20.20 (libuv 1.46),
 * 22.23 (1.51), 24.22 and 26.12 (1.52) all leave 1 s and 10.
 */
export function afterIdleOnly(kept: Held, platform: string = process.platform, uv: string = process.versions.uv ?? '0.0'): Pick<Held, 'interval' | 'count'> {
  const [major, minor] = uv.split('.').map(Number);
  const leavesThem = platform === 'win32' || (platform === 'darwin' && major === 1 && minor < 47);
  return leavesThem ? { interval: kept.interval, count: kept.count } : { interval: 1000, count: 10 };
}

/**
 * Through Node's own setKeepAlive: on Windows (no socket handle) and where
 * the addon is missing. Node 24.19+/26.4+ take interval and count, older ones
 * only the idle delay. Node cannot read the kernel back, so what is returned
 * is what this package put in force on the socket, and options left out
 * keep the values it put there before (the system's on a fresh socket):
 * Node 24/26 would otherwise reset them to libuv's 1 s and 10.
 */
export function applyThroughNode(
  socket: net.Socket,
  request: KernelRequest | false,
  takesIntervalAndCount = nodeTakesIntervalAndCount(),
): KeepAliveState {
  const held = socket as HoldingSocket;
  const kept = (): Held => held[kThroughNode] ?? (({ idle, interval, count }) => ({ idle, interval, count }))(systemDefaults());
  if (request === false) {
    socket.setKeepAlive(false);
    return { enabled: false, ...kept(), userTimeout: null };
  }
  // Only reachable where the platform has the option but the addon is missing.
  if (request.userTimeoutMs !== LEAVE) throw missingAddon('options.userTimeout');
  if (!takesIntervalAndCount && (request.intervalS !== LEAVE || request.count !== LEAVE)) {
    throw unsupported(
      `This Node.js (${process.version}) sets only the idle delay on a ${process.platform} socket; interval and count need Node 24.19+ or 26.4+` +
        (process.platform === 'win32' ? '' : `, or the native addon. ${missingAddonRemedy()}`),
    );
  }
  const before = kept();
  const idle = request.idleS === LEAVE ? before.idle : request.idleS * 1000;
  let interval = request.intervalS === LEAVE ? before.interval : request.intervalS * 1000;
  let count = request.count === LEAVE ? before.count : request.count;
  if (takesIntervalAndCount) {
    (socket.setKeepAlive as (enable: boolean, idle: number, interval?: number, count?: number) => net.Socket)(true, idle, interval, count);
  } else {
    socket.setKeepAlive(true, idle);
    ({ interval, count } = afterIdleOnly(before));
  }
  held[kThroughNode] = { idle, interval, count };
  return { enabled: true, idle, interval, count, userTimeout: null };
}

const kPending = Symbol('tcp-keepalive.pending');
/** What this package's setKeepAlive() set on the socket, merged; protect() re-applies it over its policy. */
export const kExplicit = Symbol('tcp-keepalive.explicit');

type Deferring = (net.Socket | http.ClientRequest) & { [kPending]?: KernelRequest | false };

/** Later values win field by field, as two calls on a connected socket would leave them. */
export function mergeRequests(earlier: KernelRequest | false, later: KernelRequest | false): KernelRequest | false {
  if (earlier === false || later === false) return later;
  const pick = <T>(a: T, b: T) => (b === LEAVE ? a : b);
  return {
    idleS: pick(earlier.idleS, later.idleS),
    intervalS: pick(earlier.intervalS, later.intervalS),
    count: pick(earlier.count, later.count),
    userTimeoutMs: pick(earlier.userTimeoutMs, later.userTimeoutMs),
  };
}

function applyPending(emitter: Deferring, socket: net.Socket): void {
  const request = emitter[kPending]!;
  emitter[kPending] = undefined;
  try {
    apply(socket, request);
  } catch (error) {
    // A connection works without keepalive: one the runtime gives no fd for
    // is said so, not destroyed. Other failures (the options refused) are
    // the caller's to see, as the error of the socket.
    if ((error as { code?: string }).code === 'ERR_TCP_KEEPALIVE_NO_FD') process.emitWarning(error as Error);
    else emitter.destroy(error as Error);
  }
}
function applyPendingOnConnect(this: net.Socket): void {
  applyPending(this, this);
}
function applyPendingOnSocket(this: http.ClientRequest, socket: net.Socket): void {
  applyPending(this, socket);
}

/**
 * Holds the options until the socket connects. Prepended, so they are in
 * force when the user's own 'connect' callback runs (after Node's pending
 * setKeepAlive, which it applies before emitting). One listener and one
 * merged request however often the socket is configured meanwhile: a socket
 * reused for reconnects keeps both across failed attempts.
 */
function deferUntilReady(emitter: Deferring, ready: 'connect' | 'socket', request: KernelRequest | false): void {
  const pending = emitter[kPending];
  emitter[kPending] = pending === undefined ? request : mergeRequests(pending, request);
  if (pending === undefined) {
    if (ready === 'connect') (emitter as net.Socket).prependOnceListener('connect', applyPendingOnConnect);
    else (emitter as http.ClientRequest).prependOnceListener('socket', applyPendingOnSocket);
  }
}

function apply(target: SocketLike, request: KernelRequest | false): KeepAliveState | null {
  // The common case without the case analysis of resolveSocket(): a
  // connected socket whose fd Node shows (every call pays for this path).
  if (target instanceof net.Socket && !target.destroyed && !target.connecting) {
    const fd = visibleFd(target);
    if (fd >= 0 && hasAddon()) return applyToFd(fd, request);
  }
  const resolved = resolveSocket(target);
  switch (resolved.kind) {
    case 'fd':
      // Without the addon a socket still gets what Node's own setKeepAlive sets.
      if (resolved.socket !== undefined && !hasAddon()) return applyThroughNode(resolved.socket, request);
      return applyToFd(resolved.fd, request);
    case 'handle-only':
      return applyThroughNode(resolved.socket, request);
    case 'pending':
      deferUntilReady(resolved.emitter, resolved.ready, request);
      return null;
  }
}

let rememberingExplicit = false;
/** protect() turns this on: it needs to know what the application set itself. */
export function rememberExplicitCalls(on: boolean): void {
  rememberingExplicit = on;
}

function rememberExplicit(target: SocketLike, request: KernelRequest | false): void {
  const socket = target instanceof net.Socket ? target : (target as { socket?: unknown }).socket;
  if (!(socket instanceof net.Socket)) return;
  const held = socket as net.Socket & { [kExplicit]?: KernelRequest | false };
  held[kExplicit] = held[kExplicit] === undefined ? request : mergeRequests(held[kExplicit], request);
}

/** Validates options once, for callers that apply them to many sockets. */
export function toRequest(options: KeepAliveOptions | boolean): KernelRequest | false {
  return options === false ? false : validate(options === true ? {} : options, LIMITS);
}

/** Applies options that toRequest() already validated. */
export { apply as applyRequest };

/**
 * Turns keepalive on and sets each option given, or turns it off with
 * `false` (`true`: on, keeping the current values). An option left out keeps
 * the socket's current value. Times are in ms; the kernel takes whole
 * seconds, so idle and interval are rounded up (never to 0).
 *
 * @param socket - a `net.Socket`, `tls.TLSSocket`, an http request or
 *   response (its socket is used), or a raw fd number.
 * @returns what the kernel now holds, or `null` when the socket is still
 *   connecting: the options were validated now and are applied when it
 *   connects; a failure then destroys the socket with the error, except
 *   `ERR_TCP_KEEPALIVE_NO_FD` (no fd to be had), which is emitted as a
 *   process warning and leaves the socket working.
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` for an
 *   option of the wrong type or an unknown option; RangeError
 *   `ERR_OUT_OF_RANGE` naming the option and its range; `ERR_SOCKET_CLOSED`
 *   for a destroyed socket; `ERR_TCP_KEEPALIVE_NO_FD` when the socket has no
 *   reachable fd; `ERR_TCP_KEEPALIVE_UNSUPPORTED` for what this platform or
 *   Node cannot do; a system error (`code`, `errno`, `syscall`) from
 *   setsockopt. A rejected call changes nothing.
 * @example
 * ```js
 * const socket = net.connect(5672, 'broker.internal');
 * setKeepAlive(socket, { idle: 10_000, interval: 5_000, count: 3, userTimeout: 'auto' });
 * // a dead peer ends the socket with ETIMEDOUT after at most 10 + 5 × 3 = 25 s
 * ```
 */
export function setKeepAlive(socket: SocketLike, options: KeepAliveOptions | boolean = {}): KeepAliveState | null {
  const request = toRequest(options);
  const state = apply(socket, request);
  if (rememberingExplicit && typeof socket === 'object') rememberExplicit(socket, request);
  return state;
}

/**
 * What the kernel holds for this socket, read with getsockopt. Times in ms.
 *
 * @throws `ERR_TCP_KEEPALIVE_UNSUPPORTED` while the socket is still
 *   connecting (read it after `'connect'`), where Node gives no socket handle
 *   (Windows) or without the native addon; `ERR_SOCKET_CLOSED` for a
 *   destroyed socket; a system error (`code`, `errno`, `syscall`) from
 *   getsockopt.
 */
export function getKeepAlive(socket: SocketLike): KeepAliveState {
  const resolved = resolveSocket(socket);
  if (resolved.kind === 'fd') return toState(binding.getKeepAlive(resolved.fd));
  if (resolved.kind === 'pending') {
    throw unsupported('The socket is still connecting: its keepalive options can be read once it has connected');
  }
  throw unsupported(`Node.js on ${process.platform} gives no socket handle, so keepalive options cannot be read back`);
}

/**
 * The keepalive values a new socket starts with, in ms, with `detectAfter`
 * = idle + interval × count. Linux reads /proc/sys/net/ipv4/tcp_keepalive_*
 * of the calling process's network namespace; macOS and FreeBSD the
 * net.inet.tcp.keep* sysctls; Windows its registry (count fixed at 10).
 */
export function systemDefaults(): SystemDefaults {
  const [idleS, intervalS, count] = hasAddon() ? binding.systemDefaults() : systemDefaultsWithoutAddon();
  return { idle: idleS * 1000, interval: intervalS * 1000, count, detectAfter: (idleS + intervalS * count) * 1000 };
}

/** The command's output; node:child_process is loaded only here, off Linux (some 240 KiB of heap the preload would keep otherwise). */
function commandOutput(command: string, args: string[]): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/**
 * [idleS, intervalS, count] read without the addon: /proc on Linux, the
 * sysctl command on macOS and FreeBSD (values in ms there), the registry
 * through reg.exe on Windows; elsewhere the addon is the only reader.
 */
function systemDefaultsWithoutAddon(): [number, number, number] {
  if (process.platform === 'linux') {
    const read = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/tcp_keepalive_${name}`, 'utf8'));
    return [read('time'), read('intvl'), read('probes')];
  }
  if (process.platform === 'darwin' || process.platform === 'freebsd') {
    const names = ['net.inet.tcp.keepidle', 'net.inet.tcp.keepintvl', 'net.inet.tcp.keepcnt'];
    const [idleMs, intervalMs, count] = commandOutput('sysctl', ['-n', ...names]).trim().split(/\s+/).map(Number);
    return [ceilSeconds(idleMs), ceilSeconds(intervalMs), count];
  }
  if (process.platform === 'win32') return (windowsDefaults ??= readWindowsRegistry());
  throw missingAddon('systemDefaults()');
}

// Two reg.exe runs cost tens of ms, and setKeepAlive without the addon needs
// the defaults for every socket: read once per process.
let windowsDefaults: [number, number, number] | undefined;

/**
 * KeepAliveTime and KeepAliveInterval are optional registry values (ms);
 * absent, Windows uses 2 h and 1 s. The probe count is fixed at 10 since
 * Vista. The same reading as src/system_win.cc.
 */
function readWindowsRegistry(): [number, number, number] {
  const registryMs = (name: string, fallback: number): number => {
    try {
      const out = commandOutput('reg', ['query', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters', '/v', name]);
      const match = /REG_DWORD\s+0x([0-9a-f]+)/i.exec(out);
      return match ? parseInt(match[1], 16) : fallback;
    } catch {
      // reg.exe exits 1 when the value is absent.
      return fallback;
    }
  };
  return [ceilSeconds(registryMs('KeepAliveTime', 7_200_000)), ceilSeconds(registryMs('KeepAliveInterval', 1000)), 10];
}
