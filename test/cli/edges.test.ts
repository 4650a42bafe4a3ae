// The command line's edges: one duration syntax for every time option,
// bounds a Node timer can take, --version, an empty scenario list, a huge
// socket table, and plan's middlebox warning. Each runs the command as a
// child process, as a user would.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { beforeAll, describe, expect, it } from 'vitest';
import { render as renderSockets, type Connection, type SocketsReport } from '../../lib/cli/commands/sockets';
import { MIDDLEBOXES, type Plan } from '../../lib/plan';
import { ensureBuilt, run, runJson } from '../support/cli';
import { BIN, ROOT } from '../support/paths';
import { isLinux } from '../support/sockets';

beforeAll(() => ensureBuilt(), 120_000);

const OVER_TIMER = '2147483648ms'; // one past the longest Node timer

/** Starts a long-running command, returns its first JSON line and a way to stop it. */
async function firstJsonLine(args: string[]): Promise<{ line: Record<string, unknown>; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout });
  const [text] = (await once(lines, 'line')) as [string];
  return {
    line: JSON.parse(text) as Record<string, unknown>,
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

describe('durations: one parser for plan, drill, ping-server and ping-client', () => {
  it('plan takes 1m30s', async () => {
    const plan = await runJson<Plan>(['plan', '--detect-within', '1m30s']);
    expect(plan.budget).toBe(90_000);
  });

  it('ping-server takes --delay 1m30s', async () => {
    const server = await firstJsonLine(['ping-server', '--port', '0', '--delay', '1m30s']);
    await server.stop();
    expect(server.line).toMatchObject({ event: 'listening', delay: 90_000 });
  });

  it('ping-client takes --idle 1m30s and --interval 1500ms', async () => {
    const listener = net.createServer((s) => s.resume()).listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const port = (listener.address() as net.AddressInfo).port;
    const client = await firstJsonLine(['ping-client', '127.0.0.1', String(port), '--idle', '1m30s', '--interval', '1500ms']);
    await client.stop();
    listener.close();
    expect(client.line).toMatchObject({ event: 'connected', idle: 90_000, interval: 1500 });
  });

  it.skipIf(!isLinux)('drill takes --idle 1m30s (a crash is noticed at once whatever the idle)', async () => {
    const result = await run(['drill', '--scenario', 'crash', '--idle', '1m30s', '--interval', '1s', '--count', '1', '--json']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('idle 90000 ms');
  }, 60_000);

  // Bare numbers nowhere: "30" is seconds to some readers and ms to others.
  it.each([
    [['plan', '--detect-within', '30'], '--detect-within'],
    [['drill', '--idle', '1000'], '--idle'],
    [['ping-server', '--delay', '200'], '--delay'],
    [['ping-client', '127.0.0.1', '7', '--interval', '500'], '--interval'],
  ])('%j: a bare number is a usage error naming the option', async (args, option) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`"${option}" argument must be a duration with a unit`);
  });
});

describe('time options are bounded to what a Node timer takes, and refused at once', () => {
  it.each([
    [['ping-client', '127.0.0.1', '7', '--idle', OVER_TIMER], '--idle'],
    [['ping-client', '127.0.0.1', '7', '--duration', OVER_TIMER], '--duration'],
    [['ping-server', '--port', '0', '--delay', OVER_TIMER], '--delay'],
    [['plan', '--detect-within', OVER_TIMER], '--detect-within'],
    [['plan', '--detect-within', '30s', '--max-idle', OVER_TIMER], '--max-idle'],
    [['drill', '--idle', '2h'], '--idle'],
  ])('%j exits 2 naming %s', async (args, option) => {
    const started = Date.now();
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`"${option}" is out of range`));
    // "At once": no connection attempt, no listening server left to time out.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('--version and empty lists', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string };
    const result = await run(['--version']);
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('drill --scenario , names nothing and is a usage error, not an empty passing run', async () => {
    const result = await run(['drill', '--scenario', ',']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--scenario names no scenario');
    expect(result.stdout).toBe('');
  });
});

describe('sockets with 130 000 connections', () => {
  it('renders every row (no stack overflow from a spread over the rows)', () => {
    const connection = (i: number): Connection => ({
      protocol: 'tcp',
      local: { address: '10.0.0.1', port: 1024 + (i % 60_000) },
      remote: { address: '10.0.0.2', port: 5432 },
      state: 'ESTABLISHED',
      keepalive: i % 2 === 0,
      timer: i % 2 === 0 ? 'keepalive' : 'none',
      nextProbe: i % 2 === 0 ? 7_200_000 : null,
      probesSent: i % 2 === 0 ? 0 : null,
      retransmits: 0,
      uid: 0,
      user: 'root',
      inode: 1000 + i,
      owners: [],
      ownerUnknown: 'unknown: no process in view holds it',
    });
    const connections = Array.from({ length: 130_000 }, (_, i) => connection(i));
    const report: SocketsReport = {
      namespace: null,
      connections,
      summary: { total: 130_000, keepaliveOn: 65_000, keepaliveOff: 65_000, unknown: 0, ownerUnknown: 130_000 },
      notes: [],
    };
    const text = renderSockets(report);
    expect(text.split('\n').filter((line) => line.includes('10.0.0.2:5432'))).toHaveLength(130_000);
  });
});

describe('plan and middlebox idle timeouts', () => {
  it('warns when the planned idle outlives a load balancer, naming each one', async () => {
    const plan = await runJson<Plan>(['plan', '--detect-within', '15m']);
    expect(plan.kernel!.idle).toBeGreaterThan(600_000);
    expect(plan.middleboxes.map((m) => m.name)).toEqual(MIDDLEBOXES.map((m) => m.name));
    const text = await run(['plan', '--detect-within', '15m']);
    for (const m of MIDDLEBOXES) expect(text.stdout).toContain(m.name);
    expect(text.stdout).toContain('--max-idle');
  });

  it('--max-idle caps idle below the shortest timeout, and the warning goes away', async () => {
    const plan = await runJson<Plan>(['plan', '--detect-within', '15m', '--max-idle', '3m50s']);
    expect(plan.kernel!.idle).toBeLessThanOrEqual(230_000);
    expect(plan.kernel!.detectAfter).toBeLessThanOrEqual(900_000);
    expect(plan.middleboxes).toEqual([]);
    const text = await run(['plan', '--detect-within', '15m', '--max-idle', '3m50s']);
    expect(text.stdout).not.toContain('idle timeout of');
  });

  it('a small budget warns about nothing', async () => {
    const plan = await runJson<Plan>(['plan', '--detect-within', '30s']);
    expect(plan.middleboxes).toEqual([]);
  });
});
