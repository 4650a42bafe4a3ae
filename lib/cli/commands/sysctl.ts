// `tcp-keepalive sysctl`: the system-wide keepalive settings by their real
// names, and what they mean in time (read and described by lib/kernel/sysctl).
import { PLATFORMS, platformOf, settingValue } from '../../kernel/platform';
import { describe, readSystem, TCP_RTO_MIN_MS, type SysctlReport } from '../../kernel/sysctl';
import { color, humanDuration, parse, printJson, table, type Command } from '../common';

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

export function render(report: SysctlReport): string {
  const p = PLATFORMS[report.platform].settings;
  const where = report.namespace ? `, network namespace ${report.namespace}` : '';
  const rows = report.settings.map((s) => [
    s.name,
    s.changed ? color.yellow(String(s.value)) : String(s.value),
    s.unit,
    s.changed ? `${s.default} ${color.yellow('(changed)')}` : String(s.default),
  ]);
  const inSettingUnits = (ms: number) => `${settingValue(report.platform, ms)}`;
  const out = [
    color.bold(`TCP keepalive settings (${report.platform}${where})`),
    '',
    table(rows, [p.configFile ? 'sysctl' : 'setting', 'value', 'unit', 'kernel default']),
    '',
  ];
  if (!p.names.count) out.push(`The probe count is fixed at ${report.count} on this platform.`);
  const formula = p.names.count ? 'time + intvl x probes' : 'time + interval x count';
  out.push(
    `${color.bold('A dead idle peer is noticed after')} ${formula} = ` +
      `${inSettingUnits(report.idle)} + ${inSettingUnits(report.interval)} x ${report.count} = ` +
      `${seconds(report.detectAfter)} (${humanDuration(report.detectAfter)})`,
    `  on sockets with keepalive on; a socket without it ${color.red('never')} notices a dead idle peer.`,
  );
  if (report.dataInFlight) {
    const d = report.dataInFlight;
    out.push(
      `${color.bold('With data in flight')} keepalive is silent; the kernel gives up after about ` +
        `${seconds(d.giveUpAfter)} (${humanDuration(d.giveUpAfter)}) of retransmissions`,
      `  (tcp_retries2 = ${d.retries}: RTO doubling from ${TCP_RTO_MIN_MS} ms, capped at ${d.rtoMax} ms); ` +
        `a socket's userTimeout (TCP_USER_TIMEOUT) bounds it instead.`,
    );
  } else if (report.platform !== 'win32') {
    out.push(
      `${color.bold('With data in flight')} keepalive is silent; the kernel drops the connection after its own ` +
        `retransmission limit (TCP_MAXRXTSHIFT), which no sysctl sets: use a socket's userTimeout to bound it.`,
    );
  }
  if (report.platform === 'linux') {
    out.push(
      'These values are per network namespace: a container can see others. New sockets start with them;',
      "setKeepAlive() overrides them per socket. For values that meet a budget: 'tcp-keepalive plan --detect-within 30s'.",
    );
  } else {
    out.push("setKeepAlive() overrides these per socket. For values that meet a budget: 'tcp-keepalive plan --detect-within 30s'.");
  }
  return out.join('\n');
}

const USAGE = `Usage: tcp-keepalive [sysctl] [--json]

The system-wide TCP keepalive settings by their real names, their values and
the kernel defaults, and how long a dead peer goes unnoticed with them.

  --json   one JSON object; times (idle, interval, detectAfter, giveUpAfter) in ms
  -h, --help`;

export const command: Command = {
  summary: 'the keepalive sysctls and how long a dead peer goes unnoticed (default)',
  usage: USAGE,
  async run(argv) {
    const { values } = parse(argv, { json: { type: 'boolean' } });
    const platform = platformOf();
    const report = describe(platform, await readSystem(platform));
    if (values.json) printJson(report);
    else process.stdout.write(render(report) + '\n');
    return 0;
  },
};
