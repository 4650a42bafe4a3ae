// Where the command's output goes when nobody takes it: a reader that stops
// early (`| head -1`), a reader that stops reading (ping-server's log), and
// command names that are properties of every object.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, run } from '../support/cli';
import { sanitized } from '../support/leak';
import { BIN, ROOT } from '../support/paths';
import { isLinux, listen } from '../support/sockets';

beforeAll(() => ensureBuilt(), 120_000);

describe('command names', () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    it(`'${name}' is an unknown command: exit 2 with the overview`, async () => {
      const result = await run([name]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`unknown command '${name}'`);
      expect(result.stderr).toContain('Commands:');
    });
  }
});

describe.skipIf(!isLinux)(`a reader that stops early${isLinux ? '' : ' (skipped: sockets reads /proc)'}`, () => {
  const server = net.createServer();
  const clients: net.Socket[] = [];
  beforeAll(async () => {
    const port = await listen(server);
    // 600 connections make a table of about 150 KB: more than a pipe holds (64 KiB).
    await Promise.all(
      Array.from({ length: 600 }, async () => {
        const socket = net.connect(port, '127.0.0.1');
        clients.push(socket);
        await once(socket, 'connect');
      }),
    );
  }, 60_000);
  afterAll(() => {
    for (const socket of clients) socket.destroy();
    server.close();
  });

  for (const args of [['sockets'], ['sockets', '--json']]) {
    it(`\`tcp-keepalive ${args.join(' ')} | head -1\`: the first line, no stack trace, exit 0 under pipefail`, () => {
      const full = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      expect(full.stdout.length).toBeGreaterThan(64 * 1024);
      const piped = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" ${args.join(' ')} | head -1`], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
      expect(piped.stderr).toBe('');
      expect(piped.stdout).toBe(full.stdout.split('\n')[0] + '\n');
      expect(piped.status).toBe(0);
    });
  }
});

/** The child's resident set in MiB, from /proc. */
const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** A ping-server whose stdout this test reads, or never reads; its port from its first line. */
async function pingServer(read: boolean) {
  // A 1 MiB young generation: garbage waiting for its scavenge then moves RSS
  // by a MiB or two, not by up to the 16 MiB semi-space (one Node 24 run had
  // the two servers 14 MiB apart with the fix); lines queued on a blocked
  // stdout are live, not garbage, and still show in full.
  const child = spawn(process.execPath, ['--max-semi-space-size=1', BIN, 'ping-server', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout });
  const [first] = (await once(lines, 'line')) as [string];
  lines.close();
  if (read) child.stdout.resume();
  else child.stdout.pause();
  return { child, port: (JSON.parse(first) as { port: number }).port, stderr: () => stderr };
}

