// The harness's handle on a peer process: start it, learn what it accepted,
// kill it in one of the ways connections die.
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deathSignalPrefix, scriptCommand, track } from './children';
import { canAdministerNetwork } from './privilege';
import type { FromPeer, PeerAction, PeerConnectionStats, PeerStartOptions, ToPeer } from './protocol';
import { coded } from '../errors';

export type { PeerConnectionStats } from './protocol';

/** The ways the harness can kill a peer. */
export type Death = 'crash' | 'reset' | 'restart' | 'blackhole' | 'blackhole-busy' | 'hang';

/** A death the harness caused, and when. */
export interface DeathRecord {
  /** how the peer died */
  death: Death;
  /** Date.now() when the death took effect */
  at: number;
}

/** Options of `startPeer()`. */
export interface PeerOptions {
  /** loopback address to listen on; default 127.0.0.1 */
  host?: string;
  /** ms the peer waits before answering each heartbeat ping; default 0 */
  delay?: number;
  /** ms to wait for the peer to start or answer; default 10000 */
  timeout?: number;
  /** argv the peer process is started through, e.g. nsenter into another network namespace (a middlebox's server side) */
  prefix?: string[];
}

const NEEDS_NET_ADMIN: Partial<Record<Death, string>> = {
  restart: 'TCP_REPAIR',
  blackhole: 'a socket filter (SO_ATTACH_FILTER)',
  'blackhole-busy': 'a socket filter (SO_ATTACH_FILTER)',
};

/**
 * Why this process cannot cause that death, or null when it can. Deaths
 * done with socket options need CAP_NET_ADMIN; signals need POSIX.
 */
export async function cannotCause(death: Death): Promise<string | null> {
  return (await obstacleTo(death))?.reason ?? null;
}

/** What stands in the way of a death, and whether a namespace of our own (where we hold CAP_NET_ADMIN) would remove it. */
export async function obstacleTo(death: Death): Promise<{ reason: string; needsNetAdmin: boolean } | null> {
  if (process.platform === 'win32') return { reason: 'peer processes cannot be frozen or killed with signals on Windows', needsNetAdmin: false };
  const needs = NEEDS_NET_ADMIN[death];
  if (!needs) return null;
  if (process.platform !== 'linux') return { reason: `${death} needs ${needs}, which only Linux offers`, needsNetAdmin: false };
  if (!(await canAdministerNetwork())) return { reason: `${death} needs CAP_NET_ADMIN (for ${needs})`, needsNetAdmin: true };
  return null;
}

function peerScript(): string {
  // A separate process, so that a peer can be frozen or killed on its own.
  return join(__dirname, 'bin', 'peer-process.js');
}

/** A message before the peer gets its reference number. */
type Unnumbered<T> = T extends unknown ? Omit<T, 'ref'> : never;

/**
 * A peer process on loopback that answers heartbeats and can be killed in
 * every way a connection dies (`kill(death)`); start one with `startPeer()`.
 */
export class Peer {
  /** the address it listens on */
  readonly host: string;
  /** the port it listens on */
  readonly port: number;
  /** its process id */
  readonly pid: number;
  private readonly child: ChildProcess;
  private readonly timeout: number;
  private readonly waiting = new Map<number, (reply: Extract<FromPeer, { ev: 'reply' }>) => void>();
  private readonly acceptedPorts: number[] = [];
  private acceptWaiters: (() => void)[] = [];
  private nextRef = 1;

  private constructor(child: ChildProcess, host: string, port: number, timeout: number) {
    this.child = child;
    this.host = host;
    this.port = port;
    this.pid = child.pid!;
    this.timeout = timeout;
    child.on('message', (message: FromPeer) => {
      if (message.ev === 'accepted') {
        this.acceptedPorts.push(message.remotePort);
        for (const wake of this.acceptWaiters.splice(0)) wake();
      } else if (message.ev === 'reply') {
        this.waiting.get(message.ref)?.(message);
        this.waiting.delete(message.ref);
      }
    });
  }

