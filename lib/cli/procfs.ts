// Linux's view of TCP sockets without `ss`: /proc/net/tcp and tcp6 (format:
// net/ipv4/tcp_ipv4.c get_tcp4_sock, net/ipv6/tcp_ipv6.c get_tcp6_sock) and
// the socket inodes in /proc/<pid>/fd. Both files show the network namespace
// of the reading process.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';

export const STATES: Record<number, string> = {
  0x01: 'ESTABLISHED',
  0x02: 'SYN_SENT',
  0x03: 'SYN_RECV',
  0x04: 'FIN_WAIT1',
  0x05: 'FIN_WAIT2',
  0x06: 'TIME_WAIT',
  0x07: 'CLOSE',
  0x08: 'CLOSE_WAIT',
  0x09: 'LAST_ACK',
  0x0a: 'LISTEN',
  0x0b: 'CLOSING',
  0x0c: 'NEW_SYN_RECV',
};

/** The `tr` column: which of the socket's timers the kernel reports. */
export type Timer = 'none' | 'retransmit' | 'keepalive' | 'time-wait' | 'zero-window-probe';
const TIMERS: Record<number, Timer> = { 0: 'none', 1: 'retransmit', 2: 'keepalive', 3: 'time-wait', 4: 'zero-window-probe' };

/** The kernel prints tm->when in clock ticks of USER_HZ, 100 on every Linux architecture Node runs on. */
const MS_PER_CLOCK_TICK = 10;

export interface Endpoint {
  address: string;
  port: number;
}

export interface TcpEntry {
  protocol: 'tcp' | 'tcp6';
  local: Endpoint;
  remote: Endpoint;
  state: string;
  timer: Timer;
  /** ms until the reported timer fires */
  timerExpires: number;
  /** icsk_retransmits: retransmissions of the unacknowledged data */
  retransmits: number;
  /** icsk_probes_out: keepalive (or zero-window) probes sent and not answered */
  probes: number;
  uid: number;
  /** 0 when no process holds the socket any more */
  inode: number;
}

// The kernel prints each 32-bit word of the address as a host-order integer.
function wordsToBytes(hex: string, littleEndian: boolean): Buffer {
  const bytes = Buffer.from(hex, 'hex');
  if (littleEndian) for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  return bytes;
}

export function decodeAddress(hex: string, littleEndian = endianness() === 'LE'): string {
  const bytes = wordsToBytes(hex, littleEndian);
  if (bytes.length === 4) return [...bytes].join('.');
  const mappedPrefix = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
  if (bytes.subarray(0, 12).equals(mappedPrefix)) return `::ffff:${[...bytes.subarray(12)].join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
  // URL canonicalises IPv6 text (RFC 5952: longest zero run as ::).
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

function endpoint(field: string, littleEndian: boolean): Endpoint {
  const [address, port] = field.split(':');
  return { address: decodeAddress(address, littleEndian), port: parseInt(port, 16) };
}

/** Parses the text of /proc/net/tcp or /proc/net/tcp6. */
export function parseProcNetTcp(text: string, protocol: 'tcp' | 'tcp6', littleEndian = endianness() === 'LE'): TcpEntry[] {
  const entries: TcpEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [timer, expires] = f[5].split(':');
    entries.push({
      protocol,
      local: endpoint(f[1], littleEndian),
      remote: endpoint(f[2], littleEndian),
      state: STATES[parseInt(f[3], 16)] ?? `0x${f[3]}`,
      timer: TIMERS[parseInt(timer, 16)] ?? 'none',
      // A signed clock_t printed as %08lX: wider than 8 digits means negative, i.e. overdue.
      timerExpires: expires.length > 8 ? 0 : parseInt(expires, 16) * MS_PER_CLOCK_TICK,
      retransmits: parseInt(f[6], 16),
      uid: Number(f[7]),
      probes: Number(f[8]),
      inode: Number(f[9]),
    });
  }
  return entries;
}

/**
 * The TCP table of this process's network namespace, or of the namespace
 * of `pid` (/proc/<pid>/net shows the namespace of that process: a
 * container's, or one made with ip netns).
 */
export function readTcpTable(pid?: number): TcpEntry[] {
  const dir = pid === undefined ? '/proc/net' : `/proc/${pid}/net`;
  const read = (protocol: 'tcp' | 'tcp6') => {
    try {
      return parseProcNetTcp(readFileSync(`${dir}/${protocol}`, 'utf8'), protocol);
    } catch (error) {
      // A kernel without IPv6 has no tcp6 file.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && protocol === 'tcp6') return [];
      throw error;
    }
  };
  return [...read('tcp'), ...read('tcp6')];
}

export interface Process {
  pid: number;
  command: string;
}

export interface Owners {
  /** socket inode -> processes holding it */
  byInode: Map<number, Process[]>;
  /** processes whose descriptors this user may not read */
  unreadable: Set<number>;
}

function command(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** Maps socket inodes to processes through /proc/<pid>/fd, as far as permissions allow. */
export function readOwners(): Owners {
  const byInode = new Map<number, Process[]>();
  const unreadable = new Set<number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch (error) {
      // EACCES: another user's process; ENOENT: it exited meanwhile.
      if ((error as NodeJS.ErrnoException).code === 'EACCES') unreadable.add(pid);
      continue;
    }
    let process: Process | undefined;
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (!match) continue;
      process ??= { pid, command: command(pid) };
      const inode = Number(match[1]);
      const list = byInode.get(inode) ?? [];
      if (!list.some((p) => p.pid === pid)) list.push(process);
      byInode.set(inode, list);
    }
  }
  return { byInode, unreadable };
}

/** uid -> user name from /etc/passwd; the number where it is not listed. */
export function userNames(): (uid: number) => string {
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid && !names.has(Number(uid))) names.set(Number(uid), name);
    }
  } catch {
    // no passwd file (a minimal container): numbers it is
  }
  return (uid) => names.get(uid) ?? String(uid);
}
