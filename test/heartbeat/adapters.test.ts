// The monitor with protocols' own pings (ws, HTTP/2) against real servers
// on loopback.
import { setTimeout as sleep } from 'node:timers/promises';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { heartbeat, http2Heartbeat, wsHeartbeat } from '../../lib';
import { listen } from '../support/sockets';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function wsPair(clientOptions: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  cleanups.push(() => new Promise((resolve) => wss.close(resolve)));
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`, clientOptions);
  cleanups.push(() => client.terminate());
  await once(client, 'open');
  const [server] = await accepted;
  return { client, server };
}

describe('wsHeartbeat() with a real ws server', () => {
  it('gets PONGs from a live peer and raises no alarm', async () => {
    const { client, server } = await wsPair();
    const m = wsHeartbeat(server, { idle: 100, interval: 100, count: 2 });
    const rtts: number[] = [];
    m.on('pong', ({ rtt }) => rtts.push(rtt!));
    let dead = false;
    m.on('dead', () => (dead = true));
    await sleep(700);
    expect(dead).toBe(false);
    expect(rtts.length).toBeGreaterThanOrEqual(2);
    expect(client.readyState).toBe(WebSocket.OPEN);
    m.stop();
  });

  it('terminates a peer that stops answering pings, within budget', async () => {
    // autoPong off: the peer's WebSocket layer no longer answers.
    const { client, server } = await wsPair({ autoPong: false });
    const m = wsHeartbeat(server, { idle: 100, interval: 100, count: 2 });
    const started = performance.now();
    const [error] = await once(m, 'dead');
    expect(error.code).toBe('ERR_HEARTBEAT_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(300 + 700);
    await Promise.all([once(client, 'close'), once(server, 'close')]);
    expect(server.readyState).toBe(WebSocket.CLOSED);
  });

  it('removes its listeners when the WebSocket closes', async () => {
    const { client, server } = await wsPair();
    const events = ['pong', 'message', 'ping', 'close'] as const;
    const before = events.map((e) => server.listenerCount(e));
    const m = wsHeartbeat(server, { idle: 60_000 });
    expect(events.map((e) => server.listenerCount(e))).toEqual(before.map((n) => n + 1));
    client.close();
    await once(server, 'close');
    expect(m.active).toBe(false);
    expect(events.map((e) => server.listenerCount(e))).toEqual(before);
  });
});

describe('http2Heartbeat() with a real HTTP/2 server', () => {
  it('gets PONGs through session.ping() from a live server', async () => {
    const server = http2.createServer();
    const port = await listen(server);
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => session.destroy());
    await once(session, 'connect');
    const m = http2Heartbeat(session, { idle: 100, interval: 100, count: 2 });
    const [info] = await once(m, 'pong');
    expect(info.rtt).toBeGreaterThanOrEqual(0);
    session.close();
    await once(session, 'close');
    expect(m.active).toBe(false);
    expect(session.listenerCount('close')).toBe(0);
  });

  it('destroys the session with the timeout error when the server side goes silent', async () => {
    // A TCP server that accepts and never says a word: no SETTINGS, no PING ACK.
    const silent = net.createServer((socket) => socket.on('error', () => {}));
    const port = await listen(silent);
    const held: net.Socket[] = [];
    silent.on('connection', (s) => held.push(s));
    cleanups.push(() => {
      held.forEach((s) => s.destroy());
      return new Promise((resolve) => silent.close(resolve));
    });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => session.destroy());
    const sessionError = once(session, 'error');
    await once(session, 'connect');
    const m = http2Heartbeat(session, { idle: 100, interval: 100, count: 2 });
    const started = performance.now();
    const [dead] = await once(m, 'dead');
    expect(dead.code).toBe('ERR_HEARTBEAT_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(300 + 700);
    const [error] = await sessionError;
    expect(error).toBe(dead);
    expect(session.destroyed).toBe(true);
  });
});


it('a heartbeat over a plain Duplex needs no socket at all', () => {
  const hb = heartbeat(new PassThrough(), { framing: 'compact' });
  expect(hb.active).toBe(true);
  hb.stop();
  expect(hb.active).toBe(false);
});
