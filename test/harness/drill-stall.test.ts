// The drill's stall scenario: the client process stops running JavaScript
// for longer than the budget while the peer stays healthy. No set-up may
// raise an alarm; the drill fails if one does.
import { execFile } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { judge, killAll, PASSING, type DrillRow } from '../../lib/harness';
import { cli } from '../support/harness';
import { isLinux } from '../support/sockets';

afterAll(async () => {
  await killAll();
});

function drill(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'drill', ...args], { env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe.skipIf(!isLinux)('drill --scenario stall', () => {
  it('beside another scenario it runs in a process of its own; no set-up raises an alarm, and the drill passes', async () => {
    const run = await drill('--json', '--scenario', 'stall,reset', '--idle', '1s', '--interval', '1s', '--count', '1');
    const rows = JSON.parse(run.stdout) as DrillRow[];
    const stall = rows.filter((r) => r.scenario === 'stall');
    expect(stall.map((r) => r.setup)).toEqual(['nothing', 'kernel', 'heartbeat', 'both']);
    for (const row of stall) expect(row).toMatchObject({ expectedMs: null, detected: false, skipped: false, verdict: 'ok' });
    // The reset rows ran here meanwhile, on time: the stall did not stop them.
    for (const row of rows.filter((r) => r.scenario === 'reset')) expect(row.verdict).toBe('ok');
    expect(run.stderr).toMatch(/stall: clients connected \(in a process of its own\)/);
    expect(run.code).toBe(0);
  });

  it('a detection during a stall is a false alarm, and a false alarm fails the drill', () => {
    const row = { scenario: 'stall' as const, setup: 'heartbeat' as const, expectedMs: null, measuredMs: 2500, detected: true, how: 'ERR_HEARTBEAT_TIMEOUT', skipped: false as const, diedAt: 1, detectedAt: 2501 };
    expect(judge(row)).toBe('false alarm');
    expect(PASSING).not.toContain('false alarm');
    expect(judge({ ...row, measuredMs: null, detected: false, how: null, detectedAt: null })).toBe('ok');
  });
});
