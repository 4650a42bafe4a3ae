import * as net from 'node:net';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { binding, hasAddon, missingAddon } from '../native';
import { invalidType, invalidValue, outOfRange, unsupported } from '../errors';
import { limitsFor, nodeTakesIntervalAndCount, type PlatformLimits } from './platform';
import { resolveSocket, type SocketLike } from './socket';

export interface KeepAliveOptions {
  /** ms of silence before the first probe; rounded up to whole seconds */
  idle?: number;
  /** ms between unanswered probes; rounded up to whole seconds */
  interval?: number;
  /** unanswered probes before the connection is dropped */
  count?: number;
  /**
   * ms that sent data may stay unacknowledged before the connection is
   * dropped (TCP_USER_TIMEOUT); 0 restores the kernel's default; 'auto' is
   * idle + interval x count of the effective values.
   */
  userTimeout?: number | 'auto';
}

/** What the kernel holds for a socket. Times in ms. */
export interface KeepAliveState {
  enabled: boolean;
  idle: number;
  interval: number;
  count: number;
  /** null where the platform has no such option */
  userTimeout: number | null;
}

export interface SystemDefaults {
  idle: number;
  interval: number;
  count: number;
  /** idle + interval x count: how long a dead idle peer goes unnoticed */
  detectAfter: number;
}

const FIELDS = ['idle', 'interval', 'count', 'userTimeout'] as const;
const LEAVE = -1;

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
  for (const key in options) {
    if (!(FIELDS as readonly string[]).includes(key)) {
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
    userTimeoutMs = Math.min((idleS + intervalS * count) * 1000, limitsFor().userTimeout!.max);
  }
  binding.setKeepAlive(fd, true, idleS, intervalS, count, userTimeoutMs);
  // With all four set there is nothing left to learn from the kernel.
  if (idleS !== LEAVE && intervalS !== LEAVE && count !== LEAVE && userTimeoutMs !== LEAVE) {
    return { enabled: true, idle: idleS * 1000, interval: intervalS * 1000, count, userTimeout: userTimeoutMs };
  }
  return toState(binding.getKeepAlive(fd));
}

/**
 * Node on Windows exposes no socket handle; Node 24.19+/26.4+ take interval
 * and count in setKeepAlive, older ones only the idle delay.
 */
export function applyThroughNode(
  socket: net.Socket,
  request: KernelRequest | false,
  takesIntervalAndCount = nodeTakesIntervalAndCount(),
): KeepAliveState {
  if (request === false) {
    socket.setKeepAlive(false);
    return { enabled: false, idle: 0, interval: 0, count: 0, userTimeout: null };
  }
  // Only reachable where the platform has the option but the addon is missing.
  if (request.userTimeoutMs !== LEAVE) throw missingAddon('options.userTimeout');
  const defaults = systemDefaults();
  if (!takesIntervalAndCount && (request.intervalS !== LEAVE || request.count !== LEAVE)) {
    throw unsupported(
      `This Node.js (${process.version}) sets only the idle delay on a ${process.platform} socket; interval and count need Node 24.19+ or 26.4+` +
        (process.platform === 'win32' ? '' : ', or the native addon (install python3, make and a C++ compiler, then run "npm rebuild tcp-keepalive")'),
    );
  }
  const idle = request.idleS === LEAVE ? defaults.idle : request.idleS * 1000;
  const interval = request.intervalS === LEAVE ? defaults.interval : request.intervalS * 1000;
  const count = request.count === LEAVE ? defaults.count : request.count;
  (socket.setKeepAlive as (enable: boolean, idle: number, interval?: number, count?: number) => net.Socket)(
    true,
    idle,
    takesIntervalAndCount ? interval : undefined,
    takesIntervalAndCount ? count : undefined,
  );
  return { enabled: true, idle, interval, count, userTimeout: null };
}

function apply(target: SocketLike, request: KernelRequest | false): KeepAliveState | null {
  const resolved = resolveSocket(target);
  switch (resolved.kind) {
    case 'fd':
      // Without the addon a socket still gets what Node's own setKeepAlive sets.
      if (resolved.socket !== undefined && !hasAddon()) return applyThroughNode(resolved.socket, request);
      return applyToFd(resolved.fd, request);
    case 'handle-only':
      return applyThroughNode(resolved.socket, request);
    case 'pending': {
      // Node applies its own pending setKeepAlive before 'connect' is emitted,
      // so running here keeps our values the ones in force.
      const { emitter, ready } = resolved;
      emitter.once(ready, (socket?: net.Socket) => {
        try {
          apply(ready === 'socket' ? socket! : (emitter as net.Socket), request);
        } catch (error) {
          emitter.destroy(error as Error);
        }
      });
      return null;
    }
  }
}

/** Validates options once, for callers that apply them to many sockets. */
export function toRequest(options: KeepAliveOptions | boolean): KernelRequest | false {
  return options === false ? false : validate(options === true ? {} : options, limitsFor());
}

/** Applies options that toRequest() already validated. */
export { apply as applyRequest };

/**
 * Turns keepalive on and sets each option given, or turns it off with
 * `false`. Returns what the kernel now holds, or null when the socket is
 * still connecting (the options are applied when it connects; a failure then
 * destroys the socket with the error).
 */
export function setKeepAlive(socket: SocketLike, options: KeepAliveOptions | boolean = {}): KeepAliveState | null {
  return apply(socket, toRequest(options));
}

/** What the kernel holds for this socket, read with getsockopt. */
export function getKeepAlive(socket: SocketLike): KeepAliveState {
  const resolved = resolveSocket(socket);
  if (resolved.kind === 'fd') return toState(binding.getKeepAlive(resolved.fd));
  if (resolved.kind === 'pending') {
    throw unsupported('The socket is still connecting: its keepalive options can be read once it has connected');
  }
  throw unsupported(`Node.js on ${process.platform} gives no socket handle, so keepalive options cannot be read back`);
}

/** The system-wide defaults a new socket starts with, in ms. */
export function systemDefaults(): SystemDefaults {
  const [idleS, intervalS, count] = hasAddon() ? binding.systemDefaults() : systemDefaultsWithoutAddon();
  return { idle: idleS * 1000, interval: intervalS * 1000, count, detectAfter: (idleS + intervalS * count) * 1000 };
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
    const [idleMs, intervalMs, count] = execFileSync('sysctl', ['-n', ...names], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
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
      const out = execFileSync('reg', ['query', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters', '/v', name], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      const match = /REG_DWORD\s+0x([0-9a-f]+)/i.exec(out);
      return match ? parseInt(match[1], 16) : fallback;
    } catch {
      // reg.exe exits 1 when the value is absent.
      return fallback;
    }
  };
  return [ceilSeconds(registryMs('KeepAliveTime', 7_200_000)), ceilSeconds(registryMs('KeepAliveInterval', 1000)), 10];
}
