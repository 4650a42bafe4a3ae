// Which deaths this process may cause, and where it can go to cause the
// others: an unprivileged user and network namespace of its own.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { handleFd } from '../kernel/socket';
import { harnessBinding } from './native';

const CAP_NET_ADMIN = 12;

/** True when this process holds CAP_NET_ADMIN in its network namespace (root usually does). */
export function hasNetAdmin(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return hex !== undefined && ((BigInt('0x' + hex) >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n;
  } catch {
    return false;
  }
}

let probe: Promise<boolean> | undefined;

/**
 * True when this process may attach socket filters and use TCP_REPAIR here,
 * tried once for real on a loopback socket: capabilities held in a user
 * namespace that does not own this network namespace show in CapEff but
 * do not count.
 */
export function canAdministerNetwork(): Promise<boolean> {
  if (!hasNetAdmin()) return Promise.resolve(false);
  probe ??= (async () => {
    // A connected socket rather than the listener: its fd is found in Bun
    // and Deno too (handleFd), where no listener shows one.
    const server = net.createServer();
    let client: net.Socket | undefined;
    try {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      await once(client, 'connect');
      const fd = handleFd(client);
      harnessBinding.attachDropFilter(fd);
      harnessBinding.detachFilter(fd);
      return true;
    } catch {
      return false;
    } finally {
      client?.destroy();
      server.close();
    }
  })();
  return probe;
}

function findTool(name: string): string | undefined {
  return ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((dir) => `${dir}/${name}`).find((p) => existsSync(p));
}

export type NamespaceSupport = { ok: true; unshare: string; ip: string } | { ok: false; reason: string };

let cached: NamespaceSupport | undefined;

/**
 * Whether this system lets an unprivileged process create a user and
 * network namespace with loopback up: tried once, for real, since
 * distributions restrict it in different ways (sysctls, AppArmor, seccomp).
 */
export function namespaceSupport(): NamespaceSupport {
  if (cached) return cached;
  if (process.platform !== 'linux') return (cached = { ok: false, reason: `${process.platform} has no network namespaces` });
  const unshare = findTool('unshare');
  const ip = findTool('ip');
  if (!unshare) return (cached = { ok: false, reason: 'unshare (util-linux), which would get it in a namespace, is not installed' });
  if (!ip) return (cached = { ok: false, reason: 'ip (iproute2), which brings loopback up in a namespace, is not installed' });
  const trial = spawnSync(unshare, ['-U', '-r', '-n', ip, 'link', 'set', 'lo', 'up'], { encoding: 'utf8', timeout: 5000 });
  if (trial.status !== 0) {
    const why = (trial.stderr || trial.error?.message || `exit ${trial.status}`).trim().split('\n')[0];
    return (cached = { ok: false, reason: `this system refuses an unprivileged user+network namespace to get it in (${why})` });
  }
  return (cached = { ok: true, unshare, ip });
}

/**
 * The command prefix that runs a program inside a fresh user and network
 * namespace with loopback up, as root of that namespace only.
 */
export function namespacePrefix(support: { unshare: string; ip: string }): string[] {
  return [support.unshare, '-U', '-r', '-n', '/bin/sh', '-c', `"${support.ip}" link set lo up && exec "$0" "$@"`];
}
