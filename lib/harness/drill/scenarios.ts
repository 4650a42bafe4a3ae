// The drill: every way a connection dies, against four client set-ups,
// with when the death happened and when (and how) the client noticed.
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, constants, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setKeepAlive } from '../../kernel/keepalive';
import { scriptCommand, track } from '../children';
import { heartbeat as startHeartbeat, Heartbeat, type Monitor } from '../../heartbeat';
import { keepAlive } from '../../layers';
import { FRAMING } from '../protocol';
import { cannotCause, obstacleTo, startPeer, type Death, type Peer } from '../peer';
import { namespacePrefix, namespaceSupport } from '../privilege';
import type { MiddleboxPath } from '../middlebox';
import { judgeMiddlebox, MIDDLEBOX_SETUP_DESCRIPTION, middleboxExpectedMs, middleboxObstacle, middleboxSetups, runMiddleboxScenario, type MiddleboxSetup } from './middlebox';
import { ConnectionLog, SAMPLE_EVERY_MS, type TimelineEvent } from './events';
import { renderTimeline } from './timeline-svg';

/**
 * A way the drill kills a connection: a harness death, 'slow' (late PONGs),
 * 'stall' (the client's own process stalls: no death) or 'middlebox' (a
 * middlebox on the path forgets the idle connection).
 */
export type Scenario = Death | 'slow' | 'stall' | 'middlebox';
/** Scenarios the drill causes itself, with no help from the peer process. */
type OwnScenario = 'slow' | 'stall';
const isOwn = (scenario: Scenario): scenario is OwnScenario => scenario === 'slow' || scenario === 'stall';
/** How a drill client watches its connection: not at all, kernel keepalive, the heartbeat, or both; kernel-long-idle only in the middlebox scenario. */
export type Setup = 'nothing' | 'kernel' | 'heartbeat' | 'both' | MiddleboxSetup;

/** Each scenario with a one-line description, in the drill's order. */
export const SCENARIOS: Record<Scenario, string> = {
  crash: 'the peer process is killed (SIGKILL): its kernel sends FIN',
  reset: 'the peer aborts the connection: RST',
  restart: "the peer's kernel forgets the connection silently (TCP_REPAIR close), like a rebooted host",
  blackhole: 'nothing reaches the peer or comes back (drop-all socket filter); the client is idle',
  'blackhole-busy': 'blackhole while the client has unacknowledged data in flight',
  hang: "the peer process is frozen (SIGSTOP); its kernel still ACKs",
  slow: 'the peer answers heartbeats late: first within the budget, then beyond it',
  stall: 'the client process itself stalls (event loop blocked) for longer than the budget; the peer stays healthy',
  middlebox: 'a middlebox (Linux conntrack) between client and peer forgets connections idle longer than X and resets their next packet; the clients idle past X, then send a request',
};

/** Every scenario's name, in the drill's order. */
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as Scenario[];

/** Each set-up of every scenario with a one-line description. */
export const SETUPS: Record<Exclude<Setup, MiddleboxSetup>, string> = {
  nothing: 'a plain Node socket',
  kernel: "setKeepAlive with idle, interval, count and userTimeout 'auto'",
  heartbeat: 'heartbeat() over the connection, the peer answering',
  both: "keepAlive() with fallback 'always': kernel and heartbeat",
};

/** Every set-up's name, in the drill's order. */
export const SETUP_NAMES = Object.keys(SETUPS) as Setup[];

/** Set-ups of one scenario only, with what they are. */
export const SCENARIO_SETUPS: Record<MiddleboxSetup, string> = { 'kernel-long-idle': MIDDLEBOX_SETUP_DESCRIPTION };

/** The order of rows within a scenario. */
const ROW_ORDER: readonly Setup[] = ['nothing', 'kernel', 'kernel-long-idle', 'heartbeat', 'both'];

/** The drill's keepalive and heartbeat settings, in ms: a budget of idle + interval × count. */
export interface Timings {
  /** ms of silence before the first probe or ping */
  idle: number;
  /** ms between unanswered probes or pings */
  interval: number;
  /** unanswered probes or pings before the connection is dead */
  count: number;
}

