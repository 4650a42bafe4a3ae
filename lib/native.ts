// The one place the native addon is loaded: on the first native call, never
// at require time, and never fatally. node-gyp-build finds it (a build from
// source in build/Release, else prebuilds/<platform>-<arch>/ by the names
// prebuildify writes), so the package follows the prebuild conventions its
// tooling knows. It reads at most four folders (build/Release, build/Debug,
// prebuilds/, prebuilds/<platform>-<arch>/), once, at that first call, so
// require('tcp-keepalive') pays nothing for it (bench/load.js measures both).
// Without it the package works through Node's own API
// (lib/kernel/keepalive.ts); what only the addon can do throws
// ERR_TCP_KEEPALIVE_UNSUPPORTED naming why it is missing and the fix.
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BUNDLE_FIX, unsupported } from './errors';

/** The native layer; times as the kernel takes them (whole seconds), -1 = leave as is. */
export interface NativeBinding {
  setKeepAlive(fd: number, enable: boolean, idleS: number, intervalS: number, count: number, userTimeoutMs: number): void;
  /** [enabled, idleS, intervalS, count, userTimeoutMs (-1: no such option)] */
  getKeepAlive(fd: number): [boolean, number, number, number, number];
  /** [idleS, intervalS, count] */
  systemDefaults(): [number, number, number];
  tcpInfo(fd: number): TcpInfo;
  /** [address, port] of the peer, readable after the connection died (Linux); null where not */
  peerName(fd: number): [string, number] | null;
  /**
   * The fd of the connected TCP socket with these endpoints in this process,
   * or -1; `hintFd` (or -1) is checked first. Linux and macOS.
   */
  findConnectionFd(hintFd: number, localAddress: string, localPort: number, remoteAddress: string, remotePort: number): number;
}

/** Fields of TCP_INFO every platform can fill; null where this one cannot. */
export interface TcpInfo {
  /** the TCP state, as the kernel numbers it (Linux: 1 ESTABLISHED … 11 CLOSING) */
  state: number | null;
  /** retransmissions of the current unacknowledged segment */
  retransmits: number | null;
  /** keepalive probes sent and not answered */
  probes: number | null;
  /** exponential backoff of the retransmission timer */
  backoff: number | null;
  /** retransmission timeout, µs */
  rtoUs: number | null;
  /** smoothed round-trip time, µs */
  rttUs: number | null;
  /** segments sent and not yet acknowledged */
  unacked: number | null;
  /** ms since data was last sent */
  lastDataSentMs: number | null;
  /** ms since data was last received */
  lastDataRecvMs: number | null;
  /** ms since an ACK was last received */
  lastAckRecvMs: number | null;
}

/** What the .node file exports: the library's functions and the harness's object. */
type Addon = NativeBinding & { harness: unknown };

// A bundler (esbuild, ncc, webpack) folds this file into the application's
// bundle: __filename is then the bundle's, and the folder above it is the
// application's, not this package's. Only here, as dist/native.js, does the
// package root sit one folder up. ES module output may have no __filename.
const here: string | undefined = typeof __filename === 'string' ? __filename : undefined;

/** Where this code runs from: the package as installed, or a bundle. */
export function whereFrom(file: string | undefined = here): { bundled: false; root: string } | { bundled: true; bundle: string | undefined } {
  if (file !== undefined && /[\\/]dist[\\/]native\.js$/.test(file)) return { bundled: false, root: join(file, '..', '..') };
  return { bundled: true, bundle: file };
}

/** The variable node-gyp-build itself reads for this package: a folder holding prebuilds/ (or build/Release). */
export const PREBUILD_ENV = 'TCP_KEEPALIVE_PREBUILD';

/**
 * Folders to hand node-gyp-build, best first: the one the user named, then
 * the package itself, or, inside a bundle, the bundle's own folder (where the
 * recipes in docs/platforms.md copy prebuilds/).
 */
export function addonFolders(env: NodeJS.ProcessEnv = process.env, from = whereFrom()): string[] {
  const folders: string[] = [];
  if (env[PREBUILD_ENV]) folders.push(env[PREBUILD_ENV]);
  if (!from.bundled) folders.push(from.root);
  else if (from.bundle !== undefined) folders.push(dirname(from.bundle));
  return folders;
}

type NodeGypBuild = { path(dir: string): string };

/** A file named as this package's addon: prebuildify's <name>[.<tags>].node, or node-gyp's target. */
const OURS = /(^|[\\/])(tcp-keepalive(\.[\w-]+)*|tcp_keepalive)\.node$/;

/**
 * node-gyp-build's choice in `folder`, or why there is none. Its prebuild
 * matching ignores the name part of a file, so a prebuilds/ shared with
 * another package's addon could hand over theirs: that is refused by name.
 * Linux prebuilds carry their libc; where node-gyp-build guessed glibc (it
 * knows Alpine only) and that fails, the musl build is tried.
 */
