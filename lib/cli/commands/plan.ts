// `tcp-keepalive plan --detect-within <duration>`: keepalive values that
// notice a dead peer within a budget, as setKeepAlive() options and as
// system-wide settings.
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
import { limitsFor } from '../../kernel/platform';
import { color, humanDuration, parse, parseDuration, printJson, UsageError, type Command } from '../common';
import { PLATFORMS, platformOf, settingValue, type Platform } from './sysctl';

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
}

export function planFor(budget: number, platform: Platform = platformOf()): Plan {
  const limits = limitsFor(platform);
  const seconds = split(Math.floor(budget / 1000), Math.min(MAX_INTERVAL_S, limits.interval.max), limits.idle.max);
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
  const p = PLATFORMS[platform];
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
  return { platform, budget, kernel, fragile, heartbeat, sysctl };
}

const s = (ms: number) => `${ms / 1000} s`;
/** The budget as given: humanDuration would round 1500 ms to "2s". */
const budgetText = (ms: number) => (ms % 1000 === 0 ? humanDuration(ms) : `${ms} ms`);
/** " (2m 30s)" where a count of seconds is hard to read. */
const human = (ms: number) => (ms >= 60_000 ? ` (${humanDuration(ms)})` : '');

function snippet(k: KernelPlan): string {
  const userTimeout = k.userTimeout === null ? '' : `, userTimeout: ${k.userTimeout}`;
  return [
    "const { setKeepAlive } = require('tcp-keepalive');",
    `setKeepAlive(socket, { idle: ${k.idle}, interval: ${k.interval}, count: ${k.count}${userTimeout} });`,
  ].join('\n');
}

function heartbeatAdvice(plan: Plan): string[] {
  const h = plan.heartbeat;
  if (!h) return ['No timer can meet a budget this small.'];
  return [
    'Use the application-level heartbeat: it pings inside your protocol, with millisecond timers (README, section heartbeat):',
    "  const { keepAlive } = require('tcp-keepalive');",
    `  keepAlive(socket, { idle: ${h.idle}, interval: ${h.interval}, count: ${h.count}, fallback: 'auto', heartbeat: { framing: 'compact' } });`,
    `  // worst case ${h.detectAfter} ms; framing needs this package at both ends, else heartbeat: { ping: () => <your protocol's ping> }`,
  ];
}

export function render(plan: Plan): string {
  const out = [color.bold(`Plan: notice a dead peer within ${budgetText(plan.budget)} (${plan.platform})`), ''];
  const k = plan.kernel;
  if (!k) {
    out.push(
      color.yellow(`${budgetText(plan.budget)} is below what kernel keepalive can do:`) +
        ' it counts whole seconds, and its shortest cycle is 1 s idle + 1 probe x 1 s = 2 s.',
      ...heartbeatAdvice(plan),
    );
    return out.join('\n');
  }
  const unused = plan.budget - k.detectAfter;
  out.push(
    `  idle         ${s(k.idle).padEnd(9)} silence before the first probe; a healthy idle connection sees one probe per ${s(k.idle)}`,
    `  interval     ${s(k.interval).padEnd(9)} between unanswered probes`,
    `  count        ${String(k.count).padEnd(9)} unanswered probes before the connection is reset`,
  );
  if (k.userTimeout !== null) {
    out.push(`  userTimeout  ${s(k.userTimeout).padEnd(9)} data unacknowledged this long resets it too (keepalive is silent while data is in flight)`);
  }
  out.push(
    '',
    `${color.bold('Worst case:')} a peer that dies right after its last packet is noticed after ` +
      `idle + interval x count = ${k.idle / 1000} + ${k.interval / 1000} x ${k.count} = ${s(k.detectAfter)}${human(k.detectAfter)}.`,
  );
  if (unused >= 1000) {
    const maxIdle = limitsFor(plan.platform).idle.max * 1000;
    out.push(`  That is sooner than the budget: idle is capped at the kernel's maximum, ${s(maxIdle)}${human(maxIdle)}.`);
  } else if (unused > 0) {
    out.push(`  The kernel counts whole seconds, so the plan uses ${s(k.detectAfter)} of the ${plan.budget} ms budget.`);
  }
  out.push('  Kernel timers can fire a little late; leave some slack in a budget you must not exceed.');
  if (plan.fragile) {
    out.push(
      '',
      color.yellow(`Only ${k.count} probe${k.count === 1 ? '' : 's'} fit: losing ${k.count === 1 ? 'one probe' : 'two probes'} ends a healthy connection.`),
      ...heartbeatAdvice(plan),
    );
  }
  out.push('', color.bold('Per socket:'), snippet(k));
  if (plan.sysctl) {
    out.push(
      '',
      color.bold(`System-wide (${plan.sysctl.file}; apply: ${plan.sysctl.apply}):`),
      ...plan.sysctl.lines,
      'These change only sockets that turn keepalive on without their own values; there is no system-wide userTimeout.',
    );
  }
  return out.join('\n');
}

const USAGE = `Usage: tcp-keepalive plan --detect-within <duration> [--json]

Keepalive values that notice a dead peer within the budget without probing a
healthy idle connection more than needed: 3 probes taking about a third of
the budget (1 s to 75 s apart), idle the rest; userTimeout the same total.

  --detect-within <duration>  the budget, with a unit: 30s, 2m, 1500ms, 1h
  --json                      one JSON object; times in ms
  -h, --help`;

export const command: Command = {
  summary: 'idle, interval, count and userTimeout that notice a dead peer within a budget',
  usage: USAGE,
  run(argv) {
    const { values } = parse(argv, { 'detect-within': { type: 'string' }, json: { type: 'boolean' } });
    const within = values['detect-within'];
    if (typeof within !== 'string') throw new UsageError('--detect-within <duration> is required');
    const plan = planFor(parseDuration(within, '--detect-within'));
    if (values.json) printJson(plan);
    else process.stdout.write(render(plan) + '\n');
    return 0;
  },
};
