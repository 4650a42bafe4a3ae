// How long the path to a server keeps an idle connection (`tcp-keepalive
// idle-limit`), with no help from the server: one connection per idle
// length to test (resolution, 2 x resolution, ... up to max), each with a
// keepalive idle of that length. The first probe of a connection the path
// still remembers is answered by the server's kernel; the first probe of
// one it forgot is dropped (the kernel gives up after PROBE_COUNT probes:
// ETIMEDOUT) or answered with a RST (ECONNRESET).
import * as net from 'node:net';
import { setKeepAlive } from './kernel/keepalive';
import { limitsFor } from './kernel/platform';
import { tcpInfo } from './kernel/tcp-info';
import { coded, invalidType, outOfRange, unsupported } from './errors';

/**
 * At most this many connections per run, one per idle length tested. Each
 * holds a slot for up to --max in every middlebox on the path (conntrack
 * tables, a NAT gateway's ports) and in the server (maxclients, per-client
 * limits), so a run must stay a light user of a production path; and 100
 * steps are finer than any idle timeout needs (15 min in 10 s steps is 90).
 */
export const MAX_CONNECTIONS = 100;
/** ms between unanswered probes: short, so a forgetting path is known within seconds of the first probe */
export const PROBE_INTERVAL_MS = 1000;
/** unanswered probes before the kernel gives up: 3, so one lost probe is not taken for a forgetting path */
export const PROBE_COUNT = 3;
/** ms to wait for each connection to open */
export const CONNECT_TIMEOUT_MS = 10_000;
/** ms between readings of TCP_INFO */
const POLL_MS = 100;
/** An ACK this close before the probe's time answers the probe (timer and clock granularity). */
const PROBE_SLACK_MS = 300;

export const DEFAULT_MAX_MS = 15 * 60_000;
export const DEFAULT_RESOLUTION_MS = 30_000;

/** kept: the first probe was answered; forgot: the path dropped or reset it; server-closed: the server ended it before its first probe. */
export type Outcome = 'kept' | 'forgot' | 'server-closed' | 'pending';

export interface IdleTest {
  /** the keepalive idle of this connection, ms */
  idleMs: number;
  outcome: Outcome;
  /** forgot: how; server-closed: 'end (FIN)' or the error code */
  how: string | null;
  /** ms from the connection's open to its outcome */
  atMs: number | null;
}

export interface IdleLimitResult {
  /** host:port as given */
  target: string;
  /** the longest idle the path kept, ms; null if it kept none */
  keptMs: number | null;
  /** the shortest idle the path forgot, ms; null if none within max */
  forgotMs: number | null;
  /** what the path did to the forgotten connection's first probe */
  forgets: 'drop' | 'reset' | null;
  /** ms after which the server itself closed idle connections; null if it did not while watched */
  serverClosedMs: number | null;
  /** effective, whole seconds */
  maxMs: number;
  resolutionMs: number;
  connections: number;
  /** ms the run took */
  elapsedMs: number;
  tests: IdleTest[];
}

export interface IdleLimitProgress {
  elapsedMs: number;
  /** the run ends by this many ms from its start at the latest */
  untilMs: number;
  kept: number;
  forgot: number;
  serverClosed: number;
  pending: number;
}

export interface IdleLimitOptions {
  host: string;
  port: number;
  /** longest idle to test, ms; default 15 min */
  max?: number;
  /** step between idle lengths, ms (whole seconds, rounded up); default 30 s */
  resolution?: number;
  onProgress?: (progress: IdleLimitProgress) => void;
  /** aborting closes every connection and rejects with an AbortError */
  signal?: AbortSignal;
}

/** Idle lengths to test, each a whole number of seconds: resolution, 2 x resolution, ... up to max. */
export function idleLengths(maxMs: number, resolutionMs: number): number[] {
  const step = Math.max(1, Math.ceil(resolutionMs / 1000)) * 1000;
  const lengths: number[] = [];
  for (let idle = step; idle <= maxMs; idle += step) lengths.push(idle);
  return lengths;
}

interface Probe {
  test: IdleTest;
  socket: net.Socket;
  openedAt: number;
}

