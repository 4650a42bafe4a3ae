// Runs the `tcp-keepalive` command as a user would: a child process of the
// compiled bin, optionally through a prefix (unshare, setpriv).
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT } from './paths';

export { BIN, ROOT };

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Another node and copy of the package to run, as the unprivileged copy of test/support/nobody.ts. */
export interface RunFrom {
  prefix: string[];
  node: string;
  cli: string;
}

export interface RunOptions {
  prefix?: string[];
  env?: NodeJS.ProcessEnv;
  /** run that copy's bin with its node, behind its prefix (itself after `prefix`) */
  from?: RunFrom;
}

export function run(args: string[], options: RunOptions = {}): Promise<Run> {
  const { from } = options;
  const command = from ? [...from.prefix, from.node, from.cli] : [process.execPath, BIN];
  const [file, ...rest] = [...(options.prefix ?? []), ...command, ...args];
  return new Promise((resolve) => {
    execFile(
      file,
      rest,
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...options.env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export async function runJson<T>(args: string[], options: Omit<RunOptions, 'env'> = {}): Promise<T> {
  const result = await run([...args, '--json'], options);
  if (result.code !== 0) throw new Error(`tcp-keepalive ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

const newest = (dir: string, ext: string): number =>
  Math.max(0, ...readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(ext)).map((f) => statSync(join(dir, f)).mtimeMs));

/** The command runs from dist/: compile when lib/cli is newer (npm test compiles first anyway). */
export function ensureBuilt(): void {
  if (newest(join(ROOT, 'dist', 'cli'), '.js') >= newest(join(ROOT, 'lib', 'cli'), '.ts')) return;
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ROOT], { stdio: 'pipe' });
  } catch {
    // Type errors elsewhere in lib/ still emit; the freshness check below decides.
  }
  if (newest(join(ROOT, 'dist', 'cli'), '.js') < newest(join(ROOT, 'lib', 'cli'), '.ts')) {
    throw new Error('dist/cli is older than lib/cli and tsc did not refresh it');
  }
}
