// `tcp-keepalive drill` as a user runs it: the built CLI in a process of
// its own, on a reduced scenario set to keep the suite short.
import { execFile } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { expectedMs, judge, killAll, runDrill, type DrillRow } from '../../lib/harness';
import { cli } from '../support/harness';
import { isLinux } from '../support/sockets';

// The tests run concurrently, so a kill-everything between them would kill
// the others' peers: the one sweep comes after all of them.
afterAll(async () => {
  await killAll();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function drill(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'drill', ...args], { env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!isLinux)('tcp-keepalive drill', () => {
  it.concurrent('--json: rows for each scenario and set-up, with how and when each death was noticed', async () => {
    // count 1: a 2 s budget keeps the bound (2 x budget + 3 s) at 7 s.
    const run = await drill('--json', '--scenario', 'reset', '--scenario', 'hang', '--idle', '1s', '--interval', '1s', '--count', '1');
    const rows = JSON.parse(run.stdout) as DrillRow[];
    expect(rows.map((r) => `${r.scenario}/${r.setup}`)).toEqual([
      'reset/nothing',
      'reset/kernel',
      'reset/heartbeat',
      'reset/both',
      'hang/nothing',
      'hang/kernel',
      'hang/heartbeat',
      'hang/both',
    ]);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(expect.arrayContaining(['scenario', 'setup', 'expectedMs', 'measuredMs', 'detected', 'how', 'skipped']));
      expect(row.skipped).toBe(false);
      expect(typeof row.diedAt).toBe('number');
    }
    // A RST reaches every client at once, protected or not.
    for (const row of rows.slice(0, 4)) {
      expect(row).toMatchObject({ expectedMs: 0, detected: true, how: 'ECONNRESET', verdict: 'ok' });
      expect(row.measuredMs).toBeLessThan(1000);
    }
    // A frozen peer's kernel answers probes: only the heartbeat notices.
    for (const row of rows.slice(4, 6)) {
      expect(row).toMatchObject({ measuredMs: null, detected: false, how: null, detectedAt: null, verdict: 'never noticed' });
    }
    for (const row of rows.slice(6)) {
      expect(row).toMatchObject({ expectedMs: 2000, detected: true, how: 'ERR_HEARTBEAT_TIMEOUT' });
      expect(row.measuredMs).toBeGreaterThanOrEqual(1500);
      expect(row.measuredMs).toBeLessThan(2000 + 1500);
      expect(row.detectedAt! - row.diedAt!).toBe(row.measuredMs);
    }
    // Every set-up did what it promises: exit status 0.
    expect({ code: run.code, verdicts: rows.map((r) => r.verdict) }).toMatchObject({ code: 0 });
    // Progress goes to stderr, keeping stdout pure JSON.
    expect(run.stderr).toMatch(/hang: the peer died/);
    expect(run.stderr).toMatch(/hang \/ heartbeat: noticed after \d\.\d\ds \(ERR_HEARTBEAT_TIMEOUT\)/);
  });

  it.concurrent('slow: answers late within the budget raise no alarm; answers beyond it are declared dead in time', async () => {
    const [row] = await runDrill({ scenarios: ['slow'], setups: ['heartbeat'], idle: 1000, interval: 1000, count: 1 });
    expect(row).toMatchObject({ scenario: 'slow', setup: 'heartbeat', expectedMs: 2000, detected: true, how: 'ERR_HEARTBEAT_TIMEOUT', verdict: 'ok' });
    // Positive: nothing was declared dead while the answers came within the budget.
    expect(row.measuredMs).toBeGreaterThan(1500);
    expect(row.measuredMs).toBeLessThan(3500);
  });

  it.concurrent('prints a table of scenario, set-up, expected, measured, how and verdict', async () => {
    const run = await drill('--scenario', 'crash,reset');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^scenario\s+setup\s+expected\s+measured\s+how\s+verdict$/);
    expect(lines.filter((l) => /^crash\s+\w+\s+at once\s+\d\.\d\ds\s+end \(FIN\)\s+ok$/.test(l))).toHaveLength(4);
    expect(lines.filter((l) => /^reset\s+\w+\s+at once\s+\d\.\d\ds\s+ECONNRESET\s+ok$/.test(l))).toHaveLength(4);
  });

  it.concurrent('refuses bad options with exit status 2, naming what is allowed', async () => {
    const unknown = await drill('--scenario', 'meteor');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/'meteor' is not a scenario; the scenarios are crash, reset, restart, blackhole, blackhole-busy, hang, slow/);
    const count = await drill('--count', '0');
    expect(count.code).toBe(2);
    expect(count.stderr).toMatch(/--count must be a whole number from 1 to 127/);
    const idle = await drill('--idle', 'soon');
    expect(idle.code).toBe(2);
    expect(idle.stderr).toMatch(/--idle/);
  });
});

describe('what the drill expects and how it judges', () => {
  const t = { idle: 1500, interval: 500, count: 3 };

  it('expects the kernel in whole seconds rounded up and the heartbeat in ms; nothing only for FIN and RST', () => {
    expect(expectedMs('blackhole', 'kernel', t)).toBe(2000 + 1000 * 3);
    expect(expectedMs('blackhole', 'heartbeat', t)).toBe(1500 + 500 * 3);
    expect(expectedMs('blackhole', 'both', t)).toBe(3000);
    expect(expectedMs('restart', 'kernel', t)).toBe(2000);
    expect(expectedMs('hang', 'kernel', t)).toBeNull();
    expect(expectedMs('slow', 'both', t)).toBe(3000);
    expect(expectedMs('reset', 'nothing', t)).toBe(0);
    expect(expectedMs('blackhole-busy', 'nothing', t)).toBeNull();
  });

  const row = (expected: number | null, measured: number | null) =>
    judge({ scenario: 'blackhole', setup: 'kernel', expectedMs: expected, measuredMs: measured, detected: measured !== null, how: null, skipped: false, diedAt: 0, detectedAt: measured });

  it('calls each outcome by its name', () => {
    expect(row(3000, 3070)).toBe('ok');
    expect(row(3000, 5000)).toBe('late');
    expect(row(3000, 1000)).toBe('early');
    expect(row(3000, null)).toBe('missed');
    expect(row(3000, -200)).toBe('false alarm');
    expect(row(null, null)).toBe('never noticed');
    expect(row(null, 4000)).toBe('unexpected');
  });
});
