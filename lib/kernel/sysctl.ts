// The system-wide keepalive settings: read from this system (sysctl,
// /proc/sys, the registry through the addon) and described in time. Reading
// and describing are apart, so every platform's description can be tested
// with given values.
import { readFileSync, readlinkSync } from 'node:fs';
import { PLATFORMS, settingValue, type Platform } from './platform';

// Linux gives up on unacknowledged data once the time that tcp_retries2
// retransmissions would take has passed: RTO doubling from TCP_RTO_MIN
// (200 ms) and capped at the maximum RTO (net/ipv4/tcp_timer.c,
// tcp_model_timeout). The real RTO depends on the path; the model does not.
export const TCP_RTO_MIN_MS = 200;
export const TCP_RTO_MAX_MS = 120_000;

export function retransmissionTimeout(retries: number, rtoMaxMs = TCP_RTO_MAX_MS): number {
  const doublings = Math.floor(Math.log2(rtoMaxMs / TCP_RTO_MIN_MS));
  if (retries <= doublings) return (2 ** (retries + 1) - 1) * TCP_RTO_MIN_MS;
  return (2 ** (doublings + 1) - 1) * TCP_RTO_MIN_MS + (retries - doublings) * rtoMaxMs;
}

/** What was read from the system. Times in ms. */
export interface SystemValues {
  idle: number;
  interval: number;
  count: number;
  /** Linux only: net.ipv4.tcp_retries2 and net.ipv4.tcp_rto_max_ms (absent before 6.15) */
  retries2?: number;
  rtoMax?: number;
  /** e.g. net:[4026531840]; null where there are no namespaces or it cannot be read */
  namespace?: string | null;
}

export interface Setting {
  name: string;
  value: number;
  unit: string;
  default: number;
  changed: boolean;
}

export interface SysctlReport {
  platform: Platform;
  namespace: string | null;
  settings: Setting[];
  /** ms, as systemDefaults() gives them */
  idle: number;
  interval: number;
  count: number;
  /** idle + interval x count: a dead idle peer goes unnoticed this long (keepalive on) */
  detectAfter: number;
  /** Linux: when unacknowledged data makes the kernel give up; null elsewhere */
  dataInFlight: { retries: number; rtoMax: number; giveUpAfter: number } | null;
}

export function describe(platform: Platform, values: SystemValues): SysctlReport {
  const p = PLATFORMS[platform].settings;
  const timeUnit = p.unit === 'seconds' ? 's' : 'ms';
  const entry = (name: string, value: number, unit: string, byDefault: number): Setting => ({
    name,
    value,
    unit,
    default: byDefault,
    changed: value !== byDefault,
  });
  const settings = [
    entry(p.names.idle, settingValue(platform, values.idle), timeUnit, settingValue(platform, p.defaults.idle)),
    entry(p.names.interval, settingValue(platform, values.interval), timeUnit, settingValue(platform, p.defaults.interval)),
  ];
  if (p.names.count) settings.push(entry(p.names.count, values.count, 'probes', p.defaults.count));
  let dataInFlight: SysctlReport['dataInFlight'] = null;
  if (platform === 'linux' && values.retries2 !== undefined) {
    const rtoMax = values.rtoMax ?? TCP_RTO_MAX_MS;
    settings.push(entry('net.ipv4.tcp_retries2', values.retries2, 'retransmissions', 15));
    if (values.rtoMax !== undefined) settings.push(entry('net.ipv4.tcp_rto_max_ms', values.rtoMax, 'ms', TCP_RTO_MAX_MS));
    dataInFlight = { retries: values.retries2, rtoMax, giveUpAfter: retransmissionTimeout(values.retries2, rtoMax) };
  }
  return {
    platform,
    namespace: values.namespace ?? null,
    settings,
    idle: values.idle,
    interval: values.interval,
    count: values.count,
    detectAfter: values.idle + values.interval * values.count,
    dataInFlight,
  };
}

const readProcInt = (name: string) => Number(readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim());

function optionalProcInt(name: string): number | undefined {
  try {
    return readProcInt(name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** This process's network namespace, e.g. net:[4026531840]; null where there are none or it cannot be read. */
export function networkNamespace(pid: number | 'self' = 'self'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return null;
  }
}

/** Reads this system's values: the keepalive triple through the addon, the rest from /proc/sys. */
export async function readSystem(platform: Platform): Promise<SystemValues> {
  const { systemDefaults } = await import('./keepalive.js');
  const { idle, interval, count } = systemDefaults();
  if (platform !== 'linux') return { idle, interval, count };
  return {
    idle,
    interval,
    count,
    retries2: readProcInt('net.ipv4.tcp_retries2'),
    rtoMax: optionalProcInt('net.ipv4.tcp_rto_max_ms'),
    namespace: networkNamespace(),
  };
}
