// Running the built package as user nobody, from any checkout. A checkout
// in a directory only its owner can enter (mode 700, as `mktemp -d` makes
// and as root's home is) is out of nobody's reach, and so may be the node
// binary (the CI matrix's nodes live under mktemp dirs). So nobody runs a
// scratch copy of what its process loads, in a directory it can reach:
// one per test process, removed after the file's tests.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, linkSync, lstatSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { ROOT } from './paths';
import { isLinux, isRoot } from './sockets';

/** util-linux setpriv, to run a command as another user; undefined where missing. */
export const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
/** setpriv arguments that drop to user and group nobody (65534) with no supplementary groups. */
export const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

export interface Unprivileged {
  /** Why nothing can run as nobody here (one line), or undefined when it can. */
  reason: string | undefined;
  /**
   * Put before a command to run it as nobody: setpriv, then env -C to the
   * copy's root, because a working directory in a checkout nobody cannot
   * reach fails too (Node 26 reads the package.json above an -e script's).
   */
  prefix: string[];
  /** A node binary nobody can run. */
  node: string;
  /** The scratch copy of the package: its root, the built harness and the CLI's bin. */
  root: string;
  harness: string;
  cli: string;
}

const DIR_PREFIX = 'tka-nobody-';

/** Whether nobody can run the file, or enter the directory: asked of the kernel, not guessed from modes. */
function nobodyCanExecute(path: string): boolean {
  return spawnSync(setpriv!, [...NOBODY, '/usr/bin/test', '-x', path]).status === 0;
}

/** Readable by all, and directories and executables enterable by all, whatever the umask made of the checkout. */
function openToAll(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  const executable = stat.isDirectory() || (stat.mode & 0o111) !== 0;
  chmodSync(path, (stat.mode & 0o7777) | 0o444 | (executable ? 0o111 : 0));
  if (stat.isDirectory()) for (const entry of readdirSync(path)) openToAll(join(path, entry));
}

/** The package's runtime dependencies and theirs, as installed in the checkout's node_modules. */
function runtimeDependencies(): string[] {
  const found = new Set<string>();
  const visit = (packageJson: string) => {
    const { dependencies = {} } = JSON.parse(readFileSync(packageJson, 'utf8')) as { dependencies?: Record<string, string> };
    for (const name of Object.keys(dependencies)) {
      if (found.has(name)) continue;
      found.add(name);
      visit(join(ROOT, 'node_modules', name, 'package.json'));
    }
  };
  visit(join(ROOT, 'package.json'));
  return [...found];
}

/** A new directory nobody can enter: under the temp dir, else /tmp (a TMPDIR may itself be closed to others). */
function reachableDir(): string | undefined {
  for (const base of new Set([tmpdir(), '/tmp'])) {
    removeStale(base);
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(base, `${DIR_PREFIX}${process.pid}-`));
      chmodSync(dir, 0o755);
      if (nobodyCanExecute(dir)) return dir;
    } catch {
      // not writable here: try the next
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  return undefined;
}

/** Copies left by test processes killed before their afterAll. */
function removeStale(base: string): void {
  try {
    for (const entry of readdirSync(base)) {
      const owner = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(entry)?.[1];
      if (owner && !existsSync(`/proc/${owner}`)) rmSync(join(base, entry), { recursive: true, force: true });
    }
  } catch {
    // an unreadable temp dir holds nothing of ours
  }
}

/** This node, where nobody can run it already; else a hard link to it in `dir`, else a copy (across filesystems, or a mode closed to others). */
function reachableNode(dir: string): string {
  if (nobodyCanExecute(process.execPath)) return process.execPath;
  const node = join(dir, 'node');
  try {
    linkSync(process.execPath, node);
    if (nobodyCanExecute(node)) return node;
    // A link shares the original's mode, which must not change: copy instead.
    unlinkSync(node);
  } catch {
    // EXDEV (the temp dir is on another filesystem), or a link refused
  }
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  return node;
}

/** The scratch copy: dist/, the bin, package.json, the built addon (and this platform's prebuilds), the runtime dependencies. */
function makeCopy(dir: string): Omit<Unprivileged, 'reason' | 'prefix'> {
  const root = join(dir, 'package');
  // From where a link leads: scripts/asan.sh's copy links node_modules to the checkout's.
  const copy = (path: string) => cpSync(realpathSync(join(ROOT, path)), join(root, path), { recursive: true, dereference: true });
  for (const part of ['package.json', 'dist', 'bin']) copy(part);
  // Only the .node files: build/ also holds the compiler's objects.
  const release = join(ROOT, 'build', 'Release');
  if (existsSync(release)) for (const file of readdirSync(release).filter((f) => f.endsWith('.node'))) copy(join('build', 'Release', file));
  const prebuilds = join('prebuilds', `${process.platform}-${process.arch}`);
  if (existsSync(join(ROOT, prebuilds))) copy(prebuilds);
  for (const name of runtimeDependencies()) copy(join('node_modules', name));
  openToAll(root);
  return { root, harness: join(root, 'dist', 'harness', 'index.js'), cli: join(root, 'bin', 'tcp-keepalive.js'), node: reachableNode(dir) };
}

let made: Unprivileged | undefined;

/**
 * What a test needs to run the built package as user nobody; call it at the
 * top of a test file (the copy is removed in that file's afterAll). `reason`
 * says in one line why it cannot, for it.skipIf(): not Linux, not root (only
 * root can drop to nobody), no setpriv, or no copy nobody can reach. In CI
 * (`CI` set, as CI services do) that last one fails instead: it would hide
 * every unprivileged test.
 */
export function unprivileged(): Unprivileged {
  made ??= prepare();
  return made;
}

function prepare(): Unprivileged {
  const none = (reason: string): Unprivileged => ({ reason, prefix: [], node: '', root: '', harness: '', cli: '' });
  if (!isLinux) return none(`${process.platform}: the tests drop privileges with Linux's setpriv`);
  if (!isRoot) return none('not root: only root can drop to user nobody');
  if (!setpriv) return none('setpriv (util-linux) is not installed');
  const cannot = (reason: string): Unprivileged => {
    if (process.env.CI) throw new Error(`${reason} (in CI no test that drops privileges may be skipped)`);
    return none(reason);
  };

  const dir = reachableDir();
  if (!dir) return cannot(`no temp dir user nobody can enter (tried ${[...new Set([tmpdir(), '/tmp'])].join(', ')})`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const copy = makeCopy(dir);
    const prefix = [setpriv, ...NOBODY, '/usr/bin/env', '-C', copy.root];
    if (spawnSync(prefix[0], [...prefix.slice(1), copy.node, '-e', `require(${JSON.stringify(copy.harness)})`]).status !== 0) {
      return cannot(`user nobody cannot load its copy of the package in ${dir}`);
    }
    return { reason: undefined, prefix, ...copy };
  } catch (error) {
    return cannot(`could not copy the package for user nobody to ${dir}: ${(error as Error).message.split('\n')[0]}`);
  }
}
