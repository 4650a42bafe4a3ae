// One table of what each platform offers: the ranges its socket options take
// and the system-wide settings (sysctl or registry) a new socket starts with.
// The socket option names themselves live once, in the native sources that
// use them (src/keepalive_posix.cc).
//
// Ranges. Linux from include/net/tcp.h (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL,
// MAX_TCP_KEEPCNT) and do_tcp_setsockopt (TCP_USER_TIMEOUT takes a
// non-negative int of ms). On macOS and FreeBSD the bound is what a
// millisecond int32 carries; anything their kernel still refuses comes back as
// its EINVAL. Windows is reached through Node's setKeepAlive; its TCP_KEEPCNT
// takes at most 255 probes. idle and interval start at 1 s everywhere.
//
// Settings. Linux: include/net/tcp.h (TCP_KEEPALIVE_TIME, _INTVL, _PROBES).
// macOS and FreeBSD: netinet/tcp_timer.h (TCPTV_KEEP_IDLE, TCPTV_KEEPINTVL,
// TCPTV_KEEPCNT); their sysctls take milliseconds. Windows: the Tcpip
// registry values, the probe count fixed at 10 since Vista.
import * as net from 'node:net';
import { INT32_MAX } from '../time';

export type Platform = 'linux' | 'darwin' | 'freebsd' | 'win32';

export interface Range {
  min: number;
  max: number;
}

export interface PlatformLimits {
  /** whole seconds, from 1 */
  idle: { max: number };
  /** whole seconds, from 1 */
  interval: { max: number };
  count: Range;
  /** milliseconds; null where the platform has no user timeout */
  userTimeout: Range | null;
}

/** Where a platform keeps its keepalive defaults, and in which unit. */
export interface PlatformSettings {
  /** names of idle, interval and count; null where the count is fixed */
  names: { idle: string; interval: string; count: string | null };
  /** unit of idle and interval as the setting takes them */
  unit: 'seconds' | 'milliseconds';
  /** the kernel's own defaults: idle and interval in ms */
  defaults: { idle: number; interval: number; count: number };
  /** where an administrator puts a system-wide change, and how to apply it */
  configFile: string | null;
  apply: string | null;
}

export interface PlatformInfo {
  limits: PlatformLimits;
  settings: PlatformSettings;
}

const SECONDS_IN_INT32_MS = Math.floor(INT32_MAX / 1000);

/** macOS and FreeBSD share ranges, sysctl names, unit, defaults and file; they differ in how to apply it. */
function bsd(apply: string): PlatformInfo {
  return {
    limits: {
      idle: { max: SECONDS_IN_INT32_MS },
      interval: { max: SECONDS_IN_INT32_MS },
      count: { min: 1, max: INT32_MAX },
      userTimeout: { min: 0, max: SECONDS_IN_INT32_MS * 1000 },
    },
    settings: {
      names: { idle: 'net.inet.tcp.keepidle', interval: 'net.inet.tcp.keepintvl', count: 'net.inet.tcp.keepcnt' },
      unit: 'milliseconds',
      defaults: { idle: 7_200_000, interval: 75_000, count: 8 },
      configFile: '/etc/sysctl.conf',
      apply,
    },
  };
}

export const PLATFORMS: Record<Platform, PlatformInfo> = {
  linux: {
    limits: {
      idle: { max: 32767 },
      interval: { max: 32767 },
      count: { min: 1, max: 127 },
      userTimeout: { min: 0, max: INT32_MAX },
    },
    settings: {
      names: { idle: 'net.ipv4.tcp_keepalive_time', interval: 'net.ipv4.tcp_keepalive_intvl', count: 'net.ipv4.tcp_keepalive_probes' },
      unit: 'seconds',
      defaults: { idle: 7_200_000, interval: 75_000, count: 9 },
      configFile: '/etc/sysctl.d/60-tcp-keepalive.conf',
      apply: 'sudo sysctl --system',
    },
  },
  darwin: bsd('sudo sysctl -w <name>=<value> for each line (read at boot)'),
  freebsd: bsd('sudo service sysctl restart'),
  win32: {
    limits: {
      idle: { max: SECONDS_IN_INT32_MS },
      interval: { max: SECONDS_IN_INT32_MS },
      count: { min: 1, max: 255 },
      userTimeout: null,
    },
    settings: {
      names: {
        idle: 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\KeepAliveTime',
        interval: 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\\KeepAliveInterval',
        count: null,
      },
      unit: 'milliseconds',
      defaults: { idle: 7_200_000, interval: 1_000, count: 10 },
      configFile: null,
      apply: null,
    },
  },
};

/** The platform's own entry; Linux's for an unknown one (the closest to most). */
export function platformOf(name: string = process.platform): Platform {
  return name in PLATFORMS ? (name as Platform) : 'linux';
}

export function limitsFor(platform: string = process.platform): PlatformLimits {
  return PLATFORMS[platformOf(platform)].limits;
}

/** A setting as the system names it, in its own unit. */
export function settingValue(platform: Platform, ms: number): number {
  return PLATFORMS[platform].settings.unit === 'seconds' ? Math.ceil(ms / 1000) : ms;
}

/**
 * Whether this Node's socket.setKeepAlive takes interval and count
 * (24.19+, 26.4+), found by the method's arity rather than the version.
 */
export const nodeTakesIntervalAndCount = (): boolean => net.Socket.prototype.setKeepAlive.length >= 4;
