// `tcp-keepalive idle-limit <host>:<port>`: how long the path to a server
// keeps an idle connection (lib/idle-limit.ts), and the keepalive values
// that stay under it (lib/plan.ts).
import { DEFAULT_MAX_MS, DEFAULT_RESOLUTION_MS, MAX_CONNECTIONS, measureIdleLimit, PROBE_COUNT, PROBE_INTERVAL_MS, type IdleLimitProgress, type IdleLimitResult } from '../../idle-limit';
import { limitsFor } from '../../kernel/platform';
import { planFor } from '../../plan';
import { color, humanDuration, parse, parseDuration, printJson, UsageError, type Command } from '../common';
import { render as renderPlan } from './plan';

const USAGE = `Usage: tcp-keepalive idle-limit <host>:<port> [--max <duration>] [--resolution <duration>] [--json]

Measures how long the path to a server (load balancers, NAT gateways,
firewalls on the way) keeps an idle connection, with no help from the
server. Opens one connection per idle length to test (resolution,
2 x resolution, ... up to max), gives each a keepalive idle of that length
(probes ${PROBE_INTERVAL_MS / 1000} s apart, ${PROBE_COUNT} of them), and sees which connections the path
forgot at their first probe: the probe is dropped, or answered with a RST.
Ends within --max plus ${(PROBE_INTERVAL_MS * PROBE_COUNT) / 1000 + 2} s, sooner once the limit is found;
shows its progress on a terminal. Ctrl-C closes every connection.

  --max <duration>         the longest idle to test (default ${humanDuration(DEFAULT_MAX_MS)})
  --resolution <duration>  the step between idle lengths, whole seconds (default ${humanDuration(DEFAULT_RESOLUTION_MS)});
                           at most ${MAX_CONNECTIONS} connections: each holds a slot in every middlebox
                           and in the server for up to --max, so --max / --resolution <= ${MAX_CONNECTIONS}
  --json                   { target, keptMs, forgotMs, forgets, serverClosedMs, maxMs,
                           resolutionMs, connections, elapsedMs, tests }: keptMs the longest
                           idle kept, forgotMs the shortest forgotten (null: none within
                           --max), forgets "drop", "reset" or null, serverClosedMs when the
                           server closed idle connections itself (null: it did not)
  -h, --help

Exit status: 0 when measured; 1 when the target refuses or cannot be reached;
130 when interrupted.`;

/** host:port, [v6]:port. */
function parseTarget(text: string | undefined): { host: string; port: number } {
  if (text === undefined) throw new UsageError('<host>:<port> is required, as in db.example.com:5432 or [2001:db8::1]:443');
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || !(port >= 1 && port <= 65535)) {
    throw new UsageError(`'${text}' is not <host>:<port> with a port from 1 to 65535 (IPv6: [address]:port)`);
  }
  return { host: match[1], port };
}

const s = (ms: number) => humanDuration(ms);
/** A measured time: tenths of a second below a minute (humanDuration would round 2.6 s to 3s). */
const measured = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : humanDuration(ms));
const flag = (ms: number) => humanDuration(ms).replace(/ /g, '');

