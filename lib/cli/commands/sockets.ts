// `tcp-keepalive sockets`: the live TCP connections of this network
// namespace and their keepalive state as the kernel reports it.
//
// What /proc/net/tcp tells: the `tr` column names one pending timer. On an
// established connection with keepalive on, the keepalive timer is always
// armed, so it shows as 2 unless the retransmission or zero-window timer
// takes precedence (data in flight: keepalive is silent then anyway). No
// timer at all means keepalive is off: that connection never notices a
// peer that vanished while it was idle.
import { networkNamespace } from '../../kernel/sysctl';
import { color, humanDuration, parse, parseInteger, printJson, table, type Command } from '../common';
import { readOwners, readTcpTable, userNames, type Endpoint, type Owners, type Process, type TcpEntry, type Timer } from '../procfs';

/** States in which the kernel's keepalive timer runs and it makes sense to ask. */
const KEEPALIVE_STATES = new Set(['ESTABLISHED', 'CLOSE_WAIT']);
/** Not connections: a listener, or what is left after close. */
const SKIPPED_STATES = new Set(['LISTEN', 'TIME_WAIT', 'NEW_SYN_RECV']);

export interface Connection {
  protocol: 'tcp' | 'tcp6';
  local: Endpoint;
  remote: Endpoint;
  state: string;
  /** null when the kernel's report cannot tell (another timer is pending) or the state has none */
  keepalive: boolean | null;
  timer: Timer;
  /** ms until the keepalive timer fires: it probes then if the connection is still idle */
  nextProbe: number | null;
  /** keepalive probes sent and not answered */
  probesSent: number | null;
  retransmits: number;
  uid: number;
  user: string;
  inode: number;
  owners: Process[];
  /** why owners is empty; null when it is not */
  ownerUnknown: string | null;
}

export interface SocketsReport {
  namespace: string | null;
  connections: Connection[];
  summary: { total: number; keepaliveOn: number; keepaliveOff: number; unknown: number; ownerUnknown: number };
  /** what this run could not see, in words */
  notes: string[];
}

function ownerReason(entry: TcpEntry, owners: Owners, privileged: boolean): string {
  if (entry.inode === 0) return 'none (closed, the kernel is finishing it)';
  if (!privileged && owners.unreadable.size > 0) return 'unknown (needs root)';
  return 'unknown: no process in view holds it';
}

export function classify(entry: TcpEntry, owners: Owners, user: (uid: number) => string, privileged: boolean): Connection {
  const inKeepaliveState = KEEPALIVE_STATES.has(entry.state);
  let keepalive: boolean | null = null;
  if (inKeepaliveState && entry.timer === 'keepalive') keepalive = true;
  if (inKeepaliveState && entry.timer === 'none') keepalive = false;
  const found = entry.inode === 0 ? [] : (owners.byInode.get(entry.inode) ?? []);
  return {
    protocol: entry.protocol,
    local: entry.local,
    remote: entry.remote,
    state: entry.state,
    keepalive,
    timer: entry.timer,
    nextProbe: keepalive ? entry.timerExpires : null,
    probesSent: keepalive ? entry.probes : null,
    retransmits: entry.retransmits,
    uid: entry.uid,
    user: user(entry.uid),
    inode: entry.inode,
    owners: found,
    ownerUnknown: found.length > 0 ? null : ownerReason(entry, owners, privileged),
  };
}

export interface Filter {
  pid?: number;
  port?: number;
}

export function report(entries: TcpEntry[], owners: Owners, filter: Filter, privileged: boolean, namespace: string | null): SocketsReport {
  const user = userNames();
  const notes: string[] = [];
  let connections = entries
    .filter((e) => !SKIPPED_STATES.has(e.state))
    .filter((e) => filter.port === undefined || e.local.port === filter.port || e.remote.port === filter.port)
    .map((e) => classify(e, owners, user, privileged));
  if (filter.pid !== undefined) {
    const pid = filter.pid;
    if (owners.unreadable.has(pid)) {
      notes.push(`The sockets of pid ${pid} are not visible: reading another user's /proc/${pid}/fd needs root.`);
    }
    connections = connections.filter((c) => c.owners.some((p) => p.pid === pid));
  }
  const order = (c: Connection) => (c.keepalive === false ? 0 : c.keepalive === null ? 1 : 2);
  connections.sort((a, b) => order(a) - order(b) || a.local.port - b.local.port || a.remote.port - b.remote.port);
  const ownerUnknown = connections.filter((c) => c.owners.length === 0 && c.inode !== 0).length;
  if (ownerUnknown > 0 && !privileged && owners.unreadable.size > 0) {
    notes.push(
      `Owner unknown for ${ownerUnknown} connection${ownerUnknown === 1 ? '' : 's'}: ` +
        `the descriptors of ${owners.unreadable.size} processes of other users need root to read. ` +
        'Keepalive state is shown for all.',
    );
  }
  return {
    namespace,
    connections,
    summary: {
      total: connections.length,
      keepaliveOn: connections.filter((c) => c.keepalive === true).length,
      keepaliveOff: connections.filter((c) => c.keepalive === false).length,
      unknown: connections.filter((c) => c.keepalive === null).length,
      ownerUnknown,
    },
    notes,
  };
}

