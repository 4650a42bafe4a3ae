// `tcp-keepalive plan --detect-within <duration>`: the plan of lib/plan.ts,
// rendered for people or as JSON.
import { limitsFor } from '../../kernel/platform';
import { planFor, type KernelPlan, type Plan } from '../../plan';
import { color, humanDuration, parse, parseDuration, printJson, UsageError, type Command } from '../common';

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
    'Use the application-level heartbeat: it pings inside your protocol, with millisecond timers (docs/heartbeat.md):',
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
    const kernelMax = limitsFor(plan.platform).idle.max * 1000;
    out.push(
      k.idle < kernelMax
        ? `  That is sooner than the budget: idle is capped by --max-idle.`
        : `  That is sooner than the budget: idle is capped at the kernel's maximum, ${s(kernelMax)}${human(kernelMax)}.`,
    );
  } else if (unused > 0) {
    out.push(`  The kernel counts whole seconds, so the plan uses ${s(k.detectAfter)} of the ${plan.budget} ms budget.`);
  }
  out.push('  Kernel timers can fire a little late; leave some slack in a budget you must not exceed.');
  if (plan.middleboxes.length > 0) {
    const shortest = Math.min(...plan.middleboxes.map((m) => m.idleTimeout));
    out.push(
      '',
      color.yellow(`idle ${s(k.idle)} is longer than the idle timeout of:`),
      ...plan.middleboxes.map((m) => `  ${m.name}: ${humanDuration(m.idleTimeout)}`),
      `  Through one of them the connection is forgotten before the first probe. Cap idle below it: --max-idle ${humanDuration(shortest - 10_000).replace(/ /g, '')}`,
    );
  }
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

const USAGE = `Usage: tcp-keepalive plan --detect-within <duration> [--max-idle <duration>] [--json]

Keepalive values that notice a dead peer within the budget without probing a
healthy idle connection more than needed: 3 probes taking about a third of
the budget (1 s to 75 s apart), idle the rest; userTimeout the same total.

  --detect-within <duration>  the budget, with a unit: 30s, 2m, 1500ms, 1h
  --max-idle <duration>       never plan idle longer than this, e.g. 3m50s to stay
                              under a load balancer's 4 min idle timeout; the plan
                              warns when idle exceeds a common middlebox's timeout
  --json                      one JSON object; times in ms
  -h, --help`;

export const command: Command = {
  summary: 'idle, interval, count and userTimeout that notice a dead peer within a budget',
  usage: USAGE,
  run(argv) {
    const { values } = parse(argv, { 'detect-within': { type: 'string' }, 'max-idle': { type: 'string' }, json: { type: 'boolean' } });
    const within = values['detect-within'];
    if (typeof within !== 'string') throw new UsageError('--detect-within <duration> is required');
    const maxIdle = typeof values['max-idle'] === 'string' ? parseDuration(values['max-idle'], '--max-idle') : undefined;
    const plan = planFor(parseDuration(within, '--detect-within'), undefined, { maxIdle });
    if (values.json) printJson(plan);
    else process.stdout.write(render(plan) + '\n');
    return 0;
  },
};
