// Without privilege the harness re-runs what needs CAP_NET_ADMIN in a user
// and network namespace of its own, or skips it with a one-line reason.
// Run for real as user nobody (setpriv), which needs root to start, on a
// copy of the package nobody can reach (test/support/nobody.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { DrillRow } from '../../lib/harness';
import { unprivileged } from '../support/nobody';

const nobody = unprivileged();

const PROGRAM = `
const harness = require(${JSON.stringify(nobody.harness)});
(async () => {
  const options = JSON.parse(process.argv[1]);
  const progress = [];
  const rows = await harness.runDrill({ ...options, onProgress: (p) => progress.push(p) });
  let killError = null;
  if (options.tryKill) {
    const peer = await harness.startPeer();
    await peer.kill(options.tryKill).catch((e) => (killError = { code: e.code, message: e.message }));
    await peer.close();
  }
  process.stdout.write(JSON.stringify({ rows, progress, killError }));
})();
`;

interface Outcome {
  rows: DrillRow[];
  progress: { type: string; where?: string }[];
  killError: { code: string; message: string } | null;
}

/** Runs PROGRAM as nobody; `shell` wraps it (for a namespace that refuses namespaces). */
function asNobody(options: object, wrap: string[] = []): Outcome {
  const [file, ...args] = [...nobody.prefix, ...wrap, nobody.node, '-e', PROGRAM, JSON.stringify(options)];
  const out = execFileSync(file, args, {
    encoding: 'utf8',
    timeout: 25_000,
  });
  return JSON.parse(out) as Outcome;
}

describe.skipIf(nobody.reason !== undefined)(`as an unprivileged user (${nobody.reason ?? 'nobody'})`, () => {
  it('restart and blackhole run in a user+network namespace, or are skipped saying why', () => {
    const { rows, progress } = asNobody({ scenarios: ['crash', 'restart', 'blackhole'], setups: ['kernel'], boundMs: 5000 });
    const byScenario = Object.fromEntries(rows.map((r) => [r.scenario, r]));
    // crash needs no privilege: it ran here and was noticed.
    expect(byScenario.crash).toMatchObject({ skipped: false, detected: true, how: 'end (FIN)' });
    expect(progress).toContainEqual({ type: 'start', scenario: 'crash', where: 'here' });
    const namespaces = spawnSync(nobody.prefix[0], [...nobody.prefix.slice(1), 'unshare', '-U', '-r', '-n', 'true']).status === 0;
    if (namespaces) {
      expect(byScenario.restart).toMatchObject({ skipped: false, detected: true, how: 'ECONNRESET' });
      expect(byScenario.blackhole).toMatchObject({ skipped: false, detected: true, how: 'ETIMEDOUT' });
      expect(progress).toContainEqual({ type: 'start', scenario: 'restart', where: 'namespace' });
    } else {
      expect(byScenario.restart.skipped).toMatch(/^restart needs CAP_NET_ADMIN \(for TCP_REPAIR\), and .+/);
    }
  });

  it('where the system refuses namespaces, they are skipped with a one-line reason and the rest still runs', () => {
    // A user namespace whose own limit forbids nested ones: the harness is
    // in the position of a user on a system that refuses them. The limit
    // changed is that namespace's own, gone with it.
    const refusing = ['unshare', '-U', '-r', '/bin/sh', '-c', 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" "$@"'];
    const { rows, killError } = asNobody({ scenarios: ['reset', 'restart', 'blackhole-busy'], setups: ['nothing', 'kernel'], tryKill: 'blackhole' }, refusing);
    const restart = rows.filter((r) => r.scenario === 'restart');
    expect(restart).toHaveLength(2);
    for (const row of restart) {
      expect(row).toMatchObject({ detected: false, measuredMs: null, verdict: 'skipped' });
      expect(row.skipped).toMatch(/^restart needs CAP_NET_ADMIN \(for TCP_REPAIR\), and this system refuses an unprivileged user\+network namespace/);
      expect(row.skipped).not.toContain('\n');
    }
    expect(rows.find((r) => r.scenario === 'blackhole-busy')?.skipped).toMatch(/needs CAP_NET_ADMIN \(for a socket filter/);
    expect(rows.filter((r) => r.scenario === 'reset').every((r) => r.detected && r.how === 'ECONNRESET')).toBe(true);
    // The peer API says the same to a user's own test.
    expect(killError).toEqual({ code: 'EPERM', message: 'blackhole needs CAP_NET_ADMIN (for a socket filter (SO_ATTACH_FILTER))' });
  });
});