const hostPort = ({ address, port }: Endpoint) => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

function keepaliveCell(c: Connection): string {
  if (c.keepalive === true) return color.green('on');
  if (c.keepalive === false) return color.red('OFF: never notices a dead peer');
  if (!KEEPALIVE_STATES.has(c.state)) return color.dim('-');
  if (c.timer === 'retransmit') return color.yellow(`? data in flight, ${c.retransmits} retransmits`);
  if (c.timer === 'zero-window-probe') return color.yellow('? zero-window probing');
  return color.dim('-');
}

function ownerCell(c: Connection): string {
  if (c.owners.length === 0) return color.dim(c.ownerUnknown ?? '');
  const [first, ...others] = c.owners;
  return `${first.pid}/${first.command}${others.length ? ` +${others.length} more` : ''}`;
}

export function render(r: SocketsReport): string {
  const where = r.namespace ? ` in network namespace ${r.namespace}` : '';
  const out = [color.bold(`TCP connections${where} (IPv4 and IPv6, without listeners and TIME_WAIT)`), ''];
  if (r.connections.length === 0) out.push('none');
  else {
    const rows = r.connections.map((c) => [
      c.protocol,
      hostPort(c.local),
      hostPort(c.remote),
      c.state,
      keepaliveCell(c),
      c.nextProbe === null ? '-' : humanDuration(c.nextProbe),
      c.probesSent === null ? '-' : String(c.probesSent),
      c.user,
      ownerCell(c),
    ]);
    out.push(table(rows, ['proto', 'local', 'remote', 'state', 'keepalive', 'next probe', 'probes', 'user', 'owner']));
  }
  const s = r.summary;
  out.push(
    '',
    `${s.total} connection${s.total === 1 ? '' : 's'}: ${s.keepaliveOn} with keepalive on, ` +
      `${s.keepaliveOff > 0 ? color.red(`${s.keepaliveOff} without (they never notice a dead idle peer)`) : '0 without'}` +
      (s.unknown > 0 ? `, ${s.unknown} undetermined (closing, or data in flight: keepalive is silent then)` : '') +
      '.',
  );
  if (s.keepaliveOn > 0) out.push('next probe: when the keepalive timer fires; it probes then if the connection is still idle.');
  out.push(...r.notes);
  return out.join('\n');
}

const USAGE = `Usage: tcp-keepalive sockets [--pid <pid>] [--port <port>] [--json]

The live TCP connections of this network namespace (IPv4 and IPv6), read from
/proc/net/tcp and /proc/net/tcp6: keepalive on or off, time to the next probe,
probes sent, and the owning process where this user may see it.

  --pid <pid>    only connections held by this process, read from its own
                 network namespace (/proc/<pid>/net/tcp), also in a container
  --port <port>  only connections with this local or remote port
  --json         one JSON object; times in ms
  -h, --help`;

export const command: Command = {
  summary: 'live TCP connections and their keepalive state; marks the unprotected ones',
  usage: USAGE,
  run(argv) {
    const { values } = parse(argv, { pid: { type: 'string' }, port: { type: 'string' }, json: { type: 'boolean' } });
    if (process.platform !== 'linux') {
      throw new Error(`listing sockets reads /proc/net/tcp, which ${process.platform} does not have`);
    }
    const filter: Filter = {};
    if (typeof values.pid === 'string') filter.pid = parseInteger(values.pid, '--pid', 1, 2 ** 22);
    if (typeof values.port === 'string') filter.port = parseInteger(values.port, '--port', 1, 65535);
    const owners = readOwners();
    if (filter.pid !== undefined && !owners.unreadable.has(filter.pid) && !processExists(filter.pid)) {
      throw new Error(`no process with pid ${filter.pid}`);
    }
    const privileged = process.geteuid?.() === 0;
    // With --pid, the table of that process's own network namespace: a
    // process in a container or another namespace has its connections there.
    const r = report(readTcpTable(filter.pid), owners, filter, privileged, networkNamespace(filter.pid));
    if (values.json) printJson(r);
    else process.stdout.write(render(r) + '\n');
    return 0;
  },
};

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
