// Our own stalls are not the peer's death. A process of monitors (test/
// support/fixtures/monitors-child.js) watches healthy connections with every flavour
// of the heartbeat; the test freezes it with SIGSTOP or has it block its own
// event loop, longer than the budget, while the servers here keep answering.
// Not one healthy connection may be declared dead; the control group, whose
// server never answers, must be.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { respond } from '../../lib';
import { ensureBuilt } from '../support/cli';
import { BIN, DIST_INDEX, FIXTURES } from '../support/paths';
import { listen } from '../support/sockets';

const CHILD = join(FIXTURES, 'monitors-child.js');
// Budget 2 s: 1 s idle, then 2 PINGs 500 ms apart.
const TIMING = { idle: 1000, interval: 500, count: 2 };
const BUDGET = TIMING.idle + TIMING.interval * TIMING.count;
const STALL = BUDGET + 1500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
let ports: { framed: number; ws: number; http2: number; silent: number };

beforeAll(async () => {
  ensureBuilt();
  const framed = net.createServer((socket) => {
    socket.on('error', () => {});
    respond(socket, { framing: 'compact' });
  });
  const silent = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.resume();
  });
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const h2 = http2.createServer();
  h2.on('session', (session) => session.on('error', () => {}));
  const sockets = new Set<net.Socket>();
  for (const server of [framed, silent, h2]) server.on('connection', (s: net.Socket) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  ports = { framed: await listen(framed), silent: await listen(silent), http2: await listen(h2 as unknown as net.Server), ws: (wss.address() as net.AddressInfo).port };
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    framed.close();
    silent.close();
    h2.close();
    for (const client of wss.clients) client.terminate();
    wss.close();
  });
});

function killAll(): void {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    // A stopped process must be continued before it can act on anything but SIGKILL.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
}
afterEach(killAll);
afterAll(() => {
  killAll();
  for (const cleanup of cleanups) cleanup();
});

type Counts = Record<string, number>;

async function startMonitors(counts: Counts): Promise<{ child: ChildProcess; ask: <T>(message: unknown, key: string) => Promise<T> }> {
  const child = fork(CHILD, [JSON.stringify({ dist: DIST_INDEX, ports, counts, timing: TIMING })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const ask = <T,>(message: unknown, key: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (reply: Record<string, unknown>) => {
        if (!(key in reply)) return;
        child.off('message', onMessage);
        resolve(reply[key] as T);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`the monitors' process exited ${code}`)));
      if (message !== null) child.send(message as string);
    });
  const opened = await ask<Counts>(null, 'ready');
  expect(opened).toEqual(counts);
  return { child, ask };
}

const healthy = (deaths: Counts) => Object.fromEntries(Object.entries(deaths).filter(([flavour]) => flavour !== 'silent'));
const none = (counts: Counts) => Object.fromEntries(Object.keys(counts).filter((f) => f !== 'silent').map((f) => [f, 0]));

describe.skipIf(process.platform === 'win32')('our own process stalls longer than the budget, the peers stay healthy', () => {
  it('SIGSTOP then SIGCONT: none of 200 healthy connections per flavour is declared dead; the silent ones are', async () => {
    const counts = { heartbeat: 200, keepAlive: 200, monitor: 200, ws: 50, http2: 50, silent: 5 };
    const { child, ask } = await startMonitors(counts);
    // Into the budget, so PINGs are out when the stall begins.
    await sleep(TIMING.idle + 200);
    child.kill('SIGSTOP');
    await sleep(STALL);
    child.kill('SIGCONT');
    // A full budget after the stall: time for any false verdict to show.
    await sleep(BUDGET + 1000);
    const deaths = await ask<Counts>('deaths', 'deaths');
    expect(healthy(deaths)).toEqual(none(counts));
    expect(deaths.silent).toBe(counts.silent);
  });

  it('an event loop blocked by a long synchronous task: none of 3 000 healthy connections is declared dead', async () => {
    const counts = { heartbeat: 2000, keepAlive: 500, monitor: 500, ws: 20, http2: 20, silent: 5 };
    const { ask } = await startMonitors(counts);
    await sleep(TIMING.idle + 200);
    expect(await ask<number>({ block: STALL }, 'blocked')).toBe(STALL);
    await sleep(BUDGET + 1000);
    const deaths = await ask<Counts>('deaths', 'deaths');
    expect(healthy(deaths)).toEqual(none(counts));
    expect(deaths.silent).toBe(counts.silent);
  });

  it('one connection: a blocked event loop, then a healthy peer, no death', async () => {
    const counts = { heartbeat: 1, silent: 1 };
    const { ask } = await startMonitors(counts);
    await sleep(TIMING.idle + 100);
    await ask({ block: STALL }, 'blocked');
    await sleep(BUDGET + 1000);
    expect(await ask<Counts>('deaths', 'deaths')).toEqual({ heartbeat: 0, silent: 1 });
  });

  it('ping-client stopped for twice its budget against a healthy ping-server: no "connection dead"', async () => {
    const server = spawn(process.execPath, [BIN, 'ping-server', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(server);
    const [line] = (await once(createInterface({ input: server.stdout! }), 'line')) as [string];
    const { port } = JSON.parse(line);
    const client = spawn(process.execPath, [BIN, 'ping-client', '127.0.0.1', String(port), '--idle', '500ms', '--interval', '500ms', '--count', '2', '--duration', '6s'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    children.push(client);
    let stdout = '';
    client.stdout!.on('data', (chunk: Buffer) => (stdout += chunk));
    await sleep(1200);
    client.kill('SIGSTOP');
    await sleep(3000);
    client.kill('SIGCONT');
    const [code] = (await once(client, 'exit')) as [number];
    expect(stdout).not.toMatch(/connection dead/);
    expect(code).toBe(0);
    // It went on PINGing after the stall, and got answers.
    expect(stdout.split('\n').filter((l) => l.startsWith('received heartbeat')).length).toBeGreaterThanOrEqual(3);
  });
});
