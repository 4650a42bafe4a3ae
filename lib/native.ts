// The one place the native addon is loaded: on first use, from a known path
// (no directory scan), and never fatally. Without it the package works
// through Node's own API (lib/kernel/keepalive.ts); what only the addon can
// do throws ERR_TCP_KEEPALIVE_UNSUPPORTED naming why it is missing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { unsupported } from './errors';

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

const root = join(__dirname, '..');

/**
 * Where the addon can be, best first: a build from source (a checkout, or an
 * install that compiled), then the prebuild for this platform. Linux
 * prebuilds are tagged by libc; musl is tried where glibc's fails to load.
 */
export function addonCandidates(platform: string = process.platform, arch: string = process.arch): string[] {
  const prebuilds = join(root, 'prebuilds', `${platform}-${arch}`);
  const prebuilt = platform === 'linux' ? ['glibc', 'musl'].map((libc) => join(prebuilds, `tcp-keepalive.${libc}.node`)) : [join(prebuilds, 'tcp-keepalive.node')];
  return [join(root, 'build', 'Release', 'tcp_keepalive.node'), ...prebuilt];
}

/** The first candidate that loads, or why none did. */
export function loadAddon(): { binding: Addon; path: string } | { binding: null; reason: string } {
  const failures: string[] = [];
  for (const path of addonCandidates()) {
    if (!existsSync(path)) continue;
    try {
      const module = { exports: {} as Addon };
      process.dlopen(module, path);
      return { binding: module.exports, path };
    } catch (error) {
      failures.push(`${path} cannot be loaded: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const reason = failures.length > 0 ? failures.join('; ') : `no build of the native addon for ${process.platform}-${process.arch} (no prebuild fits and none was compiled at install)`;
  return { binding: null, reason };
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
  const reason = state.binding === null ? state.reason : 'the native addon is loaded';
  return unsupported(
    `${what} needs the native addon, which is not available: ${reason}. ` +
      'To get it: install python3, make and a C++ compiler, then run "npm rebuild tcp-keepalive"',
  );
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
const LIBRARY_METHODS: Record<keyof NativeBinding, true> = { setKeepAlive: true, getKeepAlive: true, systemDefaults: true, tcpInfo: true, peerName: true };

export const binding: NativeBinding = loadedOnFirstCall(Object.keys(LIBRARY_METHODS), (addon) => addon);

/** The test harness's own functions, typed where they are used (lib/harness/native.ts). */
export const harnessExports: unknown = loadedOnFirstCall(['attachDropFilter', 'detachFilter', 'setRepairMode'], (addon) => addon.harness as object);
