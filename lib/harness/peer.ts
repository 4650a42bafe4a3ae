// The harness's handle on a peer process: start it, learn what it accepted,
// kill it in one of the ways connections die.
import { setTimeout as sleep } from 'node:timers/promises';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deathSignalPrefix, track } from './children';
import { canAdministerNetwork } from './privilege';
import type { FromPeer, PeerAction, PeerConnectionStats, PeerStartOptions, ToPeer } from './protocol';
import { coded, unsupported } from '../errors';
import { hasAddon, missingAddon } from '../native';

export type { PeerConnectionStats } from './protocol';

/** The ways the harness can kill a peer. */
export type Death = 'crash' | 'reset' | 'restart' | 'blackhole' | 'blackhole-busy' | 'hang';

export interface DeathRecord {
  death: Death;
  /** Date.now() when the death took effect */
  at: number;
}

export interface PeerOptions {
  /** loopback address to listen on; default 127.0.0.1 */
  host?: string;
  /** ms the peer waits before answering each heartbeat ping; default 0 */
  delay?: number;
  /** ms to wait for the peer to start or answer; default 10000 */
  timeout?: number;
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

/**
 * What stands in the way of a death, and whether a namespace of our own
 * (where we hold CAP_NET_ADMIN) would remove it. The addon comes before the
 * privilege: without it no privilege helps, and saying "needs CAP_NET_ADMIN"
 * to root would send them the wrong way.
 */
export async function obstacleTo(death: Death): Promise<{ reason: string; needsNetAdmin: boolean } | null> {
  if (process.platform === 'win32') return { reason: 'peer processes cannot be frozen or killed with signals on Windows', needsNetAdmin: false };
  const needs = NEEDS_NET_ADMIN[death];
  if (!needs) return null;
  if (process.platform !== 'linux') return { reason: `${death} needs ${needs}, which only Linux offers`, needsNetAdmin: false };
  if (!hasAddon()) return { reason: missingAddon(`${death} (${needs})`).message, needsNetAdmin: false };
  if (!(await canAdministerNetwork())) return { reason: `${death} needs CAP_NET_ADMIN (for ${needs})`, needsNetAdmin: true };
  return null;
}

function peerScript(): string {
  // A separate process, so that a peer can be frozen or killed on its own.
  return join(__dirname, 'bin', 'peer-process.js');
}

/** A message before the peer gets its reference number. */
type Unnumbered<T> = T extends unknown ? Omit<T, 'ref'> : never;

export class Peer {
  readonly host: string;
  readonly port: number;
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
    const [execPath, ...prefix] = [...deathSignalPrefix(), process.execPath];
    const child = track(
      fork(peerScript(), [JSON.stringify(start)], {
        execPath,
        execArgv: prefix,
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
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

  /** True while the peer process exists (also when frozen). */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** True when the peer process is frozen (SIGSTOP). */
  get frozen(): boolean {
    if (process.platform !== 'linux' || !this.running) return false;
    try {
      // /proc/<pid>/stat: "pid (comm) state ...": T is stopped by a signal.
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'T';
    } catch {
      return false;
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
    const obstacle = await obstacleTo(death);
    // EPERM only where a privilege would help; a missing addon or platform is ERR_TCP_KEEPALIVE_UNSUPPORTED.
    if (obstacle) throw obstacle.needsNetAdmin ? coded(new Error(obstacle.reason), 'EPERM') : unsupported(obstacle.reason);
    if (death === 'crash') {
      if (!this.running) throw new Error('The harness peer is not running');
      const exited = once(this.child, 'exit');
      const at = Date.now();
      this.child.kill('SIGKILL');
      await exited;
      return { death, at };
    }
    if (death === 'hang') {
      if (!this.running) throw new Error('The harness peer is not running');
      const at = Date.now();
      this.child.kill('SIGSTOP');
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
    if (this.running) this.child.kill('SIGCONT');
  }

  /** Ends the peer process (frozen or not) and waits until it is gone. */
  async close(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** Starts a peer process listening on loopback; see Peer. */
export function startPeer(options?: PeerOptions): Promise<Peer> {
  return Peer.start(options);
}
