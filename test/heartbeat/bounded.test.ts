// Floods and backpressure: a busy responder still answers, a flooded one
// keeps one PONG per connection, and the command-line tools stay bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodePing, heartbeat, respond, CLASSIC_FRAME, COMPACT_HEADER } from '../../lib';
import { ensureBuilt, run } from '../support/cli';
import { BIN } from '../support/paths';
import { connectedPair, listen, type Pair } from '../support/sockets';

beforeAll(() => ensureBuilt());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let pair: Pair | null = null;
const children: ChildProcess[] = [];
afterEach(async () => {
  await pair?.close();
  pair = null;
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Counts the PONG frames (compact: 02, length 12) in what a socket receives. */
function countPongs(socket: net.Socket): { readonly count: number } {
  const state = { count: 0 };
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= COMPACT_HEADER && pending.length >= COMPACT_HEADER + pending.readUInt16BE(1)) {
      if (pending[0] === 2) state.count++;
      pending = pending.subarray(COMPACT_HEADER + pending.readUInt16BE(1));
    }
  });
  return state;
}

describe('with onlyPong, a peer streaming under backpressure', () => {
  it('still answers: the latest PONG waits for drain, so its healthy partner is not declared dead', async () => {
    pair = await connectedPair();
    pair.accepted.on('error', () => {});
    const budget = { idle: 100, interval: 100, count: 3 };
    // The streaming side respects backpressure: it writes until write() says
    // stop, and again at 'drain'.
    const streamer = heartbeat(pair.accepted, { ...budget, idle: 60_000, framing: 'compact' });
    const chunk = Buffer.alloc(60_000, 0x61);
    let streaming = true;
    const pump = () => {
      while (streaming && streamer.send(3, chunk));
    };
    pair.accepted.on('drain', pump);
    // The partner reads as fast as it can; the streamer still fills its buffer.
    const watcher = heartbeat(pair.client, { ...budget, onlyPong: true, framing: 'compact' });
    let pongs = 0;
    let dead: Error | null = null;
    watcher.on('pong', () => pongs++);
    watcher.on('dead', (error: Error) => (dead = error));
    pair.client.on('error', () => {});
    // PINGs that reach the streamer while its write buffer is full.
    let pingsWhileFull = 0;
    let pingsSeen = 0;
    pair.accepted.on('data', () => {
      pingsSeen++;
      if (pair?.accepted.writableNeedDrain) pingsWhileFull++;
    });
    pump();
    await sleep(2000);
    streaming = false;
    // Most PINGs found the streamer's buffer full, and PONGs got through anyway.
    expect(pingsWhileFull).toBeGreaterThan(pingsSeen / 2);
    expect(dead).toBe(null);
    expect(pongs).toBeGreaterThanOrEqual(5);
    watcher.stop();
    streamer.stop();
  });
});

describe('respond({ delay }) under a flood of PINGs', () => {
  it('keeps one PONG waiting per connection, each a delay after the PING it answers', async () => {
    pair = await connectedPair();
    pair.accepted.on('error', () => {});
    respond(pair.accepted, { delay: 300, framing: 'compact' });
    const pongs = countPongs(pair.client);
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    // 100 000 PINGs in a burst: 1.5 MB.
    const ping = encodePing('compact', 1);
    pair.client.write(Buffer.concat(Array.from({ length: 100_000 }, () => ping)));
    await sleep(150);
    const timersDuring = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    // sleep()'s own timer and at most one of the responder's.
    expect(timersDuring - timersBefore).toBeLessThanOrEqual(2);
    expect(pongs.count).toBe(0);
    await sleep(900);
    // The first PING's answer, then the latest one's: not 100 000.
    expect(pongs.count).toBeGreaterThanOrEqual(1);
    expect(pongs.count).toBeLessThanOrEqual(3);
    const heap = process.memoryUsage().heapUsed;
    expect(heap).toBeLessThan(512 * 1024 * 1024);
  });
});

/** Starts `tcp-keepalive ping-server` on a free port. */
async function pingServer(args: string[] = []): Promise<{ child: ChildProcess; port: number; lines: string[] }> {
  const child = spawn(process.execPath, [BIN, 'ping-server', '--port', '0', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  const reader = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`ping-server exited ${code}`)));
    reader.on('line', (line) => {
      lines.push(line);
      const event = JSON.parse(line);
      if (event.event === 'listening') resolve(event.port);
    });
  });
  return { child, port, lines };
}

async function flood(port: number, pings: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.resume();
  socket.write(Buffer.concat(Array.from({ length: pings }, (_, i) => encodePing('classic', i + 1))));
  return socket;
}

describe('ping-server under floods', () => {
  it('prints a bounded number of lines: each frame up to 20 a second, then one summary line a second', async () => {
    const server = await pingServer(['--delay', '200ms']);
    const socket = await flood(server.port, 20_000);
    await sleep(2500);
    socket.destroy();
    const events = server.lines.map((l) => JSON.parse(l));
    const frames = events.filter((e) => e.event === 'frame');
    const summaries = events.filter((e) => e.event === 'frames');
    expect(frames.length).toBeLessThanOrEqual(20 * 4);
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    const counted = frames.length + summaries.reduce((sum, s) => sum + s.skipped, 0);
    expect(counted).toBe(20_000);
    expect(summaries[0].counts).toHaveProperty('PINGs');
  });

  it('survives a closed stdout (EPIPE): no stack trace, still answering, exits 0 on SIGTERM', async () => {
    const server = await pingServer();
    let stderr = '';
    server.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    // The reader of its stdout goes away.
    server.child.stdout!.destroy();
    const socket = await flood(server.port, 50);
    await sleep(300);
    // Still alive, still answering PINGs on a new connection.
    const pongs = new Promise<void>((resolve) => {
      const probe = net.connect(server.port, '127.0.0.1', () => probe.write(encodePing('classic', 1)));
      probe.on('data', (chunk: Buffer) => chunk.length >= 4 && (probe.destroy(), resolve()));
    });
    await pongs;
    socket.destroy();
    expect(server.child.exitCode).toBe(null);
    server.child.kill('SIGTERM');
    const [code] = (await once(server.child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|at .*\(|Error/);
  });
});

describe('ping-client against a server that answers late without echoing', () => {
  it('prints an unknown rtt instead of crashing', async () => {
    // What the classic C server does: a 1028-byte PONG (type in host byte
    // order) whose payload echoes nothing, here 400 ms after each PING, and
    // one more that comes when no PING is outstanding (a late answer).
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      let pending = 0;
      socket.on('data', (chunk: Buffer) => {
        pending += chunk.length;
        while (pending >= CLASSIC_FRAME) {
          pending -= CLASSIC_FRAME;
          setTimeout(() => {
            const pong = Buffer.alloc(CLASSIC_FRAME);
            pong.writeUInt32LE(2, 0);
            // Twice in one write: the second PONG always finds no PING
            // outstanding, so its rtt cannot be known, whatever the timing.
            if (socket.writable) socket.write(Buffer.concat([pong, pong]));
          }, 400);
        }
      });
    });
    const port = await listen(server);
    try {
      const client = await run(['ping-client', '127.0.0.1', String(port), '--idle', '200ms', '--interval', '200ms', '--count', '4', '--duration', '2s']);
      expect(client.stderr).not.toMatch(/TypeError|toFixed/);
      expect(client.code).toBe(0);
      expect(client.stdout).toMatch(/received heartbeat \(rtt unknown\)/);
    } finally {
      server.close();
    }
  });
});