/** The drill's default settings: idle 1 s, interval 1 s, count 2, so a 3 s budget. */
export const DEFAULT_TIMINGS: Timings = { idle: 1000, interval: 1000, count: 2 };

/**
 * ok: noticed within the window around the expected time; late / early:
 * noticed outside it; false alarm: declared dead before the death;
 * missed: not noticed within the bound though this set-up should;
 * never noticed: not noticed, and this set-up cannot (the problem the
 * drill shows); unexpected: noticed where nothing should have.
 */
export type Verdict = 'ok' | 'late' | 'early' | 'false alarm' | 'missed' | 'never noticed' | 'unexpected' | 'skipped' | 'kept alive' | 'request failed';

/** One scenario against one set-up: what was expected, what was measured, and the verdict. */
export interface DrillRow {
  /** how the connection was killed */
  scenario: Scenario;
  /** how the client watched it */
  setup: Setup;
  /** ms from the death to its expected detection; null when this set-up cannot notice it */
  expectedMs: number | null;
  /** ms from the death to its detection; null when not noticed within the bound */
  measuredMs: number | null;
  /** whether the client noticed within the bound */
  detected: boolean;
  /** the error code or event that told the client */
  how: string | null;
  /** why the row was not run, or false */
  skipped: string | false;
  /** Date.now() at the death */
  diedAt: number | null;
  /** Date.now() at the detection */
  detectedAt: number | null;
  /** ms of silence after which this set-up declares the peer dead (its settings); null: it has none, or (middlebox) the death is not the start of a silence */
  budgetMs: number | null;
  /** what happened on this connection from the death on, in time order */
  events: TimelineEvent[];
  /** the row judged: 'ok' or what went wrong */
  verdict: Verdict;
}

/** What `runDrill()` reports to `onProgress` as it goes. */
export type Progress =
  | { type: 'start'; scenario: Scenario; where: 'here' | 'namespace' | 'process' }
  | { type: 'died'; scenario: Scenario; setup?: Setup; at: number }
  | { type: 'detected'; scenario: Scenario; setup: Setup; measuredMs: number; how: string }
  | { type: 'done'; scenario: Scenario }
  | { type: 'skipped'; scenario: Scenario; reason: string };

/** Options of `runDrill()` and `runScenario()`; timings in ms (default `DEFAULT_TIMINGS`). */
export interface DrillOptions extends Partial<Timings> {
  /** the scenarios to run (default: all) */
  scenarios?: Scenario[];
  /** the set-ups to run each against (default: all) */
  setups?: Setup[];
  /** ms after each death to wait for detection; default 2 x the longest budget + 3 s */
  boundMs?: number;
  /** called as scenarios start, peers die and clients notice */
  onProgress?: (progress: Progress) => void;
  /** false: never re-run in a user+network namespace, skip instead */
  namespace?: boolean;
  /** a file to write the timeline of every row to, as SVG */
  svg?: string;
  /** the middlebox scenario: the path this process (in its client namespace) talks through; set by the drill itself */
  middlebox?: MiddleboxPath;
}

const ceilSeconds = (ms: number) => Math.ceil(ms / 1000) * 1000;

/** ms after last hearing from the peer that each layer gives up. */
export function budgets(t: Timings): { kernelFirstProbe: number; kernel: number; heartbeatFirstPing: number; heartbeat: number } {
  // The kernel takes whole seconds (rounded up); the heartbeat takes ms.
  return {
    kernelFirstProbe: ceilSeconds(t.idle),
    kernel: ceilSeconds(t.idle) + ceilSeconds(t.interval) * t.count,
    heartbeatFirstPing: t.idle,
    heartbeat: t.idle + t.interval * t.count,
  };
}

/** The set-up's time from the kernel's and the heartbeat's (null: that layer cannot): both takes the sooner. */
function bySetup(setup: Setup, kernel: number | null, heartbeat: number | null): number | null {
  if (setup === 'kernel') return kernel;
  if (setup === 'heartbeat') return heartbeat;
  if (setup === 'both') return kernel === null ? heartbeat : heartbeat === null ? kernel : Math.min(kernel, heartbeat);
  return null;
}

