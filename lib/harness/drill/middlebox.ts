// The drill's middlebox scenario: client and peer talk through a middlebox
// (../middlebox.ts) that forgets a connection idle for longer than X and
// then answers its next packet with a RST. The clients stay idle past X,
// then send a request:
// - nothing: the request is the first packet after X, and fails;
// - kernel (idle < X): the probes keep the middlebox's memory fresh, the
//   request is answered ("kept alive");
// - kernel-long-idle (idle > X): the first probe finds the connection
//   forgotten, so the death is noticed before the request;
// - heartbeat: its PINGs (every idle < X) keep the path alive as well.
// The death (t = 0) is the moment the path forgets a connection silent
// since it opened: X after the handshake.
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { encodePing } from '../../heartbeat/framing';
import { track } from '../children';
import { middleboxSupport, startMiddlebox, type Forgets, type MiddleboxPath } from '../middlebox';
import type * as net from 'node:net';
import { startPeer, type Peer } from '../peer';
import { FRAMING } from '../protocol';
import { SAMPLE_EVERY_MS, type ConnectionLog } from './events';
import type { DrillOptions, DrillRow, Progress, Setup, Timings, Verdict } from './scenarios';

/** The middlebox scenario's own set-up: kernel keepalive whose idle is longer than the middlebox's. */
export type MiddleboxSetup = 'kernel-long-idle';
export const MIDDLEBOX_SETUP_DESCRIPTION = "setKeepAlive as kernel, but with an idle longer than the middlebox's idle timeout";

/** The rows of the scenario, in order. */
export const MIDDLEBOX_SETUPS: readonly Setup[] = ['nothing', 'kernel', 'kernel-long-idle', 'heartbeat'];

/** How the drill's middlebox forgets: a RST, so even the plain socket learns of it at its request, in seconds. */
const FORGETS: Forgets = 'reset';
/** ms the drill waits for the answer to a request. */
const ANSWER_WITHIN_MS = 1000;

const ceilSeconds = (ms: number) => Math.ceil(ms / 1000) * 1000;

/** X, the long idle, and when the request goes out, all from the connection's opening, in ms. */
export function middleboxTimings(t: Timings): { forgetAfter: number; longIdle: number; requestAt: number } {
  // X is a whole second above the kernel's idle (and the heartbeat's), the long idle a second above X.
  const forgetAfter = ceilSeconds(t.idle) + 1000;
  const longIdle = forgetAfter + 1000;
  return { forgetAfter, longIdle, requestAt: longIdle + 1000 };
}

/** ms from the path forgetting to the detection, per set-up; null: it is not to notice (kept alive, or cannot). */
export function middleboxExpectedMs(setup: Setup, t: Timings): number | null {
  if (setup !== 'kernel-long-idle') return null;
  const m = middleboxTimings(t);
  // The first probe, after the long idle, meets the RST.
  return m.longIdle - m.forgetAfter;
}

/**
 * kept alive: the request was answered, nothing died; request failed: the
 * plain socket learnt of the death from its request (what the scenario
 * shows); kernel-long-idle is judged on time like every other detection.
 */
export function judgeMiddlebox(row: Pick<DrillRow, 'setup' | 'detected' | 'expectedMs' | 'measuredMs'>, onTime: () => Verdict): Verdict {
  if (row.setup === 'nothing') return row.detected ? 'request failed' : 'missed';
  if (row.setup === 'kernel-long-idle') return onTime();
  return row.detected ? 'unexpected' : 'kept alive';
}

/** Why the scenario cannot run here, or null. */
export function middleboxObstacle(): string | null {
  const support = middleboxSupport();
  return support.ok ? null : support.reason;
}

/** The pieces of the drill the scenario uses (from scenarios.ts, passed in to keep the import one-way). */
export interface DrillParts {
  connectClient: (peer: Peer, setup: Setup, t: Timings) => Promise<MiddleboxClient>;
  judge: (row: Omit<DrillRow, 'verdict' | 'budgetMs' | 'events'>) => Verdict;
  resolveTimings: (options: Partial<Timings>) => Timings;
  skippedRow: (scenario: 'middlebox', setup: Setup, t: Timings, reason: string) => DrillRow;
}

/** What the scenario needs of a drill client. */
export interface MiddleboxClient {
  setup: Setup;
  socket: net.Socket;
  detection: { at: number; how: string } | null;
  diedAt: number | null;
  finished: boolean;
  heartbeat: { stop(): void } | null;
  log: ConnectionLog;
}

/** The scenario's rows for the set-ups asked for. */
export function middleboxSetups(options: DrillOptions): Setup[] {
  const given = options.setups;
  // kernel-long-idle comes with kernel: it is the same set-up with a longer idle.
  return MIDDLEBOX_SETUPS.filter((s) => !given || given.includes(s) || (s === 'kernel-long-idle' && given.includes('kernel')));
}

/**
 * Runs the scenario: with `options.middlebox`, here (this process in the
 * client's namespace); without, builds the middlebox and runs the scenario
 * in a process of its own inside the client's namespace.
 */
