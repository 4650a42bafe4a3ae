// A middlebox between a client and a server: Linux conntrack in a network
// namespace of its own, which forgets a connection idle for longer than its
// timeout and then drops the connection's next packet or answers it with a
// RST, as load balancers, NAT gateways and stateful firewalls do.
//
// Three network namespaces, each held open by a sleeping process:
//
//   client 10.77.1.1 ── veth ── 10.77.1.254  middle  10.77.2.254 ── veth ── 10.77.2.1 server
//
// The middle one forwards between the two and tracks every connection
// (nf_conntrack) with no loose pick-up (nf_conntrack_tcp_loose=0: a packet
// of a connection it does not know is invalid, never adopted) and a short
// nf_conntrack_tcp_timeout_established; nft drops (or rejects with a TCP
// reset) whatever conntrack calls invalid or new without being a SYN.
// A user-space proxy could not do this: its own kernel would answer the
// keepalive probes.
//
// As root the namespaces hang off the host's user namespace; otherwise
// they live in an unprivileged user namespace of their own (unshare -U -r),
// where the kernel allows one. Nothing is created in the namespace of the
// calling process, and the namespaces vanish with their sleeping holders,
// which the harness kills on close(), on exit, on SIGINT/SIGTERM/SIGHUP, and
// (parent-death signal) when this process is killed outright.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { track } from './children';
import { coded, invalidType, invalidValue, outOfRange } from '../errors';

/** What the middlebox does with a packet of a connection it has forgotten. */
export type Forgets = 'drop' | 'reset';
/** Both manners, for tests that run each. */
export const FORGETS: readonly Forgets[] = ['drop', 'reset'];

/** What startMiddlebox() takes. */
export interface MiddleboxOptions {
  /** ms of silence after which the middlebox forgets a connection; whole seconds (conntrack's unit), rounded up */
  forgetAfter: number;
  /** drop the next packet of a forgotten connection, or answer it with a RST */
  forgets: Forgets;
}

/** Where each end sits, and how to start a program there. */
export interface MiddleboxPath {
  /** the client's address, in the client's namespace */
  clientAddress: string;
  /** the server's address, in the server's namespace: what the client connects to */
  serverAddress: string;
  /** effective: whole seconds, in ms */
  forgetAfter: number;
  /** what it does with a packet of a connection it forgot */
  forgets: Forgets;
  /** argv prefix that runs a program in the client's namespace, from the namespace of the process that started the middlebox */
  clientPrefix: string[];
  /** the same for the server's namespace */
  serverPrefix: string[];
  /** argv prefix that runs a program in the server's namespace from inside the client's */
  serverPrefixFromClient: string[];
}

const CLIENT = '10.77.1.1';
const CLIENT_GATEWAY = '10.77.1.254';
const SERVER = '10.77.2.1';
const SERVER_GATEWAY = '10.77.2.254';
/** The kernel's conntrack timeouts are whole seconds; a day is more than any test waits. */
const MAX_FORGET_AFTER_MS = 86_400_000;

/** The system's tools are not ours to instrument: a sanitizer preloaded into this Node (npm run test:asan) stays out of them. */
const PRELOADS = ['LD_PRELOAD', 'ASAN_OPTIONS', 'UBSAN_OPTIONS'];
const toolEnv = () => Object.fromEntries(Object.entries(process.env).filter(([name]) => !PRELOADS.includes(name)));

const TOOLS = ['unshare', 'nsenter', 'setpriv', 'ip', 'nft', 'sleep', 'sh'] as const;
type Tool = (typeof TOOLS)[number];
const PACKAGES: Record<Tool, string> = {
  unshare: 'util-linux',
  nsenter: 'util-linux',
  setpriv: 'util-linux',
  ip: 'iproute2',
  nft: 'nftables',
  sleep: 'coreutils',
  sh: 'a POSIX shell',
};

function findTool(name: string): string | undefined {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((dir) => `${dir}/${name}`).find((p) => existsSync(p));
}

type Tools = Record<Tool, string>;
/** Whether a middlebox can be built here (with the tools found), or why not. */
export type MiddleboxSupport = { ok: true; tools: Tools; privileged: boolean } | { ok: false; reason: string };

let cachedSupport: MiddleboxSupport | undefined;

/**
 * Whether this process can build a middlebox: Linux, the tools, and either
 * root or an unprivileged user namespace the kernel grants. Tried for real
 * once (distributions restrict user namespaces in different ways); the
 * reason says what is missing.
 */
