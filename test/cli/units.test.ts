// The arithmetic and formatting behind the `tcp-keepalive` command, with
// given values: plan's heuristic over every budget, and each platform's
// sysctl names and units (macOS and FreeBSD cannot be run here).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration, UsageError } from '../../lib/cli/common';
import { render as renderPlan } from '../../lib/cli/commands/plan';
import { render as renderSysctls } from '../../lib/cli/commands/sysctl';
import { parseProcNetTcp, decodeAddress } from '../../lib/cli/procfs';
import { describe as describeSysctls, retransmissionTimeout } from '../../lib/kernel/sysctl';
import { planFor, split } from '../../lib/plan';

const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');
const LINUX_MAX_IDLE_S = 32767;

describe('plan heuristic', () => {
  it('uses the whole budget, rounded down to seconds, with 3 probes taking about a third of it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4000, max: (LINUX_MAX_IDLE_S + 3 * 75) * 1000 }), (budget) => {
        const k = planFor(budget, 'linux').kernel!;
        const seconds = Math.floor(budget / 1000);
        expect(k.detectAfter).toBe(seconds * 1000);
        expect(k.idle + k.interval * k.count).toBe(k.detectAfter);
        expect(k.count).toBe(3);
        expect(k.interval).toBe(Math.max(1, Math.min(75, Math.floor(seconds / 9))) * 1000);
        for (const t of [k.idle, k.interval]) expect(t % 1000 === 0 && t >= 1000).toBe(true);
        // the idle wait, not probing, takes most of a budget: at least two thirds once probes are 1 s apart
        expect(k.idle).toBeGreaterThanOrEqual(seconds >= 9 ? (2 * seconds * 1000) / 3 : 1000);
        expect(k.userTimeout).toBe(k.detectAfter);
      }),
      { numRuns: 500 },
    );
  });

  it('never exceeds the budget, and caps idle at the kernel maximum for long budgets', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2000, max: 10 * 365 * 86_400_000 }), (budget) => {
        const k = planFor(budget, 'linux').kernel!;
        expect(k.detectAfter).toBeLessThanOrEqual(budget);
        expect(k.idle).toBeLessThanOrEqual(LINUX_MAX_IDLE_S * 1000);
      }),
    );
    expect(planFor(365 * 86_400_000, 'linux').kernel).toMatchObject({ idle: 32_767_000, interval: 75_000, count: 3 });
  });

  it('below 2 s the kernel cannot; the heartbeat plan fits the budget in ms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1999 }), (budget) => {
        const plan = planFor(budget, 'linux');
        expect(plan.kernel).toBeNull();
        expect(plan.sysctl).toBeNull();
        if (budget >= 2) expect(plan.heartbeat!.detectAfter).toBeLessThanOrEqual(budget);
        else expect(plan.heartbeat).toBeNull();
      }),
    );
    expect(planFor(1500, 'linux').heartbeat).toEqual({ idle: 1002, interval: 166, count: 3, detectAfter: 1500 });
  });

  it('the edges: 2 s gives 1 probe, 3 s two, 4 s three, each fragile below three', () => {
    expect(split(1, 75, LINUX_MAX_IDLE_S)).toBeNull();
    expect(split(2, 75, LINUX_MAX_IDLE_S)).toEqual({ idle: 1, interval: 1, count: 1 });
    expect(split(3, 75, LINUX_MAX_IDLE_S)).toEqual({ idle: 1, interval: 1, count: 2 });
    expect(split(4, 75, LINUX_MAX_IDLE_S)).toEqual({ idle: 1, interval: 1, count: 3 });
    expect(split(9, 75, LINUX_MAX_IDLE_S)).toEqual({ idle: 6, interval: 1, count: 3 });
    expect(split(18, 75, LINUX_MAX_IDLE_S)).toEqual({ idle: 12, interval: 2, count: 3 });
    expect(planFor(2999, 'linux').fragile).toBe(true);
    expect(planFor(4000, 'linux').fragile).toBe(false);
    expect(planFor(4000, 'linux').heartbeat).toBeNull();
  });

  it('prints macOS and FreeBSD settings in their unit (ms) for /etc/sysctl.conf; Windows has neither file nor userTimeout', () => {
    for (const platform of ['darwin', 'freebsd'] as const) {
      const plan = planFor(30_000, platform);
      expect(plan.sysctl).toMatchObject({
        file: '/etc/sysctl.conf',
        lines: ['net.inet.tcp.keepidle = 21000', 'net.inet.tcp.keepintvl = 3000', 'net.inet.tcp.keepcnt = 3'],
      });
      expect(plan.kernel?.userTimeout).toBe(30_000);
      expect(plain(renderPlan(plan))).toContain('net.inet.tcp.keepidle = 21000');
    }
    const windows = planFor(30_000, 'win32');
    expect(windows.sysctl).toBeNull();
    expect(windows.kernel?.userTimeout).toBeNull();
    expect(plain(renderPlan(windows))).toContain('setKeepAlive(socket, { idle: 21000, interval: 3000, count: 3 });');
  });
});

