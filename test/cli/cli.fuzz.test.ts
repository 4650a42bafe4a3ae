// Every CLI command with random arguments: known flags with values of every
// shape, unknown flags, stray positionals. Each run must end as the CLI
// promises (0 done, 1 failed, 2 usage error with the usage shown), never
// with a stack trace or a signal; --json output that succeeds is JSON.
// Commands that run until interrupted get SIGINT and must then exit cleanly.
// Every address used is loopback; hosts are IP literals, so no DNS either.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { respond } from '../../lib';
import { isLinux, listen } from '../support/sockets';
import { ROOT } from '../support/paths';

/** Each test spawns the CLI dozens of times; under the sanitizers a start takes about a second. */
const TIMEOUT = 180_000;
const bin = join(ROOT, 'bin/tcp-keepalive.js');

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  interrupted: boolean;
}

/** Runs the CLI; a command still running after `interruptAfter` ms gets SIGINT, and SIGKILL 10 s later. */
function cli(args: string[], interruptAfter: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const interrupt = setTimeout(() => {
      interrupted = true;
      child.kill('SIGINT');
    }, interruptAfter);
    const kill = setTimeout(() => child.kill('SIGKILL'), interruptAfter + 10_000);
    child.on('close', (status, signal) => {
      clearTimeout(interrupt);
      clearTimeout(kill);
      resolve({ status, signal, stdout, stderr, interrupted });
    });
  });
}

function expectCleanEnd(run: Run, args: string[]): void {
  const shown = { args, status: run.status, signal: run.signal, stderr: run.stderr.slice(0, 600) };
  // No signal, except the SIGINT we sent: a command may clean up and then
  // die of it, as Unix programs do, or exit with a status.
  if (run.interrupted && run.signal === 'SIGINT') return;
  expect(run.signal, JSON.stringify(shown)).toBeNull();
  expect([0, 1, 2, ...(run.interrupted ? [130] : [])], JSON.stringify(shown)).toContain(run.status);
  // A stack trace means an error nobody turned into a message.
  expect(run.stderr, JSON.stringify(shown)).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  if (run.status === 2) expect(run.stderr, JSON.stringify(shown)).toMatch(/Usage: tcp-keepalive/);
  if (run.status === 0 && args.includes('--json') && !run.interrupted && run.stdout.trim()) {
    // One JSON document, or one per line for commands that stream events.
    const parses = (text: string) => {
      try {
        JSON.parse(text);
        return true;
      } catch {
        return false;
      }
    };
    const lines = run.stdout.split('\n').filter((l) => l.trim());
    expect(parses(run.stdout) || lines.every(parses), JSON.stringify({ ...shown, stdout: run.stdout.slice(0, 300) })).toBe(true);
  }
}

/** Option values of every shape: durations, numbers, junk, huge, empty, unicode. */
const value = fc.oneof(
  fc.constantFrom('30s', '2m', '1500ms', '1h', '1', '0', '-1', '2', '3', '1000', '65536', '1e309', 'NaN', 'Infinity', '0x10', '', ' ', '9'.repeat(400), '--json', '-h2'),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map(String),
  fc.double().map(String),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);

/** An argv built from a command's flags (with and without values), unknown flags and positionals. */
function argv(flags: string[], positionals: fc.Arbitrary<string[]> = fc.constant([])): fc.Arbitrary<string[]> {
  const word = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...flags), value).map(([f, v]) => [f, v]) },
    { weight: 2, arbitrary: fc.constantFrom(...flags).map((f) => [f]) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...flags), value).map(([f, v]) => [`${f}=${v}`]) },
    { weight: 1, arbitrary: fc.constantFrom(['--bogus'], ['-x'], ['--'], ['-'], ['--json'], ['--no-json']) },
    { weight: 1, arbitrary: value.map((v) => [v]) },
  );
  return fc.tuple(positionals, fc.array(word, { maxLength: 5 })).map(([p, words]) => [...p, ...words.flat()]);
}

let pingServer: net.Server;
let livePort: number;
let closedPort: number;

beforeAll(async () => {
  expect(existsSync(join(ROOT, 'dist/cli/index.js')), 'dist/ is built by npm test (pretest); run npx tsc -p . first').toBe(true);
  pingServer = net.createServer((socket) => {
    socket.on('error', () => {});
    respond(socket);
  });
  livePort = await listen(pingServer);
  const closed = net.createServer();
  closedPort = await listen(closed);
  await new Promise((resolve) => closed.close(resolve));
});

afterAll(() => new Promise<void>((resolve) => pingServer.close(() => resolve())));

const loopbackHost = fc.constantFrom('127.0.0.1', '::1', '127.0.0.1', '0.0.0.0', '', '::');
const port = () => fc.oneof(fc.constantFrom(String(livePort), String(closedPort), '0', '65536', '-1', 'x'), fc.integer({ min: -5, max: 70_000 }).map(String));