export function middleboxSupport(): MiddleboxSupport {
  if (cachedSupport) return cachedSupport;
  if (process.platform !== 'linux') return (cachedSupport = { ok: false, reason: `the middlebox is Linux conntrack; ${process.platform} has none` });
  const tools: Partial<Tools> = {};
  for (const tool of TOOLS) {
    const path = findTool(tool);
    if (!path) return (cachedSupport = { ok: false, reason: `the middlebox needs ${tool} (${PACKAGES[tool]}), which is not installed` });
    tools[tool] = path;
  }
  const privileged = process.getuid?.() === 0;
  if (!privileged) {
    const trial = spawnSync(tools.unshare!, ['-U', '-r', '-n', tools.nft!, 'add', 'table', 'inet', 'probe'], { encoding: 'utf8', timeout: 5000, env: toolEnv() });
    if (trial.status !== 0) {
      const why = (trial.stderr || trial.error?.message || `exit ${trial.status}`).trim().split('\n')[0];
      return (cachedSupport = {
        ok: false,
        reason: `the middlebox needs root, or an unprivileged user+network namespace with nftables, which this system refuses (${why})`,
      });
    }
  }
  return (cachedSupport = { ok: true, tools: tools as Tools, privileged });
}

/** A namespace, held open by a sleeping process. */
interface Holder {
  child: ChildProcess;
  pid: number;
}