function findIn(folder: string, gyp: NodeGypBuild): { path: string } | { reason: string } {
  let found: string;
  try {
    found = gyp.path(folder);
  } catch (error) {
    const message = String((error as Error).message).split('\n')[0];
    // node-gyp-build lists the tags it matched against; what a user needs is which platform and where.
    if (/^No native build was found/.test(message)) {
      return { reason: `no build of the native addon for ${process.platform}-${process.arch} in ${folder} (no prebuild fits and none was compiled at install)` };
    }
    return { reason: `${folder}: ${message}` };
  }
  if (OURS.test(found)) return { path: found };
  // Ours with the same tags, when it is there beside the other package's.
  const name = basename(found);
  const sameTags = join(dirname(found), `tcp-keepalive${name.slice(name.indexOf('.'))}`);
  if (existsSync(sameTags)) return { path: sameTags };
  return { reason: `${found} is not this package's addon, and ${sameTags} is missing (another package's prebuilds/ in the same folder?)` };
}

function dlopen(path: string): Addon {
  const module = { exports: {} as Addon };
  process.dlopen(module, path);
  return module.exports;
}

export type LoadResult = { binding: Addon; path: string } | { binding: null; reason: string; bundled: boolean; loaderRuns: boolean };

/** The first folder whose addon loads, or why none did. */
export function loadAddon(env: NodeJS.ProcessEnv = process.env, from = whereFrom()): LoadResult {
  const failures: string[] = [];
  let gyp: NodeGypBuild;
  try {
    gyp = require('node-gyp-build') as NodeGypBuild;
  } catch (error) {
    // An ES module bundle whose CommonJS code has no require (ncc's, e.g.).
    return { binding: null, reason: `node-gyp-build cannot run here (${(error as Error).message})`, bundled: from.bundled, loaderRuns: false };
  }
  const folders = addonFolders(env, from);
  for (const folder of folders) {
    const found = findIn(folder, gyp);
    if ('reason' in found) {
      failures.push(found.reason);
      continue;
    }
    const musl = found.path.replace(/\.glibc\.node$/, '.musl.node');
    for (const path of musl !== found.path && existsSync(musl) ? [found.path, musl] : [found.path]) {
      try {
        return { binding: dlopen(path), path };
      } catch (error) {
        failures.push(`${path} cannot be loaded: ${String((error as Error).message).split('\n')[0]}`);
      }
    }
  }
  if (from.bundled && folders.length === 0) failures.push('the bundle does not say where it is (no __filename in ES module output)');
  const reason =
    failures.length > 0 ? failures.join('; ') : `no build of the native addon for ${process.platform}-${process.arch} (no prebuild fits and none was compiled at install)`;
  return { binding: null, reason, bundled: from.bundled, loaderRuns: true };
}

/** What to do about a missing addon: installed, compile it; inside a bundle, bring the prebuilds or leave the package out. */
export function addonRemedy(state: { bundled: boolean; loaderRuns: boolean }): string {
  if (!state.loaderRuns) return `To load it: ${BUNDLE_FIX}`;
  if (state.bundled) {
    return (
      'tcp-keepalive runs from inside a bundle: copy node_modules/tcp-keepalive/prebuilds/ next to the bundle, ' +
      `or set ${PREBUILD_ENV} to a folder holding prebuilds/, or mark tcp-keepalive external (docs/platforms.md, "Bundlers")`
    );
  }
  return 'To get it: install python3, make and a C++ compiler, then run "npm rebuild tcp-keepalive"';
}

let loaded: ReturnType<typeof loadAddon> | undefined;
const load = () => (loaded ??= loadAddon());

/** Whether the addon loaded; loads it on the first call. */
export function hasAddon(): boolean {
  return load().binding !== null;
}

/** Why the addon is missing, and what to do about it (for messages). */
export function missingAddon(what: string): Error {
  const state = load();
  if (state.binding !== null) return unsupported(`${what} needs the native addon`);
  return unsupported(`${what} needs the native addon, which is not available: ${state.reason}. ${addonRemedy(state)}`);
}

/** The remedy for a missing addon here, for messages about what only the addon can do. */
export function missingAddonRemedy(): string {
  const state = load();
  return state.binding === null ? addonRemedy(state) : '';
}

/**
 * Methods that load the addon on the first call of any of them. Each then
 * replaces itself with the addon's own function (no cost per call after the
 * first), or, with no addon, with one that throws ERR_TCP_KEEPALIVE_UNSUPPORTED.
 */
function loadedOnFirstCall<T extends object>(names: readonly string[], pick: (addon: Addon) => T): T {
  const target = {} as Record<string, unknown>;
  const settle = () => {
    const { binding: addon } = load();
    const source = addon === null ? null : (pick(addon) as Record<string, unknown>);
    for (const name of names) {
      target[name] =
        source !== null
          ? source[name]
          : () => {
              throw missingAddon(`${name}()`);
            };
    }
  };
  for (const name of names) {
    target[name] = (...args: unknown[]) => {
      settle();
      return (target[name] as (...a: unknown[]) => unknown)(...args);
    };
  }
  return target as T;
}

// Every method of NativeBinding, or the compiler complains: a method left out
// here would be missing at run time.
const LIBRARY_METHODS: Record<keyof NativeBinding, true> = { setKeepAlive: true, getKeepAlive: true, systemDefaults: true, tcpInfo: true, peerName: true, findConnectionFd: true };

export const binding: NativeBinding = loadedOnFirstCall(Object.keys(LIBRARY_METHODS), (addon) => addon);

/** The test harness's own functions, typed where they are used (lib/harness/native.ts). */
export const harnessExports: unknown = loadedOnFirstCall(['attachDropFilter', 'detachFilter', 'setRepairMode'], (addon) => addon.harness as object);