describe('sysctl report', () => {
  it('Linux: tcp_retries2 as time, RTO doubling from 200 ms up to the cap', () => {
    expect(retransmissionTimeout(15)).toBe(924_600);
    expect(retransmissionTimeout(3)).toBe(3000); // 200 + 400 + 800 + 1600
    expect(retransmissionTimeout(0)).toBe(200);
    // a 60 s cap: 8 doublings (200 ms x 2^8 = 51.2 s), then 60 s steps
    expect(retransmissionTimeout(15, 60_000)).toBe(511 * 200 + 7 * 60_000);
    const report = describeSysctls('linux', { idle: 600_000, interval: 10_000, count: 5, retries2: 8, namespace: 'net:[1]' });
    expect(report.detectAfter).toBe(650_000);
    expect(report.settings.find((s) => s.name === 'net.ipv4.tcp_keepalive_time')).toEqual({
      name: 'net.ipv4.tcp_keepalive_time',
      value: 600,
      unit: 's',
      default: 7200,
      changed: true,
    });
    expect(plain(renderSysctls(report))).toContain('network namespace net:[1]');
  });

  it('macOS: net.inet.tcp.keep* in milliseconds, the kernel default count 8', () => {
    const report = describeSysctls('darwin', { idle: 7_200_000, interval: 75_000, count: 8 });
    expect(report.settings).toEqual([
      { name: 'net.inet.tcp.keepidle', value: 7_200_000, unit: 'ms', default: 7_200_000, changed: false },
      { name: 'net.inet.tcp.keepintvl', value: 75_000, unit: 'ms', default: 75_000, changed: false },
      { name: 'net.inet.tcp.keepcnt', value: 8, unit: 'probes', default: 8, changed: false },
    ]);
    expect(report.dataInFlight).toBeNull();
    const text = plain(renderSysctls(report));
    expect(text).toContain('time + intvl x probes = 7200000 + 75000 x 8 = 7800 s (2h 10m)');
    expect(text).toMatch(/net\.inet\.tcp\.keepidle +7200000 +ms +7200000\n/);
    expect(text).not.toContain('per network namespace');
  });

  it('FreeBSD: changed values are marked', () => {
    const report = describeSysctls('freebsd', { idle: 60_000, interval: 5_000, count: 4 });
    expect(report.detectAfter).toBe(80_000);
    const text = plain(renderSysctls(report));
    expect(text).toMatch(/net\.inet\.tcp\.keepidle +60000 +ms +7200000 \(changed\)/);
    expect(text).toMatch(/net\.inet\.tcp\.keepcnt +4 +probes +8 \(changed\)/);
    expect(text).toContain('= 60000 + 5000 x 4 = 80 s (1m 20s)');
  });

  it('Windows: registry values, the count fixed', () => {
    const report = describeSysctls('win32', { idle: 7_200_000, interval: 1000, count: 10 });
    expect(report.settings.map((s) => s.name.split('\\').pop())).toEqual(['KeepAliveTime', 'KeepAliveInterval']);
    expect(plain(renderSysctls(report))).toContain('fixed at 10');
  });
});

describe('/proc/net/tcp parsing', () => {
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  it('decodes addresses, state, the keepalive timer in ms and the probes column', () => {
    const text =
      header +
      '   0: 0100007F:D6D8 0100007F:1F90 01 00000000:00000000 02:0005FB24 00000000     0        2 12345 1 0000000000000000 20 4 30 10 -1\n';
    const [e] = parseProcNetTcp(text, 'tcp', true);
    expect(e).toEqual({
      protocol: 'tcp',
      local: { address: '127.0.0.1', port: 0xd6d8 },
      remote: { address: '127.0.0.1', port: 8080 },
      state: 'ESTABLISHED',
      timer: 'keepalive',
      timerExpires: 0x5fb24 * 10,
      retransmits: 0,
      uid: 0,
      probes: 2,
      inode: 12345,
    });
  });

  it('IPv6: words in host order, loopback, v4-mapped and a global address', () => {
    expect(decodeAddress('00000000000000000000000001000000', true)).toBe('::1');
    expect(decodeAddress('0000000000000000FFFF00000100007F', true)).toBe('::ffff:127.0.0.1');
    expect(decodeAddress('B80D0120000000000000000001000000', true)).toBe('2001:db8::1');
    expect(decodeAddress('20010DB8000000000000000000000001', false)).toBe('2001:db8::1');
    expect(decodeAddress('7F000001', false)).toBe('127.0.0.1');
  });
});

describe('durations', () => {
  it.each([
    ['30s', 30_000],
    ['2m', 120_000],
    ['1500ms', 1500],
    ['1.5s', 1500],
    ['1h', 3_600_000],
    ['1.5ms', 2],
  ])('%s = %d ms', (text, ms) => expect(parseDuration(text, '--x')).toBe(ms));

  it.each(['30', '', 'soon', '0s', '-2m', 'NaNs'])('%j is a usage error', (text) => {
    expect(() => parseDuration(text, '--x')).toThrow(UsageError);
  });
});
