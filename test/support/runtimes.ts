// Bun and Deno as scripts/install-runtimes.js installs them (pretest), and a
// copy of the package laid out as an install puts it, for runtimes that
// treat a file differently inside node_modules (Deno's --preload).
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './paths';

export type Runtime = 'bun' | 'deno';
const BIN_DIR = join(ROOT, 'node_modules', '.cache', 'tcp-keepalive-tests', 'runtimes', 'node_modules', '.bin');

/** The binary, or why there is none. */
export function runtimeBinary(runtime: Runtime): { path: string } | { missing: string } {
  const path = join(BIN_DIR, runtime);
  if (existsSync(path)) return { path };
  return { missing: `no ${runtime} in ${BIN_DIR}: scripts/install-runtimes.js (run by pretest) installs it, on platforms its npm package has a binary for` };
}

/** The command line that runs a script: Deno needs `run` and its permissions. */
export function runtimeCommand(runtime: Runtime, binary: string, script: string, args: string[] = [], flags: string[] = []): string[] {
  return runtime === 'deno' ? [binary, 'run', '--allow-all', ...flags, script, ...args] : [binary, ...flags, script, ...args];
}

/**
 * A project folder with node_modules/tcp-keepalive holding this checkout's
 * package.json and dist/, and the addon unless `withAddon` is false, with
 * its run-time dependencies beside it.
 */
export function installedCopy(withAddon: boolean): { project: string; pkg: string } {
  const project = mkdtempSync(join(tmpdir(), `tcp-keepalive-runtimes-${process.pid}-`));
  writeFileSync(join(project, 'package.json'), '{ "private": true, "dependencies": { "tcp-keepalive": "*" } }\n');
  const pkg = join(project, 'node_modules', 'tcp-keepalive');
  mkdirSync(pkg, { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  if (withAddon) cpSync(join(ROOT, 'build', 'Release', 'tcp_keepalive.node'), join(pkg, 'build', 'Release', 'tcp_keepalive.node'));
  // The package's own dependencies that it loads at run time, beside it as npm puts them.
  for (const dependency of ['node-gyp-build', 'picocolors']) {
    cpSync(join(ROOT, 'node_modules', dependency), join(project, 'node_modules', dependency), { recursive: true });
  }
  return { project, pkg };
}

export interface Reported<T> {
  child: ChildProcess;
  /** the first line the script printed, parsed */
  report: T;
  stderr: () => string;
  /** closes the script's stdin, which ends it; resolves with its exit code */
  finish(): Promise<number | null>;
}

/**
 * Runs a fixture that prints one JSON line and then holds its sockets open
 * until its stdin closes, so that `ss` can look at them meanwhile.
 */
export function runReporting<T>(command: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<Reported<T>> {
  const [file, ...args] = command;
  const child = spawn(file, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command.join(' ')} printed no report within ${options.timeout ?? 30_000} ms; stderr: ${stderr}`));
    }, options.timeout ?? 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      try {
        const report = JSON.parse(stdout.slice(0, newline)) as T;
        resolve({
          child,
          report,
          stderr: () => stderr,
          finish: () => {
            child.stdin!.end();
            return exited;
          },
        });
      } catch (error) {
        child.kill('SIGKILL');
        reject(new Error(`not a JSON report: ${stdout.slice(0, 200)}; stderr: ${stderr}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${command.join(' ')} exited ${code} before reporting; stderr: ${stderr}`));
    });
  });
}

/** What `ss -Htno state established` shows of one connection end: the keepalive timer's remaining ms, or null when no keepalive timer runs. */
export interface SsEnd {
  localPort: number;
  peerPort: number;
  keepaliveMs: number | null;
}

export function parseSs(output: string): SsEnd[] {
  const ends: SsEnd[] = [];
  for (const line of output.split('\n')) {
    const ports = /^\s*\d+\s+\d+\s+\S+:(\d+)\s+\S+:(\d+)/.exec(line);
    if (!ports) continue;
    const timer = /timer:\(keepalive,(?:(\d+)min)?(?:(\d+)sec)?(?:(\d+)ms)?,/.exec(line);
    const keepaliveMs = timer ? Number(timer[1] ?? 0) * 60_000 + Number(timer[2] ?? 0) * 1000 + Number(timer[3] ?? 0) : null;
    ends.push({ localPort: Number(ports[1]), peerPort: Number(ports[2]), keepaliveMs });
  }
  return ends;
}