/** The nft ruleset of the middle namespace: what conntrack does not know is dropped or reset. */
function ruleset(forgets: Forgets): string {
  const verdict = forgets === 'drop' ? 'drop' : 'reject with tcp reset';
  return [
    'table inet tcp_keepalive_middlebox {',
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    `    ct state invalid meta l4proto tcp ${verdict}`,
    '    ct state invalid drop',
    `    ct state new tcp flags & (syn | ack) != syn ${verdict}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * Linux conntrack between a client's and a server's network namespace,
 * forgetting connections idle longer than `forgetAfter`; see the file's comment.
 */
export class Middlebox implements MiddleboxPath {
  /** the client's address, in the client's namespace */
  readonly clientAddress = CLIENT;
  /** the server's address, in the server's namespace: what the client connects to */
  readonly serverAddress = SERVER;
  /** effective: whole seconds, in ms */
  readonly forgetAfter: number;
  /** what it does with a packet of a connection it forgot */
  readonly forgets: Forgets;
  private readonly holders: Holder[];
  private readonly tools: Tools;
  private readonly privileged: boolean;

  private constructor(options: { forgetAfter: number; forgets: Forgets }, holders: Holder[], tools: Tools, privileged: boolean) {
    this.forgetAfter = options.forgetAfter;
    this.forgets = options.forgets;
    this.holders = holders;
    this.tools = tools;
    this.privileged = privileged;
  }

  /** Builds the three namespaces, the links, and the middlebox's conntrack and nft rules. */
  static async start(options: MiddleboxOptions): Promise<Middlebox> {
    const { forgetAfter, forgets } = options ?? {};
    const range = `ms from 1 to ${MAX_FORGET_AFTER_MS} (rounded up to whole seconds)`;
    if (typeof forgetAfter !== 'number') throw invalidType('options.forgetAfter', `a number of ${range}`, forgetAfter);
    if (!(forgetAfter >= 1 && forgetAfter <= MAX_FORGET_AFTER_MS)) throw outOfRange('options.forgetAfter', range, forgetAfter);
    if (!FORGETS.includes(forgets)) throw invalidValue('options.forgets', `must be 'drop' or 'reset'; got ${JSON.stringify(forgets)}`);
    const support = middleboxSupport();
    if (!support.ok) throw coded(new Error(support.reason), 'EPERM');
    const { tools, privileged } = support;
    const seconds = Math.ceil(forgetAfter / 1000);
    const holders: Holder[] = [];
    const box = new Middlebox({ forgetAfter: seconds * 1000, forgets }, holders, tools, privileged);
    try {
      // The client's namespace first (with the user namespace when unprivileged), the others from inside it.
      holders.push(await box.hold([tools.unshare, ...(privileged ? [] : ['-U', '-r']), '-n']));
      const [client] = holders;
      holders.push(await box.hold([...box.enter(client.pid), tools.unshare, '-n']));
      holders.push(await box.hold([...box.enter(client.pid), tools.unshare, '-n']));
      const [, middle, server] = holders;
      const ip = tools.ip;
      await box.sh(middle.pid, [
        `${ip} link set lo up`,
        `${ip} link add mbox-client type veth peer name eth0 netns ${client.pid}`,
        `${ip} link add mbox-server type veth peer name eth0 netns ${server.pid}`,
        `${ip} addr add ${CLIENT_GATEWAY}/24 dev mbox-client`,
        `${ip} addr add ${SERVER_GATEWAY}/24 dev mbox-server`,
        `${ip} link set mbox-client up`,
        `${ip} link set mbox-server up`,
        // The rules first: they load conntrack where it is a module, and its sysctls appear with it.
        `printf '%s' '${ruleset(forgets)}' | ${tools.nft} -f -`,
        'echo 1 > /proc/sys/net/ipv4/ip_forward',
        'echo 0 > /proc/sys/net/netfilter/nf_conntrack_tcp_loose',
        `echo ${seconds} > /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established`,
      ]);
      for (const [holder, address, gateway] of [
        [client, CLIENT, CLIENT_GATEWAY],
        [server, SERVER, SERVER_GATEWAY],
      ] as const) {
        await box.sh(holder.pid, [
          `${ip} link set lo up`,
          `${ip} addr add ${address}/24 dev eth0`,
          `${ip} link set eth0 up`,
          `${ip} route add default via ${gateway}`,
        ]);
      }
      const effective = (await box.sh(middle.pid, ['cat /proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established /proc/sys/net/netfilter/nf_conntrack_tcp_loose'])).trim().split(/\s+/);
      if (effective[0] !== String(seconds) || effective[1] !== '0') {
        throw new Error(`the middlebox's conntrack did not take its settings (timeout ${effective[0]}, loose ${effective[1]})`);
      }
      return box;
    } catch (error) {
      await box.close();
      throw error;
    }
  }

  /** argv prefix that enters the namespace `pid` holds, from the namespace this process runs in. */
  private enter(pid: number): string[] {
    const { nsenter } = this.tools;
    // Unprivileged, the user namespace must be entered too; its root is this process's own user.
    return this.privileged ? [nsenter, '-t', String(pid), '-n'] : [nsenter, '-t', String(pid), '-U', '-n', '--preserve-credentials'];
  }

  /** Starts a sleeping process through `prefix` and waits until it sleeps in its namespace. */
  private async hold(prefix: string[]): Promise<Holder> {
    const { setpriv, sleep: sleepTool } = this.tools;
    // The parent-death signal is set last, inside the namespaces: entering a user namespace clears it.
    const argv = [...prefix, setpriv, '--pdeathsig', 'SIGKILL', '--', sleepTool, 'infinity'];
    const child = track(spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: toolEnv() }));
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const holder = { child, pid: child.pid! };
    for (let waited = 0; ; waited += 10) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the middlebox could not create a namespace: ${stderr.trim().split('\n')[0] || `exit ${child.exitCode ?? child.signalCode}`}`);
      }
      let comm = '';
      try {
        comm = readFileSync(`/proc/${holder.pid}/comm`, 'utf8').trim();
      } catch {
        // not yet
      }
      if (comm === 'sleep') return holder;
      if (waited > 5000) throw new Error('the middlebox could not create a namespace within 5 s');
      await sleep(10);
    }
  }

  /** Runs shell lines in a namespace, stopping at the first that fails; resolves with stdout. */
  private async sh(pid: number, lines: string[]): Promise<string> {
    const argv = [...this.enter(pid), this.tools.sh, '-ec', lines.join('\n')];
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: toolEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // 'close', not 'exit': the output may still be on its way at exit.
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0) throw new Error(`the middlebox could not be set up: ${stderr.trim().split('\n')[0] || `exit ${code}`}`);
    return stdout;
  }

  private get pids(): { client: number; middle: number; server: number } {
    const [client, middle, server] = this.holders.map((h) => h.pid);
    return { client, middle, server };
  }

  /** argv prefix that runs a program in the client's namespace (nsenter), from this process's */
  get clientPrefix(): string[] {
    return this.enter(this.pids.client);
  }

  /** argv prefix that runs a program in the server's namespace, from this process's */
  get serverPrefix(): string[] {
    return this.enter(this.pids.server);
  }

  /** From inside the client's namespace (and user namespace, if any), which is already entered. */
  get serverPrefixFromClient(): string[] {
    return [this.tools.nsenter, '-t', String(this.pids.server), '-n'];
  }

  /** What a process in the client's namespace needs to use the path (JSON-safe). */
  describe(): MiddleboxPath {
    const { clientAddress, serverAddress, forgetAfter, forgets, clientPrefix, serverPrefix, serverPrefixFromClient } = this;
    return { clientAddress, serverAddress, forgetAfter, forgets, clientPrefix, serverPrefix, serverPrefixFromClient };
  }

  /** Kills the holders (and with them the namespaces and links) and waits until they are gone. */
  async close(): Promise<void> {
    await Promise.all(
      this.holders.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }),
    );
  }
}

/** Builds a middlebox; see Middlebox. */
export function startMiddlebox(options: MiddleboxOptions): Promise<Middlebox> {
  return Middlebox.start(options);
}
