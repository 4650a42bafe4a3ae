// npm run prebuild (scripts/prebuild.js) in a scratch copy of the package:
// a target that fails to compile must lose no other target's prebuild.
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { which } from '../support/foreign-node';
import { ROOT } from '../support/paths';

const work = mkdtempSync(join(tmpdir(), 'tcp-keepalive-prebuild-script-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const mingw = which('x86_64-w64-mingw32-g++-posix');
const skip =
  process.platform !== 'linux' || process.arch !== 'x64'
    ? 'the cross builds run on linux-x64'
    : mingw === undefined && process.getuid?.() !== 0
      ? 'no x86_64-w64-mingw32-g++-posix and not ROOT to install it'
      : undefined;

it.skipIf(skip)(`keeps linux-x64 when win32-x64 fails to compile${skip ? ` (skipped: ${skip})` : ''}`, () => {
  for (const entry of ['package.json', 'binding.gyp', 'src', 'scripts']) cpSync(join(ROOT, entry), join(work, entry), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'junction');
  appendFileSync(join(work, 'src', 'keepalive_win.cc'), '\n#error deliberately broken by prebuild-script.test.ts\n');
  // win32 first: its failure must not stop the build after it.
  const result = spawnSync(process.execPath, [join(work, 'scripts', 'prebuild.js'), 'win32-x64', 'x64'], { cwd: work, encoding: 'utf8', timeout: 240_000 });
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(/prebuild: win32-x64 FAILED/);
  expect(result.stdout).toMatch(/prebuild: linux-x64 done/);
  expect(existsSync(join(work, 'prebuilds', 'linux-x64', 'tcp-keepalive.glibc.node'))).toBe(true);
  expect(existsSync(join(work, 'prebuilds', 'win32-x64'))).toBe(false);
}, 300_000);
