// The drill's results are not lost: a picture path that cannot be written
// is refused before the drill runs, a write that fails at the end comes
// after the table; and without the native addon the drill still prints its
// table, each row that needs the addon saying so.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, run } from '../support/cli';
import { ROOT } from '../support/paths';
import { isLinux, isRoot } from '../support/sockets';

beforeAll(() => ensureBuilt(), 120_000);

const work = mkdtempSync(join(tmpdir(), `tcp-keepalive-drill-output-${process.pid}-`));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A crash is noticed at once by every set-up: the quickest whole drill.
const QUICK = ['drill', '--scenario', 'crash', '--idle', '1s', '--interval', '1s', '--count', '1'];

describe.skipIf(!isLinux)(`drill --svg${isLinux ? '' : ' (skipped: /dev/full is Linux)'}`, { timeout: 60_000 }, () => {
  for (const [given, path, message] of [
    ['an empty name', '', /--svg must name a file; got an empty name/],
    ['a directory', tmpdir(), /--svg must name a file; .* is a directory/],
    ['/dev/full', '/dev/full', /--svg must name a regular file; \/dev\/full is not one/],
  ] as const) {
    it(`refuses ${given} before the drill runs: exit 2, one line, no drill`, async () => {
      const result = await run([...QUICK, '--svg', path]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain('clients connected');
      expect(result.stdout).toBe('');
    });
  }

  it('refuses a directory that does not exist with the system error: exit 1 before the drill', async () => {
    const result = await run([...QUICK, '--svg', join(work, 'missing', 'drill.svg')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--svg ENOENT/);
    expect(result.stderr).not.toContain('clients connected');
  });

  it('a write that fails at the end: the table is printed, then the error, exit 1', async () => {
    const folder = join(work, 'goes-away');
    mkdirSync(folder);
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'tcp-keepalive.js'), ...QUICK, '--svg', join(folder, 'drill.svg')], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    const closed = once(child, 'close');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    // The folder is removed once the drill is under way (it passed the check before).
    for await (const line of createInterface({ input: child.stderr })) {
      stderr += line + '\n';
      if (line.includes('clients connected')) rmSync(folder, { recursive: true });
    }
    const [code] = (await closed) as [number];
    expect(code).toBe(1);
    expect(stdout).toMatch(/crash\s+kernel\s+at once\s+\d/);
    expect(stderr).toMatch(/the results are above, but the picture could not be written: ENOENT/);
  });
});

describe.skipIf(!isLinux)(`drill without the native addon${isLinux ? '' : ' (skipped: the copy is made for Linux)'}`, { timeout: 120_000 }, () => {
  // This package's compiled code, manifest and bin without build/ and
  // prebuilds/: what an install where no addon could be had contains.
  const copy = join(work, 'no-addon');
  beforeAll(() => {
    for (const part of ['dist', 'bin', 'package.json']) cpSync(join(ROOT, part), join(copy, part), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  });
  const runCopy = (args: string[]) => {
    const child = spawn(process.execPath, [join(copy, 'bin', 'tcp-keepalive.js'), ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    return once(child, 'close').then(([code]) => ({ code: code as number, stdout, stderr }));
  };

  it('prints the table: the kernel rows say they need the addon, the others are measured', async () => {
    const result = await runCopy(['drill', '--scenario', 'crash,reset,hang', '--idle', '1s', '--interval', '1s', '--count', '1']);
    expect(result.stderr).not.toMatch(/Unhandled|^\s+at |needs the native addon/m);
    for (const scenario of ['crash', 'reset', 'hang']) {
      expect(result.stdout).toMatch(new RegExp(`${scenario}\\s+kernel\\s+.*skipped \\[\\d\\]`));
      expect(result.stdout).toMatch(new RegExp(`${scenario}\\s+heartbeat\\s+(at once|\\d+\\.\\d\\ds)\\s+\\d+\\.\\d\\ds`));
    }
    expect(result.stdout).toMatch(/\[1\] the kernel set-up \(userTimeout 'auto'\) needs the native addon/);
    expect(result.code).toBe(0);
  });

  it("skips the deaths done by socket options for the missing addon, not for CAP_NET_ADMIN", async () => {
    const result = await runCopy(['drill', '--scenario', 'blackhole', '--json']);
    const rows = JSON.parse(result.stdout) as Array<{ skipped: string | false }>;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.skipped).toMatch(/^blackhole \(a socket filter \(SO_ATTACH_FILTER\)\) needs the native addon/);
      expect(row.skipped).not.toContain('CAP_NET_ADMIN');
    }
    expect(result.code).toBe(0);
  });

  it(`startPeer().kill('blackhole') throws ERR_TCP_KEEPALIVE_UNSUPPORTED${isRoot ? '' : ' (as root it was EPERM)'}`, async () => {
    const script = `
      const { startPeer } = require(${JSON.stringify(join(copy, 'dist', 'harness', 'index.js'))});
      (async () => {
        const peer = await startPeer();
        try { await peer.kill('blackhole'); console.log(JSON.stringify({ killed: true })); }
        catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }
        finally { await peer.close(); }
      })();`;
    const child = spawn(process.execPath, ['-e', script]);
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    await once(child, 'close');
    const outcome = JSON.parse(stdout) as { code: string; message: string };
    expect(outcome.code).toBe('ERR_TCP_KEEPALIVE_UNSUPPORTED');
    expect(outcome.message).toMatch(/needs the native addon/);
  });
});
