// `tcp-keepalive drill`: kills a peer every way a connection dies and
// shows how fast each client set-up notices. The work is the harness's
// (lib/harness); this is its face on the command line.
import {
  DEFAULT_TIMINGS,
  defaultBound,
  PASSING,
  SCENARIO_NAMES,
  runDrill,
  type DrillRow,
  type Progress,
  type Scenario,
  type Verdict,
} from '../../harness';
import { killAll } from '../../harness/children';
import { color, parse, parseDuration, parseInteger, printJson, table, UsageError, type Command } from '../common';

const USAGE = `Usage: tcp-keepalive drill [--json] [--svg <file>] [--idle <duration>] [--interval <duration>] [--count <n>] [--scenario <name>...]

Starts a peer process, connects four clients to it (nothing: a plain
socket; kernel: keepalive with userTimeout 'auto'; heartbeat; both), kills
the peer one way, and times how long each client takes to notice.
Scenarios run in parallel: about 17 s with the defaults (slow sets the pace;
middlebox, about 5 s, adds none).
Progress goes to stderr, the table (or JSON) to stdout.

Scenarios: ${SCENARIO_NAMES.join(', ')}
  restart, blackhole and blackhole-busy need CAP_NET_ADMIN: without it they
  run in an unprivileged user+network namespace, or are skipped with the reason.
  middlebox puts Linux conntrack between client and peer (network namespaces:
  as root, or in an unprivileged user namespace where the kernel allows one);
  its rows are nothing, kernel, kernel-long-idle (idle longer than the
  middlebox's timeout) and heartbeat.

Options:
  --idle <duration>   silence before the first probe or ping (default ${DEFAULT_TIMINGS.idle}ms; as in 2s, 1500ms)
  --interval <duration> between unanswered probes or pings (default ${DEFAULT_TIMINGS.interval}ms)
  --count <n>         unanswered probes or pings before giving up (default ${DEFAULT_TIMINGS.count})
  --scenario <name>   run only this scenario; repeat or comma-separate for more
  --json              an array of rows { scenario, setup, expectedMs, measuredMs,
                      detected, how, skipped, diedAt, detectedAt, budgetMs, events,
                      verdict }; events: { t (ms from the death), kind: death, probe,
                      retransmit, ping, pong, noticed (with code), not-noticed, or
                      request (middlebox; answered when the peer's answer came back) }
  --svg <file>        also draw every row's timeline (probes, PINGs, the budget, the
                      moment noticed) into <file>, one self-contained SVG
  -h, --help

Exit status: 0 when every set-up noticed what it should, in time; 1 otherwise.`;

/** The drill waits for each death in real time: an hour is already more than anyone waits. */
const MAX_DRILL_TIMING_MS = 3_600_000;
const parseMs = (text: string, option: string) => parseDuration(text, option, MAX_DRILL_TIMING_MS);

function parseScenarios(given: string[] | undefined): Scenario[] | undefined {
  if (!given) return undefined;
  const names = given.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  // `--scenario ,` names nothing: running zero scenarios would pass vacuously.
  if (names.length === 0) throw new UsageError(`--scenario names no scenario; the scenarios are ${SCENARIO_NAMES.join(', ')}`);
  for (const name of names) {
    if (!(SCENARIO_NAMES as string[]).includes(name)) {
      throw new UsageError(`--scenario '${name}' is not a scenario; the scenarios are ${SCENARIO_NAMES.join(', ')}`);
    }
  }
  return [...new Set(names)] as Scenario[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

function progressLine(started: number, p: Progress): string {
  const clock = color.dim(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`);
  switch (p.type) {
    case 'start':
      return `${clock} ${p.scenario}: clients connected${p.where === 'namespace' ? ' (in a user+network namespace)' : p.where === 'process' ? ' (in a process of its own)' : ''}`;
    case 'died':
      return p.setup
        ? `${clock} ${p.scenario} / ${p.setup}: the peer now answers beyond the budget`
        : `${clock} ${p.scenario}: ${p.scenario === 'stall' ? 'the client stalls, the peer stays healthy' : p.scenario === 'middlebox' ? 'the middlebox forgets the idle connections' : 'the peer died'}`;
    case 'detected':
      return `${clock} ${p.scenario} / ${p.setup}: noticed after ${seconds(p.measuredMs)} (${p.how})`;
    case 'done':
      return `${clock} ${p.scenario}: done`;
    case 'skipped':
      return `${clock} ${p.scenario}: skipped, ${p.reason}`;
  }
}

const VERDICT_COLOR: Record<Verdict, (s: string) => string> = {
  ok: color.green,
  'never noticed': color.yellow,
  skipped: color.dim,
  late: color.red,
  early: color.red,
  'false alarm': color.red,
  missed: color.red,
  unexpected: color.red,
  'kept alive': color.green,
  'request failed': color.yellow,
};

export function render(rows: DrillRow[], boundNote: string): string {
  const reasons: string[] = [];
  const body = rows.map((row) => {
    const expected = row.expectedMs === null ? 'never' : row.expectedMs === 0 ? 'at once' : seconds(row.expectedMs);
    let measured: string;
    if (row.skipped) {
      if (!reasons.includes(row.skipped)) reasons.push(row.skipped);
      measured = `skipped [${reasons.indexOf(row.skipped) + 1}]`;
    } else {
      measured = row.measuredMs === null ? 'not noticed' : seconds(row.measuredMs);
    }
    return [row.scenario, row.setup, expected, measured, row.how ?? '', VERDICT_COLOR[row.verdict](row.verdict)];
  });
  const notes = reasons.map((r, i) => `[${i + 1}] ${r}`);
  return [table(body, ['scenario', 'setup', 'expected', 'measured', 'how', 'verdict']), '', boundNote, ...notes].join('\n');
}

export const command: Command = {
  summary: 'kill a peer every way a connection dies and time how fast each set-up notices',
  usage: USAGE,
  async run(argv) {
    const { values } = parse(argv, {
      json: { type: 'boolean' },
      idle: { type: 'string' },
      interval: { type: 'string' },
      count: { type: 'string' },
      scenario: { type: 'string', multiple: true },
      svg: { type: 'string' },
    });
    const timings = {
      idle: values.idle === undefined ? DEFAULT_TIMINGS.idle : parseMs(values.idle as string, '--idle'),
      interval: values.interval === undefined ? DEFAULT_TIMINGS.interval : parseMs(values.interval as string, '--interval'),
      count: values.count === undefined ? DEFAULT_TIMINGS.count : parseInteger(values.count as string, '--count', 1, 127),
    };
    const scenarios = parseScenarios(values.scenario as string[] | undefined);
    const started = Date.now();
    process.stderr.write(
      color.dim(`drill: idle ${timings.idle} ms, interval ${timings.interval} ms, count ${timings.count}; ${(scenarios ?? SCENARIO_NAMES).join(', ')}\n`),
    );
    let rows: DrillRow[];
    try {
      rows = await runDrill({ ...timings, scenarios, svg: values.svg as string | undefined, onProgress: (p) => process.stderr.write(progressLine(started, p) + '\n') });
    } finally {
      await killAll();
    }
    if (values.json) printJson(rows);
    else {
      const note = color.dim(
        `expected, measured: time from the death to the client noticing; 'not noticed': not within ${seconds(defaultBound(timings))} of the death. ` +
          `Took ${seconds(Date.now() - started)}.`,
      );
      process.stdout.write(render(rows, note) + '\n');
    }
    return rows.every((row) => PASSING.includes(row.verdict)) ? 0 : 1;
  },
};
