// `tcp-keepalive ping-server` and `ping-client`: the built-in heartbeat on
// the command line, wire-compatible with the classic C ping-pong programs.
// They reproduce the two classic experiments: a server slower than the
// client's budget gets the connection declared dead; a faster one keeps it up.
import * as net from 'node:net';
import { DEFAULT_TIMING, type PongInfo } from '../../heartbeat/monitor';
import { heartbeat } from '../../heartbeat/framed';
import { respond } from '../../heartbeat/respond';
import { checkFraming, classify, type Framing } from '../../heartbeat/framing';
import { MAX_TIMER_MS as MAX_COUNT } from '../../time';
import { color, parse, parseDuration, parseInteger, UsageError, type Command, type Options } from '../common';

type Report = (event: string, text: string, fields?: Record<string, unknown>) => void;

/** Bytes stdout may hold unwritten before lines are dropped instead of queued. */
const OUTPUT_QUEUE_BYTES = 64 * 1024;

/**
 * One line per event: text for people, or a JSON object per line with
 * --json. Its work is the connection, not the log, so the log never holds
 * it up nor grows without bound: when the reader of stdout goes away
 * (EPIPE) the lines stop; when the reader is slow or stops reading, stdout
 * keeps at most OUTPUT_QUEUE_BYTES waiting, the lines past that are counted
 * and, once stdout drains, one line says how many were dropped.
 */
function reporter(json: boolean): Report {
  const out = process.stdout;
  let dropped = 0;
  const format = (event: string, text: string, fields: Record<string, unknown>) =>
    json ? JSON.stringify({ event, ...fields }) + '\n' : text + '\n';
  out.on('drain', () => {
    if (dropped === 0 || out.destroyed) return;
    const n = dropped;
    dropped = 0;
    out.write(format('dropped', `... ${n} lines not printed: stdout was not being read`, { dropped: n }));
  });
  return (event, text, fields = {}) => {
    // destroyed: EPIPE (lib/cli/index.ts ends the output quietly then).
    if (out.destroyed) return;
    if (out.writableLength > OUTPUT_QUEUE_BYTES) {
      dropped++;
      return;
    }
    out.write(format(event, text, fields));
  };
}

/** Lines printed per second for each kind of log (frames, connections); past that, one summary line a second. */
const LINES_PER_SECOND = 20;

interface Throttled {
  line(kind: string, event: string, text: string, fields: Record<string, unknown>): void;
  stop(): void;
}

/**
 * Reports events one line each up to LINES_PER_SECOND a second, then counts
 * them by kind and prints one summary a second (`summaryEvent`, with
 * `skipped` and `counts`): a flood of PINGs or of connections costs the
 * server a counter, not a line per event.
 */
function throttled(report: Report, summaryEvent: string, noun: string): Throttled {
  let printed = 0;
  const skipped = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  const tick = () => {
    printed = 0;
    if (skipped.size === 0) {
      timer = null;
      return;
    }
    const counts = Object.fromEntries(skipped);
    const total = [...skipped.values()].reduce((a, b) => a + b, 0);
    const parts = [...skipped].map(([kind, n]) => `${n} ${kind}`).join(', ');
    report(summaryEvent, `... and ${total} more ${noun} in the last second (${parts})`, { skipped: total, counts });
    skipped.clear();
    timer = setTimeout(tick, 1000).unref();
  };
  return {
    line(kind, event, text, fields) {
      timer ??= setTimeout(tick, 1000).unref();
      if (printed++ < LINES_PER_SECOND) report(event, text, fields);
      else skipped.set(kind, (skipped.get(kind) ?? 0) + 1);
    },
    stop() {
      if (timer) clearTimeout(timer);
    },
  };
}

/** A duration option (`--idle 2s`), or its default when not given. */
function duration(values: Record<string, unknown>, name: string, fallback: number, zero = false): number {
  const raw = values[name];
  return raw === undefined ? fallback : parseDuration(String(raw), `--${name}`, undefined, { zero });
}