export function render(result: IdleLimitResult): string {
  const out: string[] = [];
  const { keptMs, forgotMs, forgets, serverClosedMs } = result;
  out.push(
    color.dim(
      `${result.target}: ${result.connections} connection${result.connections === 1 ? '' : 's'}, idle ${s(result.resolutionMs)} to ${s(result.maxMs)} in ${s(result.resolutionMs)} steps; took ${measured(result.elapsedMs)}`,
    ),
  );
  if (forgotMs !== null) {
    const how = forgets === 'reset' ? 'answered its first probe with a RST' : 'dropped its probes';
    out.push(
      color.bold(`The path forgets an idle connection after ${keptMs === null ? `less than ${s(forgotMs)}` : `more than ${s(keptMs)} and at most ${s(forgotMs)}`}.`),
      `  It ${keptMs === null ? 'kept no idle length tested' : `kept a connection idle ${s(keptMs)}`}; it forgot one idle ${s(forgotMs)} and ${how}.`,
    );
  } else if (keptMs !== null) {
    out.push(color.bold(`The path kept every idle length up to ${s(keptMs)}: nothing on it forgot a connection within that.`));
  } else {
    out.push(color.bold('Nothing was measured: no connection stayed open until its first probe.'));
  }
  if (serverClosedMs !== null) {
    out.push(
      color.yellow(`The server closes idle connections itself, after ${measured(serverClosedMs)}:`) +
        ' the path cannot be measured beyond that, and keepalive does not stop it (probes carry no data for the server to see).',
    );
  }
  if (keptMs !== null) {
    // idle = keptMs, the longest proven safe; a budget of 1.5 x idle gives the plan's 3 probes a third of it
    // (At least idle + 3 probes 1 s apart, so that short idles get all of it too.)
    const budget = Math.max(keptMs + 3000, Math.ceil((keptMs * 1.5) / 1000) * 1000);
    const maxIdle = Math.min(keptMs, limitsFor().idle.max * 1000);
    out.push(
      '',
      `Keep keepalive idle at or below ${s(keptMs)} on this path. Values from \`tcp-keepalive plan --detect-within ${flag(budget)} --max-idle ${flag(maxIdle)}\`:`,
      '',
      renderPlan(planFor(budget, undefined, { maxIdle })),
    );
  }
  return out.join('\n');
}

function progressLine(p: IdleLimitProgress): string {
  const waiting = p.pending === 0 ? '' : `, ${p.pending} waiting for their first probe`;
  return `idle-limit: ${s(p.elapsedMs)} of at most ${s(p.untilMs)}: ${p.kept} kept, ${p.forgot} forgotten, ${p.serverClosed} closed by the server${waiting}`;
}

export const command: Command = {
  summary: 'measure how long the path to a server keeps an idle connection',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parse(argv, { max: { type: 'string' }, resolution: { type: 'string' }, json: { type: 'boolean' } }, true);
    if (positionals.length > 1) throw new UsageError(`one <host>:<port> only; got ${positionals.length}`);
    const { host, port } = parseTarget(positionals[0]);
    const idleMax = limitsFor().idle.max * 1000;
    const max = values.max === undefined ? DEFAULT_MAX_MS : parseDuration(values.max as string, '--max', idleMax);
    if (max < 1000) throw new UsageError('--max must be at least 1s: the kernel counts idle in whole seconds');
    const resolution = values.resolution === undefined ? Math.min(DEFAULT_RESOLUTION_MS, max) : parseDuration(values.resolution as string, '--resolution', max);
    const connections = Math.floor(max / (Math.ceil(resolution / 1000) * 1000));
    if (connections > MAX_CONNECTIONS) {
      throw new UsageError(
        `--max ${values.max ?? flag(max)} in steps of --resolution ${flag(resolution)} needs ${connections} connections; the bound is ${MAX_CONNECTIONS} ` +
          `(each holds a slot in every middlebox and in the server): use --resolution ${flag(Math.ceil(max / MAX_CONNECTIONS / 1000) * 1000)} or more`,
      );
    }
    if (connections === 0) throw new UsageError(`--resolution ${values.resolution} is longer than --max ${flag(max)}: nothing to test`);

    const tty = process.stderr.isTTY === true;
    const interrupt = new AbortController();
    const onSigint = () => interrupt.abort();
    process.once('SIGINT', onSigint);
    let lastDrawn = 0;
    const onProgress = (p: IdleLimitProgress) => {
      if (!tty || Date.now() - lastDrawn < 1000) return;
      lastDrawn = Date.now();
      process.stderr.write(`\r\x1b[K${color.dim(progressLine(p))}`);
    };
    const clearLine = () => tty && lastDrawn > 0 && process.stderr.write('\r\x1b[K');
    let result: IdleLimitResult;
    try {
      result = await measureIdleLimit({ host, port, max, resolution, onProgress, signal: interrupt.signal });
    } catch (error) {
      clearLine();
      if (interrupt.signal.aborted) {
        process.stderr.write('tcp-keepalive idle-limit: interrupted; every connection it opened is closed\n');
        return 130;
      }
      throw error;
    } finally {
      process.off('SIGINT', onSigint);
    }
    clearLine();
    if (values.json) printJson(result);
    else process.stdout.write(render(result) + '\n');
    return 0;
  },
};
