// Packing this tree and installing the tarball the way a user does, on a
// machine with Node.js and no build tools.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { npmCli } from './foreign-node';
import { ROOT } from './paths';

export function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 180_000 });
  if (result.error) throw result.error;
  return result;
}

export function ok(result: Pick<SpawnSyncReturns<string>, 'status' | 'stdout' | 'stderr'>, what: string): string {
  if (result.status !== 0) throw new Error(`${what} exited ${result.status}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

export const npm = (args: string[], cwd: string, env?: NodeJS.ProcessEnv) => run(process.execPath, [npmCli, ...args], cwd, env);

/** What a user installing from the registry has: this tree's files, no build output. */
export function copyTree(to: string): void {
  const listed = ok(run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT), 'git ls-files');
  for (const file of listed.split('\0').filter(Boolean)) {
    if (existsSync(join(ROOT, file))) cpSync(join(ROOT, file), join(to, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(to, 'node_modules'), 'junction');
}

export function newProject(dir: string, extra: object = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, ...extra }));
  return dir;
}

/** The PATH of a machine with Node.js and no build tools: node, npm, sh. */
export function bareBin(dir: string): string {
  mkdirSync(dir);
  symlinkSync(process.execPath, join(dir, 'node'));
  symlinkSync(npmCli, join(dir, 'npm'));
  // npm runs install scripts through sh; a shell is no compiler.
  symlinkSync('/bin/sh', join(dir, 'sh'));
  return dir;
}


/** What a finished child left: as spawnSync's result, for ok(). */
export type Finished = Pick<SpawnSyncReturns<string>, 'status' | 'signal' | 'stdout' | 'stderr'>;

/**
 * run() without blocking: a test that installs or packs for minutes must
 * leave its worker's event loop free, or vitest's calls to it time out.
 */
export function runAsync(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

export const npmAsync = (args: string[], cwd: string, env?: NodeJS.ProcessEnv) => runAsync(process.execPath, [npmCli, ...args], cwd, env);

/**
 * Packs a scratch copy of this tree with the prebuilds `npm run prebuild`
 * made (pretest makes them), as the release does: the tarball's path.
 */
export async function packWithPrebuilds(work: string): Promise<string> {
  const tree = join(work, 'tree');
  copyTree(tree);
  cpSync(join(ROOT, 'prebuilds'), join(tree, 'prebuilds'), { recursive: true });
  const packed = ok(await npmAsync(['pack', '--json', '--pack-destination', work], tree), 'npm pack');
  return join(work, JSON.parse(packed.slice(packed.indexOf('[')))[0].filename);
}
