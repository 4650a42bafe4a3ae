// The heartbeat against real peer processes: the two classic experiments
// through the command line, and a frozen peer that kernel keepalive misses.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { heartbeat, setKeepAlive } from '../../lib';
import { BIN, ensureBuilt, run } from '../support/cli';

beforeAll(() => ensureBuilt());

const children: ChildProcess[] = [];
const sockets: net.Socket[] = [];

function killAll(): void {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    // A stopped process must be continued before it can act on anything but SIGKILL.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
}
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
  killAll();
});
afterAll(killAll);

/** Starts `tcp-keepalive ping-server` on a free loopback port. */
async function pingServer(delay: number): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  const child = spawn(process.execPath, [BIN, 'ping-server', '--port', '0', ...(delay > 0 ? ['--delay', `${delay}ms`] : []), '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`ping-server exited ${code} before listening`)));
    reader.on('line', (line) => {
      lines.push(line);
      const event = JSON.parse(line);
      if (event.event === 'listening') resolve(event.port);
    });
  });
  return { child, port, lines };
}

describe('the classic experiments with ping-server and ping-client', () => {
  it('a server slower than the budget: the client sends its PINGs, declares the connection dead and exits 1', async () => {
    const server = await pingServer(5_000);
    const started = Date.now();
    const client = await run(['ping-client', '127.0.0.1', String(server.port), '--idle', '200ms', '--interval', '200ms', '--count', '2']);
    expect(client.code).toBe(1);
    const lines = client.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('sending heartbeat'))).toEqual(['sending heartbeat #1', 'sending heartbeat #2']);
    expect(lines.at(-1)).toMatch(/^connection dead/);
    expect(client.stdout).not.toMatch(/received heartbeat/);
    // Budget 600 ms; the process start-up comes on top.
    expect(Date.now() - started).toBeLessThan(10_000);
    // The server did receive both PINGs.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.lines.filter((l) => JSON.parse(l).type === 1)).toHaveLength(2);
  });

  it('a server faster than the budget: the client keeps receiving answers and stays up', async () => {
    const server = await pingServer(100);
    const client = await run([
      'ping-client', '127.0.0.1', String(server.port), '--idle', '200ms', '--interval', '200ms', '--count', '3', '--duration', '1500ms',
    ]);
    expect(client.code).toBe(0);
    expect(client.stdout).not.toMatch(/connection dead/);
    const answers = client.stdout.split('\n').filter((l) => l.startsWith('received heartbeat'));
    expect(answers.length).toBeGreaterThanOrEqual(3);
  });

  it('compact framing works end to end too', async () => {
    const child = spawn(process.execPath, [BIN, 'ping-server', '--port', '0', '--framing', 'compact', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const { port } = JSON.parse(line);
    const client = await run(['ping-client', '127.0.0.1', String(port), '--framing', 'compact', '--idle', '100ms', '--duration', '600ms', '--json']);
    expect(client.code).toBe(0);
    const events = client.stdout.trim().split('\n').map((l) => JSON.parse(l).event);
    expect(events).toContain('pong');
  });

  it('rejects bad arguments with exit 2', async () => {
    const bad = await run(['ping-client', '127.0.0.1', '70000']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/<port> must be a whole number from 1 to 65535/);
    const badIdle = await run(['ping-client', '127.0.0.1', '7000', '--idle', '0']);
    expect(badIdle.code).toBe(2);
    expect(badIdle.stderr).toMatch(/"--idle" argument must be a duration with a unit/);
  });
});

describe('a frozen peer process (SIGSTOP)', () => {
  it.skipIf(process.platform === 'win32')(
    'is caught by the heartbeat within its budget, while kernel keepalive with the same budget notices nothing',
    async () => {
      const server = await pingServer(0);
      const connect = async () => {
        const socket = net.connect(server.port, '127.0.0.1');
        sockets.push(socket);
        await once(socket, 'connect');
        return socket;
      };
      // The same budget for both layers: 1 s idle, then 2 probes 1 s apart.
      const kernelOnly = await connect();
      setKeepAlive(kernelOnly, { idle: 1_000, interval: 1_000, count: 2 });
      const kernelEvents: string[] = [];
      kernelOnly.on('error', (error) => kernelEvents.push(`error ${error.message}`));
      kernelOnly.on('close', () => kernelEvents.push('close'));

      const watched = await connect();
      watched.on('error', () => {});
      const hb = heartbeat(watched, { idle: 1_000, interval: 1_000, count: 2 });

      server.child.kill('SIGSTOP');
      const frozenAt = Date.now();
      const [error] = await once(hb, 'dead');
      const detectedAfter = Date.now() - frozenAt;
      expect(error.code).toBe('ERR_HEARTBEAT_TIMEOUT');
      expect(detectedAfter).toBeGreaterThanOrEqual(2_900);
      expect(detectedAfter).toBeLessThan(3_000 + 1_500);
      expect(watched.destroyed).toBe(true);

      // Give the kernel layer the same budget and more: the frozen peer's
      // kernel ACKs every probe, so nothing happens.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 4_500 - (Date.now() - frozenAt))));
      expect(kernelEvents).toEqual([]);
      expect(kernelOnly.destroyed).toBe(false);
    },
  );
});
