// The package under Bun and Deno, from their npm packages (pretest installs
// them: scripts/install-runtimes.js): the kernel API on clients, on net and
// http servers' sockets and an agent's, the heartbeat, the preload and the
// CLI. Each kernel value is checked twice: getKeepAlive() inside the
// runtime, and the keepalive timer `ss` shows for the same connection from
// outside. Both runtimes hide the fd of some sockets (Bun: http server
// sockets; Deno: every socket), which the addon finds by the connection's
// endpoints.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, DIST_INDEX, FIXTURES } from '../support/paths';
import { installedCopy, parseSs, runReporting, runtimeBinary, runtimeCommand, type Runtime, type SsEnd } from '../support/runtimes';

const fixture = (name: string) => join(FIXTURES, 'runtimes', name);
const hasSs = (() => {
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Every established TCP end on the loopback ports given (either side). */
function ssEnds(ports: number[]): SsEnd[] {
  const filter = ports.map((p) => `sport = :${p} or dport = :${p}`).join(' or ');
  return parseSs(execFileSync('ss', ['-Htno', 'state', 'established', `( ${filter} )`], { encoding: 'utf8' }));
}

/** The keepalive timer runs, and what is left of it fits an idle of `idleMs` set moments ago. */
function expectTimer(ends: SsEnd[], localPort: number, remotePort: number, idleMs: number, what: string): void {
  const end = ends.find((e) => e.localPort === localPort && e.peerPort === remotePort);
  expect(end, `${what}: ss shows no connection ${localPort} -> ${remotePort}`).toBeDefined();
  expect(end!.keepaliveMs, `${what}: ss shows no keepalive timer`).not.toBeNull();
  expect(end!.keepaliveMs!, what).toBeLessThanOrEqual(idleMs);
  expect(end!.keepaliveMs!, what).toBeGreaterThan(idleMs - 20_000);
}

interface KernelItem {
  name: string;
  expect: { idle: number; interval: number; count: number };
  localPort: number;
  remotePort: number;
  get?: { enabled: boolean; idle: number; interval: number; count: number };
  tcpState?: number;
  error?: string;
  destroyed: boolean;
  layers?: string[];
  deferredReturned?: unknown;
}

const copies: string[] = [];
afterAll(() => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(process.platform !== 'linux')('under Bun and Deno (Linux: ss reads the kernel)', () => {
  describe.each(['bun', 'deno'] as Runtime[])('%s', (runtime) => {
    const found = runtimeBinary(runtime);
    const binary = 'path' in found ? found.path : '';
    const available = 'path' in found && hasSs;
    const why = 'missing' in found ? found.missing : 'ss (iproute2) is not installed: scripts/install-test-deps.sh installs it';

    it.skipIf(!available)(`sets what the kernel holds on every kind of socket${available ? '' : ` (skipped: ${why})`}`, async () => {
      const run = await runReporting<{ runtime: string; items: KernelItem[]; skipped: Record<string, number>; pong: unknown }>(
        runtimeCommand(runtime, binary, fixture('kernel-api.cjs'), [DIST_INDEX]),
      );
      try {
        const { items } = run.report;
        expect(items.map((i) => i.name)).toEqual([
          'net client: setKeepAlive',
          'net server socket: applyToServer',
          'net client: setKeepAlive before connect',
          'http server socket: applyToServer',
          'http client socket: applyToAgent',
          'http server socket: setKeepAlive',
          "keepAlive(fallback 'auto')",
        ]);
        const ends = ssEnds([...new Set(items.map((i) => i.localPort).concat(items.map((i) => i.remotePort)))]);
        for (const item of items) {
          expect(item.error, item.name).toBeUndefined();
          expect(item.destroyed, item.name).toBe(false);
          expect(item.get, item.name).toMatchObject({ enabled: true, ...item.expect });
          expect(item.tcpState, `${item.name}: TCP_INFO state ESTABLISHED`).toBe(1);
          expectTimer(ends, item.localPort, item.remotePort, item.expect.idle, `${run.report.runtime} ${item.name}`);
        }
        expect(items[2].deferredReturned, 'before connect: held until connect').toBeNull();
        expect(items[6].layers).toEqual(['kernel']);
        expect(run.report.skipped).toEqual({ netServer: 0, httpServer: 0, agent: 0 });
        expect(run.report.pong, 'the heartbeat got its pong').toMatchObject({ rtt: expect.any(Number) });
      } finally {
        expect(await run.finish()).toBe(0);
      }
    });

    it.skipIf(!('path' in found))(`destroys nothing where no fd can be had (a copy without the addon)${'path' in found ? '' : ` (skipped: ${why})`}`, async () => {
      const { project, pkg } = installedCopy(false);
      copies.push(project);
      const run = await runReporting<Record<string, unknown>>(runtimeCommand(runtime, binary, fixture('no-fd.cjs'), [pkg]), { cwd: project });
      const out = run.report;
      expect(await run.finish()).toBe(0);
      // An http server's socket has no fd in either runtime: said with a code,
      expect(out.setKeepAlive).toMatchObject({ code: 'ERR_TCP_KEEPALIVE_NO_FD' });
      // counted and kept by applyToServer (with one warning),
      expect(out.skipped).toBe(1);
      expect(out.body).toBe('ok');
      expect(out.serverSocketAlive).toBe(true);
      expect(out.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^ERR_TCP_KEEPALIVE_NO_FD: .*\.skipped/)]));
      // and watched by the heartbeat under keepAlive('auto').
      expect(out.layers).toEqual(['heartbeat']);
      // setKeepAlive before connect leaves the socket working.
      expect(out.beforeConnect).toEqual({ value: null });
      expect(out.earlyEcho).toBe('ping');
      expect(out.earlyAlive).toBe(true);
    });

    it.skipIf(!available)(`the preload protects accepted and client sockets${available ? '' : ` (skipped: ${why})`}`, async () => {
      // As installed: Deno's --preload takes a CommonJS file only inside node_modules.
      const { project, pkg } = installedCopy(true);
      copies.push(project);
      const register = join(pkg, 'dist', 'protect', 'register.js');
      const run = await runReporting<{ ports: number[]; stats: { protected: number; live: number; unprotected: Record<string, number> } }>(
        runtimeCommand(runtime, binary, fixture('preload-app.cjs'), [pkg], ['--preload', register]),
        { cwd: project, env: { TCP_KEEPALIVE: 'idle=37s,interval=3s,count=4' } },
      );
      try {
        // net and http: a client and the server's socket each
        expect(run.report.stats).toMatchObject({ protected: 4, live: 4, unprotected: { error: 0 } });
        const ends = ssEnds(run.report.ports);
        expect(ends).toHaveLength(4);
        for (const end of ends) expectTimer(ends, end.localPort, end.peerPort, 37_000, `preload ${runtime}`);
      } finally {
        expect(await run.finish()).toBe(0);
      }
    });

    it.skipIf(!('path' in found))(`runs the CLI's drill, peer process included${'path' in found ? '' : ` (skipped: ${why})`}`, () => {
      // crash kills the peer process, hang freezes it (SIGSTOP): the two
      // that act on the child process the runtime started.
      const [file, ...args] = runtimeCommand(runtime, binary, BIN, ['drill', '--scenario', 'crash,hang', '--json']);
      const rows = JSON.parse(execFileSync(file, args, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] })) as Array<{
        scenario: string;
        setup: string;
        detected: boolean;
        verdict: string;
      }>;
      expect(rows).toHaveLength(8);
      for (const row of rows) expect(row.verdict, `${row.scenario} / ${row.setup}`).toMatch(/^(ok|never noticed)$/);
      expect(rows.filter((r) => r.scenario === 'crash').every((r) => r.detected)).toBe(true);
      expect(rows.filter((r) => r.scenario === 'hang' && (r.setup === 'heartbeat' || r.setup === 'both')).every((r) => r.detected)).toBe(true);
    });
  });
});