export async function runMiddleboxScenario(options: DrillOptions, parts: DrillParts): Promise<DrillRow[]> {
  const t = parts.resolveTimings(options);
  const setups = middleboxSetups(options);
  if (options.middlebox) return runThrough(options.middlebox, options, setups, t, parts);
  const m = middleboxTimings(t);
  const obstacle = middleboxObstacle();
  if (obstacle) return setups.map((setup) => parts.skippedRow('middlebox', setup, t, obstacle));
  const box = await startMiddlebox({ forgetAfter: m.forgetAfter, forgets: FORGETS });
  try {
    const forward: DrillOptions = { ...t, scenarios: ['middlebox'], setups, boundMs: options.boundMs, middlebox: box.describe() };
    const script = join(__dirname, '..', 'bin', 'drill-in-namespace.js');
    const [command, ...args] = [...box.clientPrefix, process.execPath, script, JSON.stringify(forward)];
    const child = track(spawn(command, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] }));
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let rows: DrillRow[] | null = null;
    child.on('message', (message: { progress?: Progress; rows?: DrillRow[] }) => {
      if (message.progress) options.onProgress?.(message.progress.type === 'start' ? { ...message.progress, where: 'process' } : message.progress);
      if (message.rows) rows = message.rows;
    });
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    if (rows) return rows;
    const why = stderr.trim().split('\n').pop() || (signal ?? `exit code ${code}`);
    return setups.map((setup) => parts.skippedRow('middlebox', setup, t, `the run behind the middlebox failed: ${why}`));
  } finally {
    await box.close();
  }
}

async function runThrough(path: MiddleboxPath, options: DrillOptions, setups: Setup[], t: Timings, parts: DrillParts): Promise<DrillRow[]> {
  const report = options.onProgress ?? (() => {});
  const m = middleboxTimings(t);
  const peer = await startPeer({ host: path.serverAddress, prefix: path.serverPrefixFromClient });
  const clients: (MiddleboxClient & { openedAt: number; request: 'answered' | 'failed' | null; requestedAt: number | null })[] = [];
  const readKernels = () => clients.forEach((client) => client.finished || client.log.readKernel());
  const sampler = setInterval(readKernels, SAMPLE_EVERY_MS);
  try {
    for (const setup of setups) {
      const long = setup === 'kernel-long-idle';
      const client = await parts.connectClient(peer, long ? 'kernel' : setup, long ? { ...t, idle: m.longIdle } : t);
      clients.push(Object.assign(client, { setup, openedAt: Date.now(), request: null, requestedAt: null }));
    }
    await peer.waitForConnections(clients.length);
    report({ type: 'start', scenario: 'middlebox', where: 'here' });
    for (const client of clients) client.diedAt = client.openedAt + path.forgetAfter;
    const firstOpened = Math.min(...clients.map((c) => c.openedAt));
    await sleep(Math.max(0, firstOpened + path.forgetAfter - Date.now()));
    report({ type: 'died', scenario: 'middlebox', at: firstOpened + path.forgetAfter });

    // The request: one PING frame, which the peer answers with a PONG; answered when bytes come back through the path.
    await sleep(Math.max(0, firstOpened + m.requestAt - Date.now()));
    const request = encodePing(FRAMING, 1);
    await Promise.all(
      clients.map(async (client) => {
        if (client.socket.destroyed) return;
        const before = client.socket.bytesRead;
        client.requestedAt = Date.now();
        client.socket.write(request);
        const deadline = client.requestedAt + ANSWER_WITHIN_MS;
        while (Date.now() < deadline && !client.socket.destroyed && client.socket.bytesRead === before) await sleep(10);
        client.request = client.socket.bytesRead > before && !client.socket.destroyed ? 'answered' : 'failed';
        // A failure the socket has not reported yet: give the RST its moment.
        if (client.request === 'failed' && !client.detection) await sleep(100);
      }),
    );
    const waitedUntil = Date.now();
    readKernels();
    const rows: DrillRow[] = [];
    for (const client of clients) {
      const died = client.diedAt!;
      const seen = client.detection;
      if (seen) report({ type: 'detected', scenario: 'middlebox', setup: client.setup, measuredMs: seen.at - died, how: seen.how });
      const base = {
        scenario: 'middlebox' as const,
        setup: client.setup,
        expectedMs: middleboxExpectedMs(client.setup, t),
        measuredMs: seen ? seen.at - died : null,
        detected: seen !== null,
        how: seen?.how ?? null,
        skipped: false as const,
        diedAt: died,
        detectedAt: seen?.at ?? null,
      };
      const answered = client.request === 'answered';
      // Answered, the request ends the timeline: the connection lives on, there is nothing more to wait for.
      const events = client.log.timeline(died, seen, answered ? client.requestedAt! : waitedUntil).filter((e) => !(answered && e.kind === 'not-noticed'));
      if (client.requestedAt !== null) events.push({ t: client.requestedAt - died, kind: 'request', answered });
      events.sort((a, b) => a.t - b.t);
      // budgetMs null: the budget counts from the last packet heard, the death here from X after it; what matters is the first probe.
      rows.push({ ...base, budgetMs: null, events, verdict: parts.judge(base) });
    }
    return rows;
  } finally {
    clearInterval(sampler);
    for (const client of clients) {
      client.finished = true;
      client.heartbeat?.stop();
      client.socket.destroy();
    }
    await peer.close();
    report({ type: 'done', scenario: 'middlebox' });
  }
}