/** ms from the death to its detection, as each set-up should manage; null: it cannot. */
export function expectedMs(scenario: Scenario, setup: Setup, t: Timings): number | null {
  const b = budgets(t);
  const per = (kernel: number | null, heartbeat: number | null) => bySetup(setup, kernel, heartbeat);
  switch (scenario) {
    case 'crash':
    case 'reset':
      // FIN or RST reaches the client at once, whatever it runs.
      return 0;
    case 'restart':
      // The first probe or ping after idle meets a RST.
      return per(b.kernelFirstProbe, b.heartbeatFirstPing);
    case 'blackhole':
      return per(b.kernel, b.heartbeat);
    case 'blackhole-busy':
      // Keepalive stays silent with data in flight; userTimeout 'auto' is the kernel budget.
      return per(b.kernel, b.heartbeat);
    case 'hang':
    case 'slow':
      // The peer's kernel answers probes: only the heartbeat can tell.
      return per(null, b.heartbeat);
    case 'stall':
      // Nobody died: any detection is a false alarm.
      return null;
    case 'middlebox':
      return middleboxExpectedMs(setup, t);
  }
}

/** Detections further than this from the expected time get 'early' or 'late'. */
function tolerance(expected: number): { early: number; late: number } {
  return { early: Math.max(500, expected * 0.25), late: Math.max(1000, expected * 0.3) };
}

/** The verdict on a row: noticed in time, late, early, a false alarm, missed, never noticed (as expected), unexpected, or skipped. */
export function judge(row: Omit<DrillRow, 'verdict' | 'budgetMs' | 'events'>): Verdict {
  if (row.skipped) return 'skipped';
  if (row.scenario === 'stall') return row.detected ? 'false alarm' : 'ok';
  if (row.scenario === 'middlebox') return judgeMiddlebox(row, () => judgeTiming(row));
  return judgeTiming(row);
}

/** ok, early or late by the detection's time against the expected one; false alarm, missed, never noticed, unexpected. */
function judgeTiming(row: Omit<DrillRow, 'verdict' | 'budgetMs' | 'events'>): Verdict {
  const { expectedMs: expected, measuredMs: measured } = row;
  if (measured !== null && measured < 0) return 'false alarm';
  if (expected === null) return row.detected ? 'unexpected' : 'never noticed';
  if (measured === null) return 'missed';
  const slack = tolerance(expected);
  if (measured < expected - slack.early) return 'early';
  if (measured > expected + slack.late) return 'late';
  return 'ok';
}

/** Verdicts that mean the drill found what the set-ups promise. */
export const PASSING: readonly Verdict[] = ['ok', 'never noticed', 'skipped', 'kept alive', 'request failed'];

function resolveTimings(options: Partial<Timings>): Timings {
  return {
    idle: options.idle ?? DEFAULT_TIMINGS.idle,
    interval: options.interval ?? DEFAULT_TIMINGS.interval,
    count: options.count ?? DEFAULT_TIMINGS.count,
  };
}

/** ms after a death the drill waits for its detection, by default: 2 x the longest budget + 3 s. */
export function defaultBound(t: Timings): number {
  const b = budgets(t);
  return 2 * Math.max(b.kernel, b.heartbeat) + 3000;
}

interface Client {
  setup: Setup;
  socket: net.Socket;
  heartbeat: Monitor | null;
  detection: { at: number; how: string } | null;
  noticed: Promise<void>;
  diedAt: number | null;
  finished: boolean;
  /** what the kernel and the heartbeat sent and received on this connection */
  log: ConnectionLog;
}

/** ms of silence after which the set-up gives up, by its settings; null: it never does. */
function budgetFor(setup: Setup, t: Timings): number | null {
  const b = budgets(t);
  return bySetup(setup, b.kernel, b.heartbeat);
}