  /** Starts a peer process listening on loopback. */
  static async start(options: PeerOptions = {}): Promise<Peer> {
    const start: PeerStartOptions = { host: options.host ?? '127.0.0.1', delay: options.delay ?? 0 };
    const timeout = options.timeout ?? 10_000;
    const [command, ...args] = [...deathSignalPrefix(), ...(options.prefix ?? []), ...scriptCommand(peerScript(), JSON.stringify(start))];
    const child = track(spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const listening = new Promise<Extract<FromPeer, { ev: 'listening' }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`The harness peer did not start within ${timeout} ms`)), timeout);
      child.on('message', (m: FromPeer) => {
        if (m.ev !== 'listening') return;
        clearTimeout(timer);
        resolve(m);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`The harness peer exited before listening (${signal ?? `exit code ${code}`})`));
      });
    });
    try {
      const { host, port } = await listening;
      return new Peer(child, host, port, timeout);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** Client ports of the connections the peer accepted so far. */
  get accepted(): readonly number[] {
    return this.acceptedPorts;
  }

  /** Resolves once the peer has accepted `count` connections in all. */
  async waitForConnections(count: number): Promise<void> {
    const deadline = Date.now() + this.timeout;
    while (this.acceptedPorts.length < count) {
      if (Date.now() > deadline) throw new Error(`The harness peer accepted ${this.acceptedPorts.length} of ${count} connections in ${this.timeout} ms`);
      await new Promise<void>((resolve) => {
        this.acceptWaiters.push(resolve);
        setTimeout(resolve, 100).unref();
      });
    }
  }

  private request(message: Unnumbered<ToPeer>): Promise<Extract<FromPeer, { ev: 'reply' }>> {
    const ref = this.nextRef++;
    return new Promise((resolve, reject) => {
      if (!this.running) return reject(new Error('The harness peer is not running'));
      const timer = setTimeout(() => {
        this.waiting.delete(ref);
        reject(new Error(`The harness peer did not answer within ${this.timeout} ms (is it frozen?)`));
      }, this.timeout);
      this.waiting.set(ref, (reply) => {
        clearTimeout(timer);
        if (!reply.error) return resolve(reply);
        reject(coded(new Error(`The harness peer failed: ${reply.error.message}`), reply.error.code ?? 'ERR_HARNESS_PEER_FAILED'));
      });
      this.child.send({ ...message, ref } as ToPeer);
    });
  }

  /**
   * True while the peer process exists (also when frozen). Deno 2.9 reports
   * a stopped child as ended (signalCode 'SIGSTOP', no 'exit' event) and then
   * refuses to signal it, so a stop is not taken for an end, /proc has the
   * last word on Linux, and signals go through process.kill().
   */
  get running(): boolean {
    if (this.child.exitCode !== null || (this.child.signalCode !== null && this.child.signalCode !== 'SIGSTOP')) return false;
    const state = procState(this.pid);
    return state === undefined || (state !== null && state !== 'Z');
  }

  /** True when the peer process is frozen (SIGSTOP). */
  get frozen(): boolean {
    return this.running && procState(this.pid) === 'T';
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal);
    } catch {
      // gone already
    }
  }

  /** Resolves when the process has ended: its 'exit' event, or (Deno, see running) /proc saying so. */
  private async ended(): Promise<void> {
    const exited = once(this.child, 'exit');
    while (this.running) {
      const tick = sleep(10);
      if ((await Promise.race([exited.then(() => true), tick.then(() => false)])) === true) return;
    }
  }

  /** What the peer's application has received on each connection. */
  async stats(): Promise<PeerConnectionStats[]> {
    return (await this.request({ op: 'stats' })).stats ?? [];
  }

  /**
   * Kills the peer's connections (or the one from client port
   * `clientPort`) the given way; resolves when the death has happened.
   * crash and hang act on the whole process. blackhole-busy is blackhole
   * on the peer's side: the client must have data in flight to make it so.
   */
  async kill(death: Death, clientPort?: number): Promise<DeathRecord> {
    const why = await cannotCause(death);
    if (why) throw coded(new Error(why), 'EPERM');
    if (death === 'crash') {
      if (!this.running) throw new Error('The harness peer is not running');
      const at = Date.now();
      this.signal('SIGKILL');
      await this.ended();
      return { death, at };
    }
    if (death === 'hang') {
      if (!this.running) throw new Error('The harness peer is not running');
      const at = Date.now();
      this.signal('SIGSTOP');
      // The stop lands asynchronously; return once it has, so callers see it.
      for (let waited = 0; process.platform === 'linux' && !this.frozen && waited < 2000; waited += 5) await sleep(5);
      return { death, at };
    }
    const op: PeerAction = death === 'blackhole-busy' ? 'blackhole' : death;
    const reply = await this.request({ op, connection: await this.connectionFrom(clientPort) });
    return { death, at: reply.at };
  }

  private async connectionFrom(clientPort: number | undefined): Promise<number | undefined> {
    if (clientPort === undefined) return undefined;
    const match = (await this.stats()).find((c) => c.remotePort === clientPort);
    if (!match) throw new Error(`The harness peer has no connection from client port ${clientPort}`);
    return match.id;
  }

  /**
   * Sets the delay before each heartbeat answer from now on, on every
   * connection or the one from `clientPort`; resolves with the time it took effect.
   */
  async setDelay(ms: number, clientPort?: number): Promise<number> {
    return (await this.request({ op: 'delay', ms, connection: await this.connectionFrom(clientPort) })).at;
  }

  /** Thaws a frozen peer (SIGCONT). */
  resume(): void {
    if (this.running) this.signal('SIGCONT');
  }

  /** Ends the peer process (frozen or not) and waits until it is gone. */
  async close(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGKILL');
    await this.ended();
  }
}

/**
 * Starts a peer process listening on loopback, answering heartbeats; see
 * Peer. Call `killAll()` in afterEach so that no peer outlives a test.
 *
 * @throws an Error when the peer does not start within `options.timeout` ms.
 * @example
 * ```js
 * const peer = await startPeer();
 * const socket = net.connect(peer.port, peer.host);
 * const { at } = await peer.kill('hang'); // or 'crash', 'reset', 'restart', 'blackhole'
 * ```
 */
export function startPeer(options?: PeerOptions): Promise<Peer> {
  return Peer.start(options);
}

/**
 * The state letter of /proc/<pid>/stat ("pid (comm) state ..."): T stopped
 * by a signal, Z ended and not yet reaped; null when there is no such
 * process, undefined where there is no /proc.
 */
function procState(pid: number): string | null | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0];
  } catch {
    return null;
  }
}
