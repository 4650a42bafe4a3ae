// The deferred application on sockets that are not connected yet, and the
// wrappers applyToAgent() installs: findings of the adversarial tests.
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyToAgent, getKeepAlive, keepAlive, setKeepAlive } from '../../lib';
import { listen } from '../support/sockets';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function server(): Promise<number> {
  const s = net.createServer((socket) => socket.on('error', () => {}));
  const port = await listen(s);
  cleanup.push(() => new Promise((resolve) => s.close(resolve)));
  return port;
}

describe('options given while a socket connects', () => {
  it("are in force when the user's own connect callback runs", async () => {
    const port = await server();
    const socket = new net.Socket();
    cleanup.push(() => socket.destroy());
    let seen: unknown;
    socket.connect(port, '127.0.0.1', () => {
      seen = getKeepAlive(socket);
    });
    setKeepAlive(socket, { idle: 7000, interval: 2000, count: 4 });
    await once(socket, 'connect');
    expect(seen).toMatchObject({ enabled: true, idle: 7000, interval: 2000, count: 4 });
  });

  it('a setKeepAlive(s, false) made in the connect callback stays', async () => {
    const port = await server();
    const socket = net.connect(port, '127.0.0.1', () => {
      setKeepAlive(socket, false);
    });
    cleanup.push(() => socket.destroy());
    setKeepAlive(socket, { idle: 7000 });
    await once(socket, 'connect');
    await new Promise((resolve) => setImmediate(resolve));
    expect(getKeepAlive(socket).enabled).toBe(false);
  });

  it('a socket reused for reconnects keeps one listener however many attempts fail', async () => {
    const closedPort = await server();
    const refused = net.createServer();
    const deadPort = await listen(refused);
    await new Promise((resolve) => refused.close(resolve));
    const socket = new net.Socket();
    socket.on('error', () => {});
    const before = socket.listenerCount('connect');
    for (let attempt = 0; attempt < 20; attempt++) {
      socket.connect(deadPort, '127.0.0.1');
      setKeepAlive(socket, { idle: 5000 + attempt * 1000 });
      await new Promise((resolve) => socket.once('close', resolve));
    }
    expect(socket.listenerCount('connect') - before).toBeLessThanOrEqual(1);
    // and the last options given are the ones applied when it finally connects
    socket.connect(closedPort, '127.0.0.1');
    cleanup.push(() => socket.destroy());
    await once(socket, 'connect');
    expect(getKeepAlive(socket).idle).toBe(24_000);
  });
});

describe('applyToAgent', () => {
  it('restores the agent whatever order its undo functions are called in', () => {
    const agent = new http.Agent({ keepAlive: true });
    const original = { createConnection: (agent as any).createConnection, keepSocketAlive: (agent as any).keepSocketAlive };
    const r1 = applyToAgent(agent, { idle: 3000 });
    const r2 = applyToAgent(agent, { idle: 4000 });
    r1();
    r2();
    expect((agent as any).createConnection).toBe(original.createConnection);
    expect((agent as any).keepSocketAlive).toBe(original.keepSocketAlive);
    agent.destroy();
  });

  it('after one of two is undone, the other still applies', async () => {
    const s = http.createServer((_req, res) => res.end('ok'));
    const port = await listen(s);
    cleanup.push(() => new Promise((resolve) => s.close(resolve)));
    const agent = new http.Agent({ keepAlive: true });
    cleanup.push(() => agent.destroy());
    const r1 = applyToAgent(agent, { idle: 3000 });
    applyToAgent(agent, { idle: 4000 });
    r1();
    const req = http.get({ port, host: '127.0.0.1', agent });
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.resume();
    await once(res, 'end');
    expect(getKeepAlive(req.socket!).idle).toBe(4000);
  });
});

describe("keepAlive({ fallback: 'auto' }) on a Unix-domain socket", () => {
  it('falls back to the heartbeat instead of throwing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'preload-unix-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 's');
    const s = net.createServer((socket) => socket.on('error', () => {}));
    s.listen(path);
    await once(s, 'listening');
    cleanup.push(() => new Promise((resolve) => s.close(resolve)));
    const socket = net.connect(path);
    cleanup.push(() => socket.destroy());
    await once(socket, 'connect');
    const result = keepAlive(socket, { idle: 2000, interval: 1000, count: 3, fallback: 'auto', heartbeat: { ping: () => {} } });
    cleanup.push(() => result.heartbeat?.stop());
    expect(result.layers).toEqual(['heartbeat']);
    expect(result.kernelSkipped).toMatch(/Unix-domain/);
  });
});