function skippedRow(scenario: Scenario, setup: Setup, t: Timings, reason: string): DrillRow {
  const row = {
    scenario,
    setup,
    expectedMs: expectedMs(scenario, setup, t),
    measuredMs: null,
    detected: false,
    how: null,
    skipped: reason,
    diedAt: null,
    detectedAt: null,
    budgetMs: budgetFor(setup, t),
    events: [],
  };
  return { ...row, verdict: judge(row) };
}

export async function connectClient(peer: Peer, setup: Setup, t: Timings): Promise<Client> {
  const socket = net.connect(peer.port, peer.host);
  await once(socket, 'connect');
  let heartbeat: Monitor | null = null;
  switch (setup) {
    case 'nothing':
    case 'kernel':
      // A client that reads, as any real one does: FIN and errors surface.
      socket.resume();
      if (setup === 'kernel') setKeepAlive(socket, { ...t, userTimeout: 'auto' });
      break;
    case 'heartbeat':
      heartbeat = startHeartbeat(socket, { ...t, framing: FRAMING });
      break;
    case 'both':
      heartbeat = keepAlive(socket, { ...t, fallback: 'always', heartbeat: { framing: FRAMING } }).heartbeat;
      break;
  }
  const log = new ConnectionLog(socket, heartbeat);
  const client: Client = { setup, socket, heartbeat, detection: null, noticed: Promise.resolve(), diedAt: null, finished: false, log };
  client.noticed = new Promise<void>((resolve) => {
    const note = (how: string) => {
      // The harness closing the socket after the bound is no detection.
      if (client.detection || client.finished) return;
      client.detection = { at: Date.now(), how };
      resolve();
    };
    socket.on('error', (error: Error & { code?: string }) => note(error.code ?? error.message));
    socket.on('end', () => note('end (FIN)'));
    socket.on('close', () => note('close'));
    heartbeat?.on('dead', (error: Error & { code?: string }) => note(error.code ?? 'dead'));
    // A heartbeat 'error' (say, an unknown frame) is not a death; keep it from throwing.
    if (heartbeat instanceof Heartbeat) heartbeat.on('error', () => {});
  });
  return client;
}

/** Resolves at the client's next heartbeat answer, or after `ms`. */
function nextPong(client: Client, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.heartbeat?.off('pong', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    client.heartbeat?.once('pong', done);
  });
}

/**
 * slow: each connection first gets its answers late but within the budget
 * (a false alarm there is a failure), then, right after an answer (so the
 * client's silence starts at a known time), answers beyond the budget.
 */
async function slowDown(peer: Peer, clients: Client[], t: Timings, report: (p: Progress) => void): Promise<void> {
  const withinMs = Math.floor((t.interval * t.count) / 2);
  const beyondMs = 600_000;
  await peer.setDelay(withinMs);
  // Two rounds of late answers.
  await sleep(2 * (t.idle + withinMs) + 100);
  await Promise.all(
    clients.map(async (client) => {
      // Declared dead while the answers were still within the budget: a
      // false alarm, shown as a detection before the death.
      if (client.detection) {
        client.diedAt = Date.now();
        return;
      }
      if (client.heartbeat) await nextPong(client, t.idle + t.interval * t.count);
      client.diedAt = await peer.setDelay(beyondMs, client.socket.localPort);
      report({ type: 'died', scenario: 'slow', setup: client.setup, at: client.diedAt });
    }),
  );
}

/**
 * stall: this process stops running JavaScript for longer than the budget,
 * as in a long synchronous task, a GC pause or a SIGSTOP, right after a
 * heartbeat PING went out, so its PONG arrives during the stall. The peer
 * is healthy throughout: a client that declares it dead raised a false alarm.
 */
async function stall(clients: Client[], t: Timings): Promise<number> {
  const watched = clients.filter((c) => c.heartbeat);
  if (watched.length > 0) await Promise.race(watched.map((c) => new Promise((resolve) => c.heartbeat!.once('ping', resolve))));
  const at = Date.now();
  // Blocks the thread without burning a core: nothing runs, nothing is read.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, budgets(t).heartbeat + 1000);
  return at;
}