function connect(host: string, port: number, signal: AbortSignal | undefined): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const settle = (error: Error | null) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      if (!error) return resolve(socket);
      socket.destroy();
      reject(error);
    };
    // The signal ends a connection attempt too: Ctrl-C need not wait for an unanswered SYN. (A listener
    // for the attempt only: net.connect's own signal option would keep one per open connection.)
    const onAbort = () => settle(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => settle(coded(new Error(`${host}:${port} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s: unreachable, or a firewall drops the connection`), 'ETIMEDOUT')),
      CONNECT_TIMEOUT_MS,
    );
    const onError = (error: Error & { code?: string }) => {
      const why: Record<string, string> = {
        ECONNREFUSED: 'refused the connection: nothing listens there',
        EHOSTUNREACH: 'is unreachable (no route to the host)',
        ENETUNREACH: 'is unreachable (no route to its network)',
        ENOTFOUND: 'is not a known host name',
        EAI_AGAIN: 'could not be looked up (DNS)',
      };
      settle(coded(new Error(`${host}:${port} ${why[error.code ?? ''] ?? `could not be reached: ${error.message}`}`), error.code ?? 'ECONNREFUSED'));
    };
    socket.once('error', onError);
    socket.once('connect', () => settle(null));
  });
}

/** Measures how long the path to host:port keeps an idle connection; see the file's comment. */
export async function measureIdleLimit(options: IdleLimitOptions): Promise<IdleLimitResult> {
  if (process.platform !== 'linux') {
    throw unsupported(`idle-limit reads each probe's answer from TCP_INFO as Linux reports it; ${process.platform} does not`);
  }
  const { host, port } = options;
  if (typeof host !== 'string' || host === '') throw invalidType('options.host', 'a host name or address', host);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw outOfRange('options.port', 'an integer from 1 to 65535', port);
  const idleMax = limitsFor().idle.max * 1000;
  const maxMs = options.max ?? DEFAULT_MAX_MS;
  const resolution = options.resolution ?? DEFAULT_RESOLUTION_MS;
  if (!(typeof maxMs === 'number' && maxMs >= 1000 && maxMs <= idleMax)) throw outOfRange('options.max', `from 1000 to ${idleMax} ms (the kernel's longest idle)`, maxMs);
  if (!(typeof resolution === 'number' && resolution >= 1 && resolution <= maxMs)) throw outOfRange('options.resolution', `from 1 ms to options.max (${maxMs} ms)`, resolution);
  const lengths = idleLengths(maxMs, resolution);
  const resolutionMs = lengths[0];
  if (lengths.length > MAX_CONNECTIONS) {
    throw outOfRange(
      'options.resolution',
      `at least ${Math.ceil(maxMs / MAX_CONNECTIONS / 1000)} s for a max of ${maxMs} ms: one connection per idle length, at most ${MAX_CONNECTIONS}`,
      resolution,
    );
  }
  const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const started = Date.now();
  const probes: Probe[] = [];
  let poll: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const closeAll = () => {
    for (const probe of probes) probe.socket.destroy();
  };
  try {
    options.signal?.throwIfAborted();
    // The first connection tells an unreachable target at once, before the rest are opened.
    for (const idleMs of lengths) {
      const socket = await connect(host, port, options.signal);
      const probe: Probe = { test: { idleMs, outcome: 'pending', how: null, atMs: null }, socket, openedAt: Date.now() };
      probes.push(probe);
      setKeepAlive(socket, { idle: idleMs, interval: PROBE_INTERVAL_MS, count: PROBE_COUNT });
      watch(probe);
      options.signal?.throwIfAborted();
    }
    return await new Promise<IdleLimitResult>((resolve, reject) => {
      const finish = () => {
        clearInterval(poll);
        closeAll();
        resolve(result(target, probes, resolutionMs, Date.now() - started));
      };
      onAbort = () => {
        clearInterval(poll);
        closeAll();
        reject(options.signal!.reason);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const untilMs = Math.max(...probes.map((p) => p.openedAt - started + p.test.idleMs)) + PROBE_INTERVAL_MS * PROBE_COUNT + 1000;
      const tick = () => {
        for (const probe of probes) check(probe);
        const tests = probes.map((p) => p.test);
        const count = (outcome: Outcome) => tests.filter((t) => t.outcome === outcome).length;
        options.onProgress?.({ elapsedMs: Date.now() - started, untilMs, kept: count('kept'), forgot: count('forgot'), serverClosed: count('server-closed'), pending: count('pending') });
        if (done(tests) || Date.now() - started > untilMs) finish();
      };
      poll = setInterval(tick, POLL_MS);
      tick();
    });
  } finally {
    clearInterval(poll);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
    closeAll();
  }
}

/** Records how each connection ends: a RST or the kernel giving up after its probes, or the server closing it. */
function watch(probe: Probe): void {
  const { socket, test } = probe;
  socket.resume();
  const settle = (how: string) => {
    if (test.outcome !== 'pending') return;
    const atMs = Date.now() - probe.openedAt;
    // Before its first probe, nothing of ours went out: the end came from the server (or something closing for it).
    const beforeProbe = atMs < test.idleMs - PROBE_SLACK_MS;
    if (beforeProbe || how === 'end (FIN)') {
      Object.assign(test, { outcome: 'server-closed', how, atMs });
    } else if (how === 'ECONNRESET' || how === 'ETIMEDOUT') {
      Object.assign(test, { outcome: 'forgot', how, atMs });
    } else {
      Object.assign(test, { outcome: 'server-closed', how, atMs });
    }
    socket.destroy();
  };
  socket.on('error', (error: Error & { code?: string }) => settle(error.code ?? error.message));
  socket.on('end', () => settle('end (FIN)'));
}

/** A pending connection whose first probe an ACK answered is kept; its work is done, so it is closed. */
function check(probe: Probe): void {
  const { socket, test } = probe;
  if (test.outcome !== 'pending' || socket.destroyed) return;
  const now = Date.now();
  if (now < probe.openedAt + test.idleMs) return;
  let info;
  try {
    info = tcpInfo(socket);
  } catch {
    return;
  }
  if (info.lastAckRecvMs === null || info.probes !== 0) return;
  const ackAt = now - info.lastAckRecvMs;
  // The connection is silent: the only ACK after its opening answers the probe.
  if (ackAt >= probe.openedAt + test.idleMs - PROBE_SLACK_MS) {
    Object.assign(test, { outcome: 'kept', how: null, atMs: ackAt - probe.openedAt });
    socket.destroy();
  }
}

/**
 * Done when every connection has its outcome, or when the shortest idle
 * forgotten is known and every shorter one has its outcome: a path that
 * forgot a connection idle this long forgets any idler one too.
 */
function done(tests: IdleTest[]): boolean {
  const firstForgot = tests.findIndex((t) => t.outcome === 'forgot');
  const relevant = firstForgot === -1 ? tests : tests.slice(0, firstForgot);
  return relevant.every((t) => t.outcome !== 'pending') && (firstForgot !== -1 || tests.every((t) => t.outcome !== 'pending'));
}

function result(target: string, probes: Probe[], resolutionMs: number, elapsedMs: number): IdleLimitResult {
  const tests = probes.map((p) => p.test);
  const kept = tests.filter((t) => t.outcome === 'kept');
  const forgot = tests.find((t) => t.outcome === 'forgot');
  const closed = tests.filter((t) => t.outcome === 'server-closed' && t.atMs !== null);
  // Kept above a forgotten length would be a path that forgets at random; the limit is below the first forgotten.
  const keptBelow = kept.filter((t) => !forgot || t.idleMs < forgot.idleMs).map((t) => t.idleMs);
  return {
    target,
    keptMs: keptBelow.length > 0 ? Math.max(...keptBelow) : null,
    forgotMs: forgot?.idleMs ?? null,
    forgets: forgot ? (forgot.how === 'ECONNRESET' ? 'reset' : 'drop') : null,
    serverClosedMs: closed.length > 0 ? Math.min(...closed.map((t) => t.atMs!)) : null,
    maxMs: tests[tests.length - 1].idleMs,
    resolutionMs,
    connections: probes.length,
    elapsedMs,
    tests,
  };
}
