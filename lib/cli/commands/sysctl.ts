// `tcp-keepalive sysctl`: the system-wide keepalive settings by their real
// names, and what they mean in time. Reading and describing are kept apart
// so the description of every platform can be tested with given values.
import { readFileSync, readlinkSync } from 'node:fs';
import { color, humanDuration, parse, printJson, table, type Command } from '../common';

export type Platform = 'linux' | 'darwin' | 'freebsd' | 'win32';

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

// Linux: include/net/tcp.h (TCP_KEEPALIVE_TIME, _INTVL, _PROBES). macOS and
// FreeBSD: netinet/tcp_timer.h (TCPTV_KEEP_IDLE, TCPTV_KEEPINTVL, TCPTV_KEEPCNT),
// their sysctls take milliseconds. Windows: the Tcpip registry values, the
// probe count fixed at 10 since Vista.
/** macOS and FreeBSD share the sysctl names, unit, defaults and file; they differ in how to apply it. */
const BSD: Omit<PlatformSettings, 'apply'> = {
  names: { idle: 'net.inet.tcp.keepidle', interval: 'net.inet.tcp.keepintvl', count: 'net.inet.tcp.keepcnt' },
  unit: 'milliseconds',
  defaults: { idle: 7_200_000, interval: 75_000, count: 8 },
  configFile: '/etc/sysctl.conf',
};

export const PLATFORMS: Record<Platform, PlatformSettings> = {
  linux: {
    names: { idle: 'net.ipv4.tcp_keepalive_time', interval: 'net.ipv4.tcp_keepalive_intvl', count: 'net.ipv4.tcp_keepalive_probes' },
    unit: 'seconds',
    defaults: { idle: 7_200_000, interval: 75_000, count: 9 },
    configFile: '/etc/sysctl.d/60-tcp-keepalive.conf',
    apply: 'sudo sysctl --system',
  },
  darwin: { ...BSD, apply: 'sudo sysctl -w <name>=<value> for each line (read at boot)' },
  freebsd: { ...BSD, apply: 'sudo service sysctl restart' },
  win32: {
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
};

export function platformOf(name: string = process.platform): Platform {
  return name in PLATFORMS ? (name as Platform) : 'linux';
}

/** A setting as the system names it, in its own unit. */
export function settingValue(platform: Platform, ms: number): number {
  return PLATFORMS[platform].unit === 'seconds' ? Math.ceil(ms / 1000) : ms;
}

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
  const p = PLATFORMS[platform];
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

const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

export function render(report: SysctlReport): string {
  const p = PLATFORMS[report.platform];
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

const readProcInt = (name: string) => Number(readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8').trim());

function optionalProcInt(name: string): number | undefined {
  try {
    return readProcInt(name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function currentNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/net');
  } catch {
    return null;
  }
}

/** Reads this system's values: the keepalive triple through the addon, the rest from /proc/sys. */
export async function readSystem(platform: Platform): Promise<SystemValues> {
  const { systemDefaults } = await import('../../kernel/keepalive.js');
  const { idle, interval, count } = systemDefaults();
  if (platform !== 'linux') return { idle, interval, count };
  return {
    idle,
    interval,
    count,
    retries2: readProcInt('net.ipv4.tcp_retries2'),
    rtoMax: optionalProcInt('net.ipv4.tcp_rto_max_ms'),
    namespace: currentNamespace(),
  };
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