/** Runs one scenario here, against the given set-ups, all on one peer and at once. */
export async function runScenario(scenario: Scenario, options: DrillOptions = {}): Promise<DrillRow[]> {
  const t = resolveTimings(options);
  const setups = options.setups ?? SETUP_NAMES;
  const report = options.onProgress ?? (() => {});
  const bound = options.boundMs ?? defaultBound(t);
  if (scenario === 'middlebox') return runMiddleboxScenario(options, { connectClient, judge, resolveTimings, skippedRow });
  const reason = isOwn(scenario) ? null : await cannotCause(scenario);
  if (reason) return setups.map((setup) => skippedRow(scenario, setup, t, reason));

  const rows = new Map<Setup, DrillRow>();
  const peer = await startPeer();
  const clients: Client[] = [];
  const readKernels = () => clients.forEach((client) => client.finished || client.log.readKernel());
  const sampler = setInterval(readKernels, SAMPLE_EVERY_MS);
  try {
    for (const setup of setups) clients.push(await connectClient(peer, setup, t));
    await peer.waitForConnections(clients.length);
    report({ type: 'start', scenario, where: 'here' });

    if (scenario === 'slow') {
      await slowDown(peer, clients, t, report);
    } else if (scenario === 'stall') {
      const at = await stall(clients, t);
      for (const client of clients) client.diedAt = at;
      report({ type: 'died', scenario, at });
    } else {
      const death = await peer.kill(scenario);
      for (const client of clients) client.diedAt = death.at;
      report({ type: 'died', scenario, at: death.at });
      if (scenario === 'blackhole-busy') {
        // Data the peer will never acknowledge: keepalive probes stop, retransmissions start.
        for (const client of clients) if (!client.socket.destroyed) client.socket.write(Buffer.alloc(4096, 0x2e));
      }
    }

    const latestDeath = Math.max(...clients.map((c) => c.diedAt ?? Date.now()));
    const timeLeft = Math.max(0, latestDeath + bound - Date.now());
    for (const client of clients) {
      void client.noticed.then(() => {
        if (client.detection && client.diedAt !== null) {
          report({ type: 'detected', scenario, setup: client.setup, measuredMs: client.detection.at - client.diedAt, how: client.detection.how });
        }
      });
    }
    let bounded: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(clients.map((c) => c.noticed)),
      new Promise<void>((resolve) => (bounded = setTimeout(resolve, timeLeft))),
    ]);
    clearTimeout(bounded);
    const waitedUntil = Date.now();
    // The last readings: what the kernel did up to the detection.
    readKernels();

    for (const client of clients) {
      const died = client.diedAt;
      const seen = client.detection && died !== null && client.detection.at <= died + bound ? client.detection : null;
      const row = {
        scenario,
        setup: client.setup,
        expectedMs: expectedMs(scenario, client.setup, t),
        measuredMs: seen && died !== null ? seen.at - died : null,
        detected: seen !== null,
        how: seen?.how ?? null,
        skipped: false as const,
        diedAt: died,
        detectedAt: seen?.at ?? null,
        budgetMs: budgetFor(client.setup, t),
        events: died === null ? [] : client.log.timeline(died, seen, waitedUntil),
      };
      rows.set(client.setup, { ...row, verdict: judge(row) });
    }
  } finally {
    clearInterval(sampler);
    for (const client of clients) {
      client.finished = true;
      client.heartbeat?.stop();
      client.socket.destroy();
    }
    await peer.close();
    report({ type: 'done', scenario });
  }
  return setups.map((setup) => rows.get(setup)!);
}

function namespaceScript(): string {
  return join(__dirname, '..', 'bin', 'drill-in-namespace.js');
}

/**
 * Runs scenarios in a process of their own: those that need CAP_NET_ADMIN
 * in a fresh unprivileged user and network namespace (client and peer both
 * inside, on its loopback, `prefix` the unshare command), and the stall,
 * which would stall every scenario running beside it (no prefix).
 */
