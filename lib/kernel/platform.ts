// What each platform accepts. Linux from include/net/tcp.h (MAX_TCP_KEEPIDLE,
// MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT) and do_tcp_setsockopt (TCP_USER_TIMEOUT
// takes a non-negative int of ms). On macOS and FreeBSD the bound is what a
// millisecond int32 carries; anything their kernel still refuses comes back as
// its EINVAL. Windows is reached through Node's setKeepAlive; its TCP_KEEPCNT
// takes at most 255 probes.

export interface Range {
  min: number;
  max: number;
}

export interface PlatformLimits {
  /** whole seconds */
  idle: Range;
  /** whole seconds */
  interval: Range;
  count: Range;
  /** milliseconds; null where the platform has no user timeout */
  userTimeout: Range | null;
  /** how the kernel calls the options, for messages and docs */
  names: { idle: string; userTimeout: string | null };
}

const INT32_MAX = 2 ** 31 - 1;
const SECONDS_IN_INT32_MS = Math.floor(INT32_MAX / 1000);

/** macOS and FreeBSD take the same ranges under their own option names. */
function bsd(names: PlatformLimits['names']): PlatformLimits {
  return {
    idle: { min: 1, max: SECONDS_IN_INT32_MS },
    interval: { min: 1, max: SECONDS_IN_INT32_MS },
    count: { min: 1, max: INT32_MAX },
    userTimeout: { min: 0, max: SECONDS_IN_INT32_MS * 1000 },
    names,
  };
}

const LIMITS: Record<string, PlatformLimits> = {
  linux: {
    idle: { min: 1, max: 32767 },
    interval: { min: 1, max: 32767 },
    count: { min: 1, max: 127 },
    userTimeout: { min: 0, max: INT32_MAX },
    names: { idle: 'TCP_KEEPIDLE', userTimeout: 'TCP_USER_TIMEOUT' },
  },
  darwin: bsd({ idle: 'TCP_KEEPALIVE', userTimeout: 'TCP_RXT_CONNDROPTIME' }),
  freebsd: bsd({ idle: 'TCP_KEEPIDLE', userTimeout: 'TCP_MAXUNACKTIME' }),
  win32: {
    idle: { min: 1, max: SECONDS_IN_INT32_MS },
    interval: { min: 1, max: SECONDS_IN_INT32_MS },
    count: { min: 1, max: 255 },
    userTimeout: null,
    names: { idle: 'SIO_KEEPALIVE_VALS', userTimeout: null },
  },
};

export function limitsFor(platform: string = process.platform): PlatformLimits {
  return LIMITS[platform] ?? LIMITS.linux;
}
