// The `tcp-keepalive` command, run as a child process as a user would run it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { setKeepAlive } from '../../lib';
import { harnessBinding } from '../../lib/harness/native';
import { handleFd } from '../../lib/kernel/socket';
import { ensureBuilt, ROOT, run, runJson } from '../support/cli';
import { unprivileged } from '../support/nobody';
import { connectedPair, isLinux, isRoot, type Pair } from '../support/sockets';
import type { SysctlReport } from '../../lib/kernel/sysctl';
import type { Plan } from '../../lib/plan';
import type { Connection, SocketsReport } from '../../lib/cli/commands/sockets';

// Compiled first (while collecting) so the copy of the package that user
// nobody runs, made next, holds the current dist/.
ensureBuilt();
const nobody = unprivileged();

const procInt = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'));

/** Runs the command inside a fresh network namespace after setting sysctls there. */
function inNamespace(sysctls: Record<string, number>): string[] {
  const settings = Object.entries(sysctls).map(([k, v]) => `echo ${v} > /proc/sys/${k.replace(/\./g, '/')}`);
  // unshare -n: the namespace lives as long as this one shell and its command.
  return ['unshare', '-n', 'sh', '-c', `${settings.join(' && ')} && exec "$0" "$@"`];
}

describe.skipIf(!isLinux)('tcp-keepalive sysctl', () => {
  it('is the default command and shows the values of /proc/sys/net/ipv4', async () => {
    const [plain, named] = await Promise.all([run([]), run(['sysctl'])]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe(named.stdout);
    const time = procInt('tcp_keepalive_time');
    const intvl = procInt('tcp_keepalive_intvl');
    const probes = procInt('tcp_keepalive_probes');
    expect(plain.stdout).toMatch(new RegExp(`net\\.ipv4\\.tcp_keepalive_time +${time} `));
    expect(plain.stdout).toMatch(new RegExp(`net\\.ipv4\\.tcp_keepalive_intvl +${intvl} `));
    expect(plain.stdout).toMatch(new RegExp(`net\\.ipv4\\.tcp_keepalive_probes +${probes} `));
    expect(plain.stdout).toMatch(new RegExp(`net\\.ipv4\\.tcp_retries2 +${procInt('tcp_retries2')} `));
    expect(plain.stdout).toContain(`= ${time} + ${intvl} x ${probes} = ${time + intvl * probes} s`);
    expect(plain.stdout).toContain('per network namespace');
    expect(plain.stdout).not.toMatch(/\x1b\[/); // NO_COLOR
  });

  it('--json gives the same facts with times in ms', async () => {
    const report = await runJson<SysctlReport>([]);
    const time = procInt('tcp_keepalive_time');
    const intvl = procInt('tcp_keepalive_intvl');
    const probes = procInt('tcp_keepalive_probes');
    expect(report).toMatchObject({ platform: 'linux', idle: time * 1000, interval: intvl * 1000, count: probes });
    expect(report.detectAfter).toBe((time + intvl * probes) * 1000);
    expect(report.namespace).toBe(readlinkSync('/proc/self/ns/net'));
    expect(report.dataInFlight?.retries).toBe(procInt('tcp_retries2'));
    expect(report.settings.map((s) => s.name)).toEqual(
      expect.arrayContaining(['net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes', 'net.ipv4.tcp_retries2']),
    );
  });

  it.skipIf(!isRoot)('in a private network namespace shows the values set there and their detection time (unshare -n needs root)', async () => {
    const prefix = inNamespace({
      'net.ipv4.tcp_keepalive_time': 600,
      'net.ipv4.tcp_keepalive_intvl': 10,
      'net.ipv4.tcp_keepalive_probes': 5,
      'net.ipv4.tcp_retries2': 8,
    });
    const [text, report] = await Promise.all([run([], { prefix }), runJson<SysctlReport>([], { prefix })]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/net\.ipv4\.tcp_keepalive_time +600 +s +7200 \(changed\)/);
    expect(text.stdout).toMatch(/net\.ipv4\.tcp_keepalive_intvl +10 +s +75 \(changed\)/);
    expect(text.stdout).toMatch(/net\.ipv4\.tcp_keepalive_probes +5 +probes +9 \(changed\)/);
    expect(text.stdout).toContain('= 600 + 10 x 5 = 650 s (10m 50s)');
    expect(report).toMatchObject({ idle: 600_000, interval: 10_000, count: 5, detectAfter: 650_000 });
    expect(report.namespace).not.toBe(readlinkSync('/proc/self/ns/net'));
    // 8 retransmissions, all below the 120 s cap: 200 ms x (2^9 - 1)
    expect(report.dataInFlight).toMatchObject({ retries: 8, giveUpAfter: 102_200 });
    expect(text.stdout).toContain('about 102.2 s (1m 42s)');
  });

  it.skipIf(!isRoot)('with the defaults shows 7875 s, and about 15 min for data in flight (a fresh namespace has them; unshare -n needs root)', async () => {
    const report = await runJson<SysctlReport>([], { prefix: ['unshare', '-n'] });
    expect(report.detectAfter).toBe(7_875_000);
    expect(report.settings.every((s) => !s.changed)).toBe(true);
    expect(report.dataInFlight?.giveUpAfter).toBe(924_600);
  });
});

describe('tcp-keepalive plan', () => {
  it('splits 30s into 21 s idle + 3 x 3 s and prints the snippet and the sysctl.d lines', async () => {
    const text = await run(['plan', '--detect-within', '30s']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('idle + interval x count = 21 + 3 x 3 = 30 s');
    expect(text.stdout).toContain('setKeepAlive(socket, { idle: 21000, interval: 3000, count: 3, userTimeout: 30000 });');
    expect(text.stdout).toContain('/etc/sysctl.d/');
    expect(text.stdout).toMatch(/^net\.ipv4\.tcp_keepalive_time = 21$/m);
    expect(text.stdout).toMatch(/^net\.ipv4\.tcp_keepalive_intvl = 3$/m);
    expect(text.stdout).toMatch(/^net\.ipv4\.tcp_keepalive_probes = 3$/m);
  });

  it.each([
    ['2m', { idle: 81_000, interval: 13_000, count: 3, detectAfter: 120_000 }],
    ['1500ms', null],
    ['2s', { idle: 1000, interval: 1000, count: 1, detectAfter: 2000 }],
    ['4s', { idle: 1000, interval: 1000, count: 3, detectAfter: 4000 }],
    ['30500ms', { idle: 21_000, interval: 3000, count: 3, detectAfter: 30_000 }],
    ['1h', { idle: 3375_000, interval: 75_000, count: 3, detectAfter: 3600_000 }],
    ['1d', { idle: 32_767_000, interval: 75_000, count: 3, detectAfter: 32_992_000 }],
  ])('--detect-within %s --json', async (budget, kernel) => {
    const plan = await runJson<Plan>(['plan', '--detect-within', budget]);
    if (kernel === null) expect(plan.kernel).toBeNull();
    else expect(plan.kernel).toMatchObject(kernel);
    if (plan.kernel) {
      expect(plan.kernel.detectAfter).toBeLessThanOrEqual(plan.budget);
      expect(plan.kernel.userTimeout).toBe(plan.kernel.detectAfter);
    }
  });

  it('a budget below 2 s says the kernel cannot and points to the heartbeat', async () => {
    const text = await run(['plan', '--detect-within', '1500ms']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('below what kernel keepalive can do');
    expect(text.stdout).toContain('heartbeat');
    expect(text.stdout).not.toContain('setKeepAlive(');
    const plan = await runJson<Plan>(['plan', '--detect-within', '1500ms']);
    expect(plan.heartbeat).toMatchObject({ count: 3 });
    expect(plan.heartbeat!.detectAfter).toBeLessThanOrEqual(1500);
  });

  it('a budget with room for fewer than 3 probes warns and offers the heartbeat too', async () => {
    const text = await run(['plan', '--detect-within', '3s']);
    expect(text.stdout).toContain('Only 2 probes fit');
    expect(text.stdout).toContain("fallback: 'auto'");
    expect(text.stdout).toContain('setKeepAlive(socket, { idle: 1000, interval: 1000, count: 2, userTimeout: 3000 });');
  });
});

describe('usage errors exit 2 with one line and the usage', () => {
  it.each([
    [['plan']],
    [['plan', '--detect-within']],
    [['plan', '--detect-within', '30']],
    [['plan', '--detect-within', 'soon']],
    [['plan', '--detect-within', '0s']],
    [['plan', '--detect-within', '-5s']],
    [['plan', '--detect-within=-5s']],
    [['plan', '--detect-within', '30s', '--fast']],
    [['sysctl', 'extra']],
    [['sysctl', '--yaml']],
    [['sockets', '--port', '0']],
    [['sockets', '--port', '65536']],
    [['sockets', '--port', 'http']],
    [['sockets', '--pid', '-1']],
    [['sockets', '--pid', '12abc']],
    [['frobnicate']],
  ])('%j', async (args) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const [first, blank, usage] = result.stderr.split('\n');
    expect(first).toMatch(/^tcp-keepalive[ :]/);
    expect(blank).toBe('');
    expect(usage).toMatch(/^Usage: tcp-keepalive/);
  });

  it('--help on every command prints its usage and exits 0', async () => {
    for (const args of [['--help'], ['sysctl', '--help'], ['plan', '-h'], ['sockets', '--help']]) {
      const result = await run(args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout).toMatch(/^Usage: tcp-keepalive/);
    }
  });
});

describe.skipIf(!isLinux)('tcp-keepalive sockets', () => {
  const pairs: Pair[] = [];
  const filtered: net.Socket[] = [];
  afterEach(async () => {
    // Lift the drop filters first so the connections close cleanly instead of lingering in FIN_WAIT.
    for (const socket of filtered.splice(0)) if (!socket.destroyed) harnessBinding.detachFilter(handleFd(socket));
    await Promise.all(pairs.splice(0).map((p) => p.close()));
  });

  async function pair(host = '127.0.0.1'): Promise<Pair> {
    const p = await connectedPair(host);
    pairs.push(p);
    return p;
  }
  const find = (report: SocketsReport, local: net.Socket) =>
    report.connections.find((c) => c.local.port === local.localPort && c.remote.port === local.remotePort);

  it('finds a connection with keepalive on, its probe timer, and one with keepalive off, with their owner', async () => {
    const on = await pair();
    const off = await pair('::1');
    setKeepAlive(on.client, { idle: 3_600_000, interval: 10_000, count: 3 });
    const report = await runJson<SocketsReport>(['sockets', '--pid', String(process.pid)]);
    const withKeepalive = find(report, on.client) as Connection;
    expect(withKeepalive).toMatchObject({ protocol: 'tcp', state: 'ESTABLISHED', keepalive: true, timer: 'keepalive', probesSent: 0 });
    expect(withKeepalive.nextProbe).toBeGreaterThan(3_500_000);
    expect(withKeepalive.nextProbe).toBeLessThanOrEqual(3_600_000);
    expect(withKeepalive.owners).toContainEqual({ pid: process.pid, command: expect.any(String) });
    const without = find(report, off.client) as Connection;
    expect(without).toMatchObject({ protocol: 'tcp6', local: { address: '::1' }, keepalive: false, nextProbe: null });
    // the server's end of the keepalive connection has keepalive off: setKeepAlive is per socket
    expect(find(report, on.accepted)?.keepalive).toBe(false);
    expect(report.connections.every((c) => c.owners.some((p) => p.pid === process.pid))).toBe(true);

    const text = await run(['sockets', '--port', String(on.client.remotePort)]);
    const line = (s: net.Socket) => text.stdout.split('\n').find((l) => l.startsWith(`tcp    127.0.0.1:${s.localPort} `));
    expect(line(on.client)).toMatch(/ESTABLISHED +on +(1h|59m \d+s) +0 +root +\d+\/node/);
    expect(line(on.accepted)).toMatch(/ESTABLISHED +OFF: never notices a dead peer +- +- +root +\d+\/node/);
    expect(text.stdout).toContain('without (they never notice a dead idle peer)');
  });

  it.skipIf(!isRoot)('counts the probes sent to a silent peer (drop filter needs CAP_NET_ADMIN)', async () => {
    const p = await pair();
    harnessBinding.attachDropFilter(handleFd(p.accepted));
    filtered.push(p.accepted);
    setKeepAlive(p.client, { idle: 1000, interval: 1000, count: 30 });
    await new Promise((r) => setTimeout(r, 3500));
    const report = await runJson<SocketsReport>(['sockets', '--port', String(p.client.localPort)]);
    const c = find(report, p.client) as Connection;
    expect(c.keepalive).toBe(true);
    expect(c.probesSent).toBeGreaterThanOrEqual(1);
    expect(c.nextProbe).toBeLessThanOrEqual(1000);
  });

  it('--port keeps only that port; a fresh network namespace has none (unshare -n needs root)', async () => {
    const p = await pair();
    const report = await runJson<SocketsReport>(['sockets', '--port', String(p.client.localPort)]);
    expect(report.connections.length).toBeGreaterThan(0);
    expect(report.connections.every((c) => c.local.port === p.client.localPort || c.remote.port === p.client.localPort)).toBe(true);
    if (!isRoot) return;
    const isolated = await runJson<SocketsReport>(['sockets'], { prefix: ['unshare', '-n'] });
    expect(isolated.connections).toEqual([]);
  });

  it.skipIf(nobody.reason !== undefined)(`works unprivileged and says whose owners it could not see (${nobody.reason ?? 'as user nobody'})`, async () => {
    const on = await pair();
    setKeepAlive(on.client, { idle: 3_600_000 });
    const from = nobody;
    const report = await runJson<SocketsReport>(['sockets', '--port', String(on.client.remotePort)], { from });
    const c = find(report, on.client) as Connection;
    expect(c).toMatchObject({ keepalive: true, owners: [], ownerUnknown: 'unknown (needs root)', user: 'root' });
    expect(report.notes.join(' ')).toMatch(/need root/);
    const text = await run(['sockets', '--port', String(on.client.remotePort)], { from });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('unknown (needs root)');
    const other = await run(['sockets', '--pid', String(process.pid)], { from });
    expect(other.code).toBe(0);
    expect(other.stdout).toContain(`The sockets of pid ${process.pid} are not visible`);
    const sysctl = await run([], { from });
    expect(sysctl.code).toBe(0);
    expect(sysctl.stdout).toContain('net.ipv4.tcp_keepalive_time');
  });

  it('a pid that does not exist is a failure: one line on stderr, exit 1', async () => {
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const result = await run(['sockets', '--pid', String(gone)]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`tcp-keepalive sockets: no process with pid ${gone}\n`);
  });
});

describe('npx', () => {
  it('runs the bin of this checkout (private npm cache, so no shared state)', () => {
    const cache = mkdtempSync(join(tmpdir(), 'tcp-keepalive-npx-'));
    try {
      const out = execFileSync('npx', ['tcp-keepalive', 'plan', '--detect-within', '2m', '--json'], {
        cwd: ROOT,
        env: { ...process.env, npm_config_cache: cache, npm_config_update_notifier: 'false' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
      expect(JSON.parse(out).kernel).toMatchObject({ idle: 81_000, interval: 13_000, count: 3 });
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 150_000);
});