/** `cycles` connect-then-close cycles, eight at a time. */
async function churn(port: number, cycles: number): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < cycles) {
      started++;
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.destroy();
      await once(socket, 'close');
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

const CYCLES = 25_000;

describe.skipIf(!isLinux)(`ping-server whose stdout is not read${isLinux ? '' : ' (skipped: RSS is read from /proc)'}`, { timeout: 180_000 }, () => {
  // Before the fix every connection and close queued a line on the blocked
  // stdout: 25 000 cycles grew the server by 12.6 MiB more than the same
  // churn with its stdout read, and every line waited in memory.
  it(`stays the size of one whose stdout is read, over ${CYCLES} connect/close cycles; lines are throttled and summarised`, async () => {
    const rss: Record<string, number> = {};
    let kept = { bytes: 0, connectionLines: 0, allowedLines: 0, counted: 0 };
    for (const read of [true, false]) {
      const server = await pingServer(read);
      const before = rssMiB(server.child.pid!);
      const started = Date.now();
      await churn(server.port, CYCLES);
      const seconds = (Date.now() - started) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 300));
      rss[read ? 'read' : 'unread'] = rssMiB(server.child.pid!) - before;
      if (!read) {
        // Now read what it kept for us: a bounded amount, throttled per second, and the count of what it dropped.
        let bytes = 0;
        const events: Array<{ event: string; counts?: Record<string, number> }> = [];
        const lines = createInterface({ input: server.child.stdout });
        lines.on('line', (line) => {
          bytes += line.length + 1;
          events.push(JSON.parse(line) as (typeof events)[number]);
        });
        server.child.stdout.resume();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        kept = {
          bytes,
          connectionLines: events.filter((e) => e.event === 'connection').length,
          allowedLines: 20 * Math.ceil(seconds + 2),
          counted:
            events.filter((e) => e.event === 'connection').length +
            events.filter((e) => e.event === 'connections').reduce((sum, e) => sum + (e.counts?.connections ?? 0), 0),
        };
      }
      server.child.kill('SIGTERM');
      const [code] = (await once(server.child, 'exit')) as [number];
      expect(code).toBe(0);
      expect(server.stderr()).toBe('');
    }
    // Growth of a node process over the same churn is mostly its heap; what is
    // compared is the difference the unread stdout makes. RSS moves with the
    // collector by several MiB between runs (0.6 on Node 20, 7.4 once on Node
    // 24 with the fix; the old code grew 12.6 MiB more): the bound is loose,
    // and what the server kept queued, asserted below, is the exact check.
    console.log(`ping-server RSS growth over ${CYCLES} cycles, MiB: ${JSON.stringify(rss)}`);
    // Under ASan (npm run test:asan, inherited by the server) freed memory
    // waits in quarantine: both servers grew by 109-143 MiB, 14 and 33 apart in two runs.
    // The RSS comparison is made by the plain run; the checks below hold in both.
    // Even with a 1 MiB young generation, two Node 24 runs of the whole suite
    // had the servers 10.7 and 14.1 MiB apart (malloc and the old generation
    // move with the machine's load): RSS cannot tell the old 12.6 MiB from
    // noise, so it only guards against a gross leak; the exact check of what
    // was kept is `kept.bytes` below, which the old code failed by megabytes.
    if (sanitized) console.log('ping-server RSS comparison left out: the server runs under ASan, whose quarantine keeps freed memory resident');
    else expect(rss.unread - rss.read, JSON.stringify(rss)).toBeLessThan(64);
    expect(kept.bytes).toBeLessThan(256 * 1024);
    expect(kept.connectionLines).toBeLessThanOrEqual(kept.allowedLines);
    // Throttled, not lost: each connection is a line or in a summary's count.
    expect(kept.counted).toBe(CYCLES);
  });
});

describe('small edges', () => {
  it('ping-server takes --delay 0ms (no delay)', async () => {
    const child = spawn(process.execPath, [BIN, 'ping-server', '--port', '0', '--delay', '0ms', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [first] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    child.kill('SIGTERM');
    await once(child, 'exit');
    expect(JSON.parse(first)).toMatchObject({ event: 'listening', delay: 0 });
  });

  for (const args of [
    ['ping-client', '127.0.0.1', '7000', '--idle', '-5s'],
    ['ping-client', '127.0.0.1', '7000', '--idle=-5s'],
    ['plan', '--detect-within', '-5s'],
  ]) {
    it(`${args.join(' ')}: a usage error naming the negative value`, async () => {
      const result = await run(args);
      expect(result.code).toBe(2);
      expect(result.stderr.split('\n')[0]).toMatch(/(--idle|--detect-within) cannot be negative; got '-5s'/);
    });
  }

  for (const [command, options] of [
    ['ping-server', ['--host', '--port', '--delay', '--framing', '--json', '--help']],
    ['ping-client', ['--idle', '--interval', '--count', '--framing', '--duration', '--json', '--help']],
  ] as const) {
    it(`${command} --help has an options table`, async () => {
      const result = await run([command, '--help']);
      expect(result.code).toBe(0);
      const table = result.stdout.split('\nOptions:\n')[1];
      expect(table).toBeDefined();
      for (const option of options) expect(table).toMatch(new RegExp(`^  (-h, )?${option}\\b`, 'm'));
    });
  }
});
