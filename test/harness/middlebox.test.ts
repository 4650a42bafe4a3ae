// The harness's middlebox (real conntrack in network namespaces) and the
// drill's middlebox scenario, as a user runs them: the built CLI and the
// built harness in processes of their own, as root and as user nobody.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { killAll, startMiddlebox, type DrillRow, type TimelineEvent } from '../../lib/harness';
import { cli, distHarness, goneWithin, processesMarked } from '../support/harness';
import { middleboxSkipReason } from '../support/middlebox';
import { unprivileged } from '../support/nobody';
import { isLinux, isRoot } from '../support/sockets';

afterAll(async () => {
  await killAll();
});

const noMiddlebox = isLinux ? middleboxSkipReason() : 'not Linux';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const nobody = unprivileged();

/** The drill of the built CLI; as user nobody, from nobody's copy of the package. */
function drill(args: string[], as: 'self' | 'nobody' = 'self'): Promise<Run> {
  const command = as === 'nobody' ? [...nobody.prefix, nobody.node, nobody.cli] : [process.execPath, cli];
  const [file, ...rest] = [...command, 'drill', ...args];
  return new Promise((resolve) => {
    execFile(file, rest, { env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const kinds = (events: readonly TimelineEvent[], kind: string) => events.filter((e) => e.kind === kind);

/** What every run of the scenario must show, with the defaults (idle 1 s: X = 2 s, the long idle 3 s, the request at 4 s). */
function expectTheFourRows(rows: DrillRow[]): void {
  expect(rows.map((r) => `${r.scenario}/${r.setup}`)).toEqual(['middlebox/nothing', 'middlebox/kernel', 'middlebox/kernel-long-idle', 'middlebox/heartbeat']);
  const [nothing, kernel, long, heartbeat] = rows;
  // The plain socket learns of it from its request, 2 s after the path forgot: a RST.
  expect(nothing).toMatchObject({ skipped: false, detected: true, how: 'ECONNRESET', verdict: 'request failed', expectedMs: null });
  expect(nothing.measuredMs).toBeGreaterThanOrEqual(2000);
  expect(nothing.measuredMs).toBeLessThan(2600);
  expect(kinds(nothing.events, 'request')).toEqual([expect.objectContaining({ answered: false })]);
  // Probes every 1 s keep the middlebox's memory fresh: answered, and the request is answered too.
  expect(kernel).toMatchObject({ skipped: false, detected: false, verdict: 'kept alive' });
  expect(kinds(kernel.events, 'probe').filter((p) => p.answered).length).toBeGreaterThanOrEqual(1);
  expect(kinds(kernel.events, 'probe').filter((p) => !p.answered)).toEqual([]);
  expect(kinds(kernel.events, 'request')).toEqual([expect.objectContaining({ answered: true })]);
  // Its first probe, 1 s after the path forgot, is answered with a RST: noticed before the request.
  expect(long).toMatchObject({ skipped: false, detected: true, how: 'ECONNRESET', verdict: 'ok', expectedMs: 1000 });
  expect(long.measuredMs).toBeGreaterThanOrEqual(900);
  expect(long.measuredMs).toBeLessThan(1600);
  expect(kinds(long.events, 'request')).toEqual([]);
  // PINGs and PONGs go on after the moment the path would have forgotten a silent connection.
  expect(heartbeat).toMatchObject({ skipped: false, detected: false, verdict: 'kept alive' });
  expect(kinds(heartbeat.events, 'pong').length).toBeGreaterThanOrEqual(1);
  expect(kinds(heartbeat.events, 'request')).toEqual([expect.objectContaining({ answered: true })]);
}

describe.skipIf(noMiddlebox !== undefined)(`the middlebox (${noMiddlebox ?? 'conntrack in network namespaces'})`, () => {
  it.concurrent('drill --scenario middlebox: the four rows, the exit status and the picture', async () => {
    const dir = mkdtempSync(join(tmpdir(), `tka-mbox-drill-${process.pid}-`));
    try {
      const svg = join(dir, 'drill.svg');
      const run = await drill(['--scenario', 'middlebox', '--json', '--svg', svg]);
      expect(run.code, run.stderr).toBe(0);
      expectTheFourRows(JSON.parse(run.stdout) as DrillRow[]);
      expect(run.stderr).toMatch(/middlebox: the middlebox forgets the idle connections/);
      const picture = readFileSync(svg, 'utf8');
      for (const setup of ['nothing', 'kernel', 'kernel-long-idle', 'heartbeat']) expect(picture).toContain(`data-scenario="middlebox" data-setup="${setup}"`);
      expect(picture.match(/class="event request" data-t="\d+" data-answered="true"/g)).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it.skipIf(nobody.reason !== undefined).concurrent(`as user nobody: the same rows, in an unprivileged user namespace (${nobody.reason ?? 'from a copy nobody can reach'})`, async () => {
    const run = await drill(['--scenario', 'middlebox', '--json'], 'nobody');
    const reason = middleboxSkipReasonAsNobody();
    if (reason) {
      // The system refuses: every row says why, in one line.
      const rows = JSON.parse(run.stdout) as DrillRow[];
      for (const row of rows) expect(row.skipped).toMatch(/^the middlebox needs root, or an unprivileged user\+network namespace with nftables, which this system refuses \(.+\)$/);
      return;
    }
    expect(run.code, run.stderr).toBe(0);
    expectTheFourRows(JSON.parse(run.stdout) as DrillRow[]);
  }, 30_000);

  it.skipIf(!isRoot).concurrent('where the system refuses a user namespace to a user: the rows skipped saying why in one line, startMiddlebox rejects with EPERM', async () => {
    // User 1000 of a user namespace whose parent allows only that one namespace below it: in the
    // position of a user on a system that refuses unprivileged user namespaces. Gone with the run.
    const program = `
      const { runDrill, startMiddlebox } = require(${JSON.stringify(distHarness)});
      (async () => {
        const rows = await runDrill({ scenarios: ['middlebox'] });
        const error = await startMiddlebox({ forgetAfter: 2000, forgets: 'drop' }).then(() => null, (e) => ({ code: e.code, message: e.message }));
        process.stdout.write(JSON.stringify({ uid: process.getuid(), rows, error }));
      })();`;
    const inner = ['unshare', '-U', '--map-user=1000', '--map-group=1000', process.execPath, '-e', program];
    const out = execFileSync('unshare', ['-U', '-r', '/bin/sh', '-c', 'echo 1 > /proc/sys/user/max_user_namespaces && exec "$0" "$@"', ...inner], { encoding: 'utf8', timeout: 20_000 });
    const { uid, rows, error } = JSON.parse(out) as { uid: number; rows: DrillRow[]; error: { code: string; message: string } | null };
    expect(uid).toBe(1000);
    const reason = /^the middlebox needs root, or an unprivileged user\+network namespace with nftables, which this system refuses \(.+\)$/;
    expect(rows.map((r) => r.setup)).toEqual(['nothing', 'kernel', 'kernel-long-idle', 'heartbeat']);
    for (const row of rows) {
      expect(row).toMatchObject({ verdict: 'skipped', detected: false });
      expect(row.skipped).toMatch(reason);
    }
    expect(error?.code).toBe('EPERM');
    expect(error?.message).toMatch(reason);
  }, 30_000);

  it.concurrent('a program killed with SIGKILL leaves no namespace holder, peer or client behind', async () => {
    const marker = `TCPKA_MIDDLEBOX_TEST=${randomUUID()}`;
    const [name, value] = marker.split('=');
    const program = `
      const { startMiddlebox, startPeer } = require(${JSON.stringify(distHarness)});
      (async () => {
        const box = await startMiddlebox({ forgetAfter: 2000, forgets: 'drop' });
        const peer = await startPeer({ host: box.serverAddress, prefix: box.serverPrefix });
        process.stdout.write(JSON.stringify({ peer: peer.pid }) + '\\n');
        setInterval(() => {}, 1000);
      })();`;
    const child = spawn(process.execPath, ['-e', program], { env: { ...process.env, [name]: value }, stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const { peer } = JSON.parse(line.toString()) as { peer: number };
    // Three holders and the peer, at least, carry the marker.
    expect(processesMarked(marker).length).toBeGreaterThanOrEqual(4);
    child.kill('SIGKILL');
    expect(await goneWithin(peer, 3000)).toBe(true);
    const deadline = Date.now() + 3000;
    while (processesMarked(marker).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(processesMarked(marker)).toEqual([]);
  }, 30_000);

  it.concurrent('close() ends every holder; bad options are coded errors naming the field', async () => {
    const box = await startMiddlebox({ forgetAfter: 1500, forgets: 'reset' });
    // Conntrack counts whole seconds: 1500 ms is 2 s, reported as such.
    expect(box.describe()).toMatchObject({ forgetAfter: 2000, forgets: 'reset', clientAddress: '10.77.1.1', serverAddress: '10.77.2.1' });
    const holders = [box.clientPrefix, box.serverPrefix].map((prefix) => Number(prefix[prefix.indexOf('-t') + 1]));
    await box.close();
    for (const pid of holders) expect(await goneWithin(pid, 1000)).toBe(true);
    await expect(startMiddlebox({ forgetAfter: 0, forgets: 'drop' })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('options.forgetAfter') });
    await expect(startMiddlebox({ forgetAfter: '2s' as unknown as number, forgets: 'drop' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(startMiddlebox({ forgetAfter: 2000, forgets: 'forget' as 'drop' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.forgets') });
  });
});

/** The middlebox's own verdict on this system for user nobody. */
function middleboxSkipReasonAsNobody(): string | undefined {
  const code = `const { middleboxSupport } = require(${JSON.stringify(nobody.harness)}); const s = middleboxSupport(); process.stdout.write(s.ok ? '' : s.reason);`;
  const [file, ...args] = [...nobody.prefix, nobody.node, '-e', code];
  const out = execFileSync(file, args, { encoding: 'utf8' });
  return out === '' ? undefined : out;
}