async function runElsewhere(scenarios: Scenario[], options: DrillOptions, prefix: string[]): Promise<DrillRow[]> {
  const where = prefix.length > 0 ? ('namespace' as const) : ('process' as const);
  const t = resolveTimings(options);
  const setups = options.setups ?? SETUP_NAMES;
  const forward = { ...t, scenarios, setups, boundMs: options.boundMs, middlebox: options.middlebox };
  const [command, ...args] = [...prefix, ...scriptCommand(namespaceScript(), JSON.stringify(forward))];
  const child = track(spawn(command, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'] }));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let rows: DrillRow[] | null = null;
  child.on('message', (message: { progress?: Progress; rows?: DrillRow[] }) => {
    const progress = message.progress?.type === 'start' ? { ...message.progress, where } : message.progress;
    if (progress) options.onProgress?.(progress);
    if (message.rows) rows = message.rows;
  });
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  if (rows) return rows;
  const why = stderr.trim().split('\n').pop() || (signal ?? `exit code ${code}`);
  return scenarios.flatMap((s) => setups.map((setup) => skippedRow(s, setup, t, `the run in ${where === 'namespace' ? 'a user+network namespace' : 'a process of its own'} failed: ${why}`)));
}

/**
 * Runs the scenarios (default: all) against the set-ups (default: all), in
 * parallel. Scenarios this process lacks the privilege for run in a user
 * and network namespace of their own where the system allows it, and are
 * skipped with the reason otherwise.
 */
export async function runDrill(options: DrillOptions = {}): Promise<DrillRow[]> {
  const t = resolveTimings(options);
  const scenarios = options.scenarios ?? SCENARIO_NAMES;
  const setups = options.setups ?? SETUP_NAMES;
  // A picture that cannot be written fails now, not after the whole drill.
  if (options.svg !== undefined) await access(dirname(resolve(options.svg)), constants.W_OK);
  const here: Scenario[] = [];
  const elsewhere: Scenario[] = [];
  const skipped: DrillRow[] = [];
  for (const scenario of scenarios) {
    const obstacle = isOwn(scenario) ? null : scenario === 'middlebox' ? middleboxReason() : await obstacleTo(scenario);
    if (!obstacle) {
      here.push(scenario);
      continue;
    }
    const { reason } = obstacle;
    const ns = obstacle.needsNetAdmin && options.namespace !== false ? namespaceSupport() : null;
    if (ns?.ok) {
      elsewhere.push(scenario);
      continue;
    }
    const full = ns && !ns.ok ? `${reason}, and ${ns.reason}` : reason;
    options.onProgress?.({ type: 'skipped', scenario, reason: full });
    skipped.push(...(scenario === 'middlebox' ? middleboxSetups(options) : setups).map((setup) => skippedRow(scenario, setup, t, full)));
  }
  // The stall blocks its whole process: alone, it runs here; with company, in a process of its own.
  const alone = here.length === 1 && elsewhere.length === 0;
  const isolated = here.includes('stall') && !alone ? here.splice(here.indexOf('stall'), 1) : [];
  const ns = namespaceSupport();
  const results = await Promise.all([
    ...here.map((scenario) => runScenario(scenario, options)),
    elsewhere.length > 0 && ns.ok ? runElsewhere(elsewhere, options, namespacePrefix(ns)) : Promise.resolve([]),
    isolated.length > 0 ? runElsewhere(isolated, options, []) : Promise.resolve([]),
  ]);
  const all = [...results.flat(), ...skipped];
  const order = (row: DrillRow) => SCENARIO_NAMES.indexOf(row.scenario) * 10 + ROW_ORDER.indexOf(row.setup);
  const rows = all.sort((a, b) => order(a) - order(b));
  if (options.svg) await writeFile(options.svg, renderTimeline(rows, { title: drillTitle(t) }));
  return rows;
}

/** The middlebox scenario's obstacle in obstacleTo()'s shape: no namespace of ours would remove it. */
function middleboxReason(): { reason: string; needsNetAdmin: boolean } | null {
  const reason = middleboxObstacle();
  return reason ? { reason, needsNetAdmin: false } : null;
}

/** One line naming the settings, for the picture. */
function drillTitle(t: Timings): string {
  return `tcp-keepalive drill: idle ${t.idle} ms, interval ${t.interval} ms, count ${t.count}`;
}