// Each command's runs are sequential; the commands run side by side.
describe.skipIf(!isLinux).concurrent('CLI with random arguments (Linux: sockets reads /proc/net/tcp)', () => {
  const quick = (command: string, flags: string[], runs: number) =>
    it(`${command}: ${runs} random argument lists end with 0, 1 or 2 and a message, never a stack trace`, async () => {
      await fc.assert(
        fc.asyncProperty(argv(flags), async (args) => expectCleanEnd(await cli([command, ...args], 10_000), [command, ...args])),
        { numRuns: runs },
      );
    }, TIMEOUT);

  quick('sysctl', ['--json'], 15);
  quick('plan', ['--detect-within', '--json'], 25);
  quick('sockets', ['--pid', '--port', '--json'], 20);

  /** Half the runs with arguments that parse, so the command really starts and gets interrupted. */
  const runsThatStart = (valid: fc.Arbitrary<string[]>, random: fc.Arbitrary<string[]>) => fc.oneof(valid, random);
  const framing = fc.constantFrom([], ['--framing', 'classic'], ['--framing', 'compact']);
  const json = fc.constantFrom([], ['--json']);

  it('ping-server: 8 argument lists on loopback, interrupted after 1 s when still listening, end cleanly', async () => {
    const valid = fc
      .tuple(fc.constantFrom('127.0.0.1', '::1'), fc.constantFrom([], ['--delay', '1ms'], ['--delay', '20ms']), framing, json)
      .map(([host, delay, f, j]) => ['--host', host, '--port', '0', ...delay, ...f, ...j]);
    const random = argv(['--port', '--delay', '--framing', '--json']).chain((rest) =>
      fc.tuple(loopbackHost, fc.constantFrom('0', 'x', '-1', '70000')).map(([host, p]) => ['--host', host, '--port', p, ...rest]),
    );
    let interrupted = 0;
    await fc.assert(
      fc.asyncProperty(runsThatStart(valid, random), async (args) => {
        // A --port given again in the random part may name a used port: EADDRINUSE is a clean exit 1.
        const run = await cli(['ping-server', ...args], 1_000);
        if (run.interrupted) interrupted++;
        expectCleanEnd(run, ['ping-server', ...args]);
      }),
      { numRuns: 8, seed: 7 },
    );
    expect(interrupted, 'runs that were listening when interrupted').toBeGreaterThan(0);
  }, TIMEOUT);

  it('ping-client: 10 argument lists against a live, a closed and a bad port end cleanly', async () => {
    const valid = fc
      .tuple(fc.constantFrom(livePort, closedPort), fc.constantFrom([], ['--idle', '100ms', '--interval', '100ms']), fc.constantFrom([], ['--duration', '300ms']), json)
      .map(([p, timing, duration, j]) => ['127.0.0.1', String(p), ...timing, ...duration, ...j]);
    const positionals = fc.tuple(loopbackHost, port()).map(([h, p]) => [h, p]);
    const random = argv(['--idle', '--interval', '--count', '--framing', '--duration', '--json'], positionals);
    await fc.assert(
      fc.asyncProperty(runsThatStart(valid, random), async (args) => expectCleanEnd(await cli(['ping-client', ...args], 1_500), ['ping-client', ...args])),
      { numRuns: 10 },
    );
  }, TIMEOUT);

  it('drill: 6 argument lists, interrupted after 1.5 s when running, end cleanly', async () => {
    const scenario = fc.constantFrom('crash', 'reset', 'hang', 'slow', 'restart', 'blackhole', 'crash,reset', 'nope', '');
    const valid = fc
      .tuple(fc.constantFrom('hang', 'slow', 'hang,crash'), fc.constantFrom([], ['--idle', '1s'], ['--count', '1']), json)
      .map(([s, t, j]) => ['--scenario', s, ...t, ...j]);
    const random = argv(['--idle', '--interval', '--count', '--json']).chain((rest) => scenario.map((s) => ['--scenario', s, ...rest]));
    let interrupted = 0;
    await fc.assert(
      fc.asyncProperty(runsThatStart(valid, random), async (args) => {
        const run = await cli(['drill', ...args], 1_500);
        if (run.interrupted) interrupted++;
        expectCleanEnd(run, ['drill', ...args]);
      }),
      { numRuns: 6, seed: 7 },
    );
    expect(interrupted, 'runs that were drilling when interrupted').toBeGreaterThan(0);
  }, TIMEOUT);

  it('idle-limit: 10 argument lists against a live, a closed and a bad target, interrupted after 1.5 s when measuring, end cleanly', async () => {
    const target = fc.oneof(
      fc.constantFrom(`127.0.0.1:${livePort}`, `[::1]:${livePort}`, `127.0.0.1:${closedPort}`),
      fc.tuple(loopbackHost, port()).map(([h, p]) => (h.includes(':') ? `[${h}]:${p}` : `${h}:${p}`)),
      value,
    );
    const valid = fc
      .tuple(fc.constantFrom(`127.0.0.1:${livePort}`, `127.0.0.1:${closedPort}`), fc.constantFrom([], ['--max', '2s', '--resolution', '1s'], ['--max', '1m', '--resolution', '1s']), json)
      .map(([t, limits, j]) => [t, ...limits, ...j]);
    const random = argv(['--max', '--resolution', '--json'], target.map((t) => [t]));
    await fc.assert(
      fc.asyncProperty(runsThatStart(valid, random), async (args) => expectCleanEnd(await cli(['idle-limit', ...args], 1_500), ['idle-limit', ...args])),
      { numRuns: 10, seed: 7 },
    );
  }, TIMEOUT);

  it('unknown commands and the overview: 10 random first words', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(value, fc.constantFrom('help', '--help', '-h', 'bogus')), async (first) =>
        expectCleanEnd(await cli([first], 10_000), [first]),
      ),
      { numRuns: 10 },
    );
  }, TIMEOUT);
});