/** A whole-number option from 1 to `max`, or its default when not given. */
function integer(values: Record<string, unknown>, name: string, fallback: number, max: number): number {
  const raw = values[name];
  return raw === undefined ? fallback : parseInteger(String(raw), `--${name}`, 1, max);
}

function framingOf(values: Record<string, unknown>): Framing {
  try {
    return checkFraming(values.framing, '--framing');
  } catch {
    throw new UsageError(`--framing must be classic or compact, got '${String(values.framing)}'`);
  }
}

function frameName(framing: Framing, type: number): string {
  const kind = classify(framing, type, null);
  return kind === 'ping' ? 'PING' : kind === 'pong' ? 'PONG' : kind === 'message' ? `message type ${type}` : `unknown type ${type}`;
}

/** Resolves on SIGINT or SIGTERM, so a command can end cleanly with exit 0. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

const SERVER_OPTIONS: Options = {
  host: { type: 'string' },
  port: { type: 'string' },
  delay: { type: 'string' },
  framing: { type: 'string' },
  json: { type: 'boolean' },
};

export const pingServer: Command = {
  summary: 'answer heartbeat PINGs with PONGs, after an optional delay',
  usage: `Usage: tcp-keepalive ping-server [--host <h>] [--port <p>] [--delay <duration>] [--framing classic|compact] [--json]

Listens (default 127.0.0.1, port 7000; port 0 picks a free one), answers every
PING with a PONG after --delay (a duration such as 200ms or 1s; default none) and prints each frame received,
up to ${LINES_PER_SECOND} a second, then one line a second that counts the rest. Under a flood
of PINGs each connection keeps one PONG waiting; of the PINGs that arrive
meanwhile, only the latest is answered. Connection and close lines are held to
the same rate; a stdout nobody reads keeps at most 64 KiB waiting, and the
lines dropped meanwhile are counted. Runs until interrupted.

Options:
  --host <h>          address to listen on (default 127.0.0.1)
  --port <p>          port to listen on, 0 for a free one (default 7000)
  --delay <duration>  wait this long before each PONG, as in 200ms or 1s; 0ms for none (default)
  --framing <f>       classic (the C programs' 3-byte header) or compact (default classic)
  --json              one JSON object per line: listening, connection, frame, frames,
                      connections, close, error, dropped
  -h, --help`,
  async run(argv) {
    const { values } = parse(argv, SERVER_OPTIONS);
    const host = (values.host as string | undefined) ?? '127.0.0.1';
    const port = values.port === undefined ? 7000 : parseInteger(String(values.port), '--port', 0, 65535);
    const delay = duration(values, 'delay', 0, true);
    const framing = framingOf(values);
    const report = reporter(values.json === true);
    const frames = throttled(report, 'frames', 'frames');
    const connections = throttled(report, 'connections', 'connection events');
    const open = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      const peer = `${socket.remoteAddress}:${socket.remotePort}`;
      connections.line('connections', 'connection', `connection from ${peer}`, { peer });
      socket.on('error', (error) => connections.line('errors', 'error', `${peer}: ${error.message}`, { peer, message: error.message }));
      socket.on('close', () => connections.line('closes', 'close', `${peer} closed`, { peer }));
      respond(socket, {
        delay,
        framing,
        onFrame: (type, payload) => {
          const name = frameName(framing, type);
          const kind = classify(framing, type, null);
          frames.line(kind === 'ping' ? 'PINGs' : kind === 'pong' ? 'PONGs' : kind === 'message' ? 'messages' : 'unknown frames', 'frame', `received ${name} from ${peer}${name.startsWith('message') ? ` (${payload.length} bytes)` : ''}`, {
            peer,
            type,
            bytes: payload.length,
          });
        },
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as net.AddressInfo;
    report('listening', `listening on ${address.address}:${address.port} (${framing} framing, PONG after ${delay} ms)`, {
      host: address.address,
      port: address.port,
      framing,
      delay,
    });
    await untilSignal();
    frames.stop();
    connections.stop();
    server.close();
    for (const socket of open) socket.destroy();
    return 0;
  },
};

const CLIENT_OPTIONS: Options = {
  idle: { type: 'string' },
  interval: { type: 'string' },
  count: { type: 'string' },
  framing: { type: 'string' },
  duration: { type: 'string' },
  json: { type: 'boolean' },
};

export const pingClient: Command = {
  summary: 'connect and send heartbeat PINGs; exit 1 when the connection is dead',
  usage: `Usage: tcp-keepalive ping-client <host> <port> [--idle <duration>] [--interval <duration>] [--count <n>] [--framing classic|compact] [--duration <duration>] [--json]

After --idle with nothing received (default ${DEFAULT_TIMING.idle}ms) sends a PING, then one every
--interval (default ${DEFAULT_TIMING.interval}ms) while unanswered; after --count unanswered PINGs
(default ${DEFAULT_TIMING.count}) prints "connection dead" and exits 1. With --duration, exits 0
after that long if still alive. Durations take a unit: 500ms, 2s, 1m30s.

Options:
  --idle <duration>      silence before the first PING (default ${DEFAULT_TIMING.idle}ms)
  --interval <duration>  between unanswered PINGs (default ${DEFAULT_TIMING.interval}ms)
  --count <n>            unanswered PINGs before the connection is dead (default ${DEFAULT_TIMING.count})
  --framing <f>          classic or compact; the server's (default classic)
  --duration <duration>  exit 0 after this long if still alive (default: run until dead or interrupted)
  --json                 one JSON object per line: connected, ping, pong, message, dead, error, close
  -h, --help`,
  async run(argv) {
    const { values, positionals } = parse(argv, CLIENT_OPTIONS, true);
    if (positionals.length !== 2) throw new UsageError('expected <host> <port>');
    const [host, portText] = positionals;
    const port = parseInteger(portText, '<port>', 1, 65535);
    const idle = duration(values, 'idle', DEFAULT_TIMING.idle);
    const interval = duration(values, 'interval', DEFAULT_TIMING.interval);
    const count = integer(values, 'count', DEFAULT_TIMING.count, MAX_COUNT);
    const runFor = values.duration === undefined ? null : duration(values, 'duration', 0);
    const framing = framingOf(values);
    const report = reporter(values.json === true);

    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    report('connected', `connected to ${host}:${port} (dead after ${idle} + ${interval} x ${count} ms of silence)`, { host, port, idle, interval, count });
    const hb = heartbeat(socket, { idle, interval, count, framing });
    hb.on('ping', (seq: number) => report('ping', `sending heartbeat #${seq}`, { seq }));
    // rtt is null when the PONG echoes nothing of ours (the classic C server answering late).
    hb.on('pong', ({ rtt }: PongInfo) => report('pong', `received heartbeat (rtt ${rtt === null ? 'unknown' : `${rtt.toFixed(1)} ms`})`, { rtt }));
    hb.on('message', (type: number, payload: Buffer) => report('message', `received message type ${type} (${payload.length} bytes)`, { type, bytes: payload.length }));

    return new Promise<number>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let dead = false;
      let finished = false;
      const finish = (code: number) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        process.off('SIGINT', interrupted);
        process.off('SIGTERM', interrupted);
        hb.stop();
        socket.destroy();
        resolve(code);
      };
      const interrupted = () => finish(0);
      process.on('SIGINT', interrupted);
      process.on('SIGTERM', interrupted);
      if (runFor !== null) timer = setTimeout(() => finish(0), runFor);
      hb.on('dead', (error: Error & { probes: number; sinceLastReceived: number }) => {
        dead = true;
        report('dead', color.red(`connection dead: ${error.message}`), { probes: error.probes, sinceLastReceived: error.sinceLastReceived });
      });
      socket.on('error', (error: Error & { code?: string }) => {
        if (error.code !== 'ERR_HEARTBEAT_TIMEOUT') report('error', `error: ${error.message}`, { message: error.message, code: error.code });
      });
      socket.on('close', () => {
        if (!dead && !finished) report('close', 'connection closed by the peer', {});
        finish(1);
      });
    });
  },
};
