// Keepalive values that notice a dead peer within a budget, as
// setKeepAlive() options and as system-wide settings (`tcp-keepalive plan`,
// and `within=` in TCP_KEEPALIVE).
//
// The heuristic, in the kernel's whole seconds:
// - count: 3 probes, so two lost probes in a row do not kill a healthy
//   connection (fewer only when the budget has no room for 3);
// - interval: the probes get about a third of the budget
//   (interval = floor(budget / (3 x count))), at least 1 s and at most 75 s,
//   the kernel's default: a wider gap between probes buys nothing;
// - idle: the rest of the budget, capped at the kernel's maximum. A healthy
//   idle connection is probed once per idle period, so the larger idle is,
//   the less a healthy connection is probed.
// Worst case: a peer that dies just after its last packet is noticed after
// idle + interval x count, which never exceeds the budget rounded down to
// whole seconds. userTimeout is set to the same total, so a peer that dies
// while data is in flight (when keepalive is silent) is noticed as fast.
import { limitsFor, PLATFORMS, platformOf, settingValue, type Platform } from './kernel/platform';

export const PROBES = 3;
/** the kernel's default interval; the cap for planned intervals, in seconds */
export const MAX_INTERVAL_S = 75;

/** idle, interval and count in one unit (seconds for the kernel, ms for a heartbeat). */
export interface Split {
  idle: number;
  interval: number;
  count: number;
}

/** Splits a budget of whole units; null when not even 1 idle + 1 probe x 1 fits. */
export function split(budget: number, maxInterval: number, maxIdle: number): Split | null {
  if (!(budget >= 2)) return null;
  const count = Math.min(PROBES, budget - 1);
  const interval = Math.max(1, Math.min(maxInterval, Math.floor(budget / (3 * count))));
  const idle = Math.min(maxIdle, budget - interval * count);
  return { idle, interval, count };
}

/** All times in ms, as setKeepAlive() takes them. */
export interface KernelPlan {
  idle: number;
  interval: number;
  count: number;
  /** null where the platform has no user timeout */
  userTimeout: number | null;
  /** idle + interval x count */
  detectAfter: number;
}

export interface HeartbeatPlan {
  idle: number;
  interval: number;
  count: number;
  detectAfter: number;
}

export interface Plan {
  platform: Platform;
  /** ms */
  budget: number;
  /** null when the budget is below what kernel keepalive can do */
  kernel: KernelPlan | null;
  /** fewer than 3 probes: one or two lost probes end a healthy connection */
  fragile: boolean;
  /** offered when the kernel cannot meet the budget or only fragilely */
  heartbeat: HeartbeatPlan | null;
  /** lines for the platform's sysctl file; null where there is none */
  sysctl: { file: string; apply: string; lines: string[] } | null;
  /** middleboxes whose idle timeout is shorter than the planned idle: they drop the connection before the first probe */
  middleboxes: Middlebox[];
}

export interface Middlebox {
  name: string;
  /** ms of silence after which it forgets a connection */
  idleTimeout: number;
}

/** Idle timeouts of common middleboxes, their defaults (ms), as docs/middleboxes.md's table lists them. */
export const MIDDLEBOXES: readonly Middlebox[] = [
  { name: 'Azure Load Balancer', idleTimeout: 240_000 },
  { name: 'AWS Network Load Balancer', idleTimeout: 350_000 },
  { name: 'Google Cloud VPC firewall connection tracking', idleTimeout: 600_000 },
];

export interface PlanOptions {
  /** ms; the planned idle never exceeds it (to stay under a middlebox's idle timeout) */
  maxIdle?: number;
}

export function planFor(budget: number, platform: Platform = platformOf(), options: PlanOptions = {}): Plan {
  const limits = limitsFor(platform);
  const maxIdleS = Math.min(limits.idle.max, options.maxIdle === undefined ? Infinity : Math.max(1, Math.floor(options.maxIdle / 1000)));
  const seconds = split(Math.floor(budget / 1000), Math.min(MAX_INTERVAL_S, limits.interval.max), maxIdleS);
  let kernel: KernelPlan | null = null;
  if (seconds) {
    const detectAfter = (seconds.idle + seconds.interval * seconds.count) * 1000;
    kernel = {
      idle: seconds.idle * 1000,
      interval: seconds.interval * 1000,
      count: seconds.count,
      userTimeout: limits.userTimeout ? detectAfter : null,
      detectAfter,
    };
  }
  const fragile = kernel !== null && kernel.count < PROBES;
  let heartbeat: HeartbeatPlan | null = null;
  if (!kernel || fragile) {
    const ms = split(budget, MAX_INTERVAL_S * 1000, Infinity);
    if (ms) heartbeat = { ...ms, detectAfter: ms.idle + ms.interval * ms.count };
  }
  const p = PLATFORMS[platform].settings;
  let sysctl: Plan['sysctl'] = null;
  if (kernel && p.configFile && p.apply && p.names.count) {
    sysctl = {
      file: p.configFile,
      apply: p.apply,
      lines: [
        `${p.names.idle} = ${settingValue(platform, kernel.idle)}`,
        `${p.names.interval} = ${settingValue(platform, kernel.interval)}`,
        `${p.names.count} = ${kernel.count}`,
      ],
    };
  }
  const middleboxes = kernel ? MIDDLEBOXES.filter((m) => kernel.idle > m.idleTimeout) : [];
  return { platform, budget, kernel, fragile, heartbeat, sysctl, middleboxes };
}
