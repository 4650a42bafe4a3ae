// The monitor with protocols' own pings (ws, HTTP/2) against real servers
// on loopback, and keepAlive() choosing between kernel and heartbeat.
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { getKeepAlive, heartbeat, http2Heartbeat, keepAlive, Monitor, respond, wsHeartbeat, Heartbeat } from '../../lib';
import { scheduler } from '../../lib/heartbeat/scheduler';
import { connectedPair, listen, type Pair } from '../support/sockets';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
    m.on('pong', ({ rtt }: { rtt: number }) => rtts.push(rtt));
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

describe('keepAlive(): kernel, heartbeat or both', () => {
  let pair: Pair;
  const open = async () => {
    pair = await connectedPair();
    cleanups.push(() => pair.close());
    return pair;
  };

  it("'auto' with whole seconds on a TCP socket uses the kernel only", async () => {
    const { client } = await open();
    const result = keepAlive(client, { idle: 2_000, interval: 1_000, count: 3, fallback: 'auto', heartbeat: { framing: 'classic' } });
    expect(result.layers).toEqual(['kernel']);
    expect(result.heartbeat).toBeNull();
    // userTimeout 'auto' covers a peer that vanishes while data is in flight, within the same budget.
    expect(getKeepAlive(client)).toEqual({ enabled: true, idle: 2_000, interval: 1_000, count: 3, userTimeout: 5_000 });
  });

  it("'always' with a heartbeat option that is refused leaves the kernel untouched and nothing running", async () => {
    const { client } = await open();
    const before = getKeepAlive(client);
    expect(() =>
      keepAlive(client, { idle: 2_000, interval: 1_000, count: 3, fallback: 'always', heartbeat: { framing: 'bogus' as never } }),
    ).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_/) }));
    expect(getKeepAlive(client)).toEqual(before);
    expect(client.listenerCount('data')).toBe(0);
  });

  it("'auto' with a sub-second budget uses the heartbeat and says why not the kernel", async () => {
    const { client, accepted } = await open();
    respond(accepted, { framing: 'compact' });
    const result = keepAlive(client, { idle: 100, interval: 100, count: 1, heartbeat: { framing: 'compact' } });
    expect(result.layers).toEqual(['heartbeat']);
    expect(result.kernelSkipped).toMatch(/idle 100 ms is not whole seconds/);
    expect(getKeepAlive(client).enabled).toBe(false);
    expect(result.heartbeat).toBeInstanceOf(Heartbeat);
    await once(result.heartbeat!, 'pong');
    result.heartbeat!.stop();
  });

  it("'auto' on a stream with no fd (a Duplex) uses the heartbeat", () => {
    const stream = new PassThrough();
    const result = keepAlive(stream, { idle: 5_000, interval: 1_000, count: 3, heartbeat: { framing: 'classic' } });
    expect(result.layers).toEqual(['heartbeat']);
    expect(result.kernelSkipped).toMatch(/not a TCP socket/);
    result.heartbeat!.stop();
  });

  it('never writes into a stream whose protocol it does not own: without framing or ping() it is an error', async () => {
    const { client } = await open();
    const before = { data: client.listenerCount('data'), size: scheduler.size };
    expect(() => keepAlive(client, { idle: 300, interval: 100, count: 2 })).toThrow(
      expect.objectContaining({ code: 'ERR_HEARTBEAT_NO_PROTOCOL', message: expect.stringMatching(/never writes into a stream whose protocol it does not own/) }),
    );
    expect(() => keepAlive(client, { idle: 1_000, interval: 1_000, count: 2, fallback: 'always' })).toThrow(
      expect.objectContaining({ code: 'ERR_HEARTBEAT_NO_PROTOCOL' }),
    );
    // Nothing was started or set.
    expect({ data: client.listenerCount('data'), size: scheduler.size }).toEqual(before);
    expect(getKeepAlive(client).enabled).toBe(false);
    expect(client.bytesWritten).toBe(0);
  });

  it("'never' is the kernel only, and an error when the kernel cannot do what was asked", async () => {
    const { client } = await open();
    expect(() => keepAlive(client, { idle: 300, interval: 1_000, count: 2, fallback: 'never' })).toThrow(
      expect.objectContaining({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED', message: expect.stringMatching(/whole seconds/) }),
    );
    expect(() => keepAlive(new PassThrough(), { idle: 1_000, interval: 1_000, count: 2, fallback: 'never' })).toThrow(/not a TCP socket/);
    const result = keepAlive(client, { idle: 1_000, interval: 1_000, count: 2, fallback: 'never' });
    expect(result.layers).toEqual(['kernel']);
  });

  it("'always' runs both layers, the kernel rounding a sub-second time up", async () => {
    const { client, accepted } = await open();
    respond(accepted);
    const result = keepAlive(client, { idle: 500, interval: 1_000, count: 2, fallback: 'always', heartbeat: { framing: 'classic' } });
    expect(result.layers).toEqual(['kernel', 'heartbeat']);
    expect(result.kernel).toMatchObject({ enabled: true, idle: 1_000, interval: 1_000, count: 2 });
    result.heartbeat!.stop();
  });

  it("with the user's own ping(), watches bytes read without taking over the stream", async () => {
    const { client, accepted } = await open();
    // The user's protocol: a line "PING\n" answered by "PONG\n", read by the user.
    accepted.on('data', (d) => d.toString().includes('PING') && accepted.write('PONG\n'));
    const lines: string[] = [];
    client.setEncoding('utf8');
    client.on('data', (d: string) => lines.push(d));
    const result = keepAlive(client, {
      idle: 100,
      interval: 100,
      count: 2,
      heartbeat: { ping: () => client.write('PING\n') },
    });
    expect(result.layers).toEqual(['heartbeat']);
    expect(result.heartbeat).toBeInstanceOf(Monitor);
    expect(client.listenerCount('data')).toBe(1);
    let dead = false;
    result.heartbeat!.on('dead', () => (dead = true));
    await sleep(600);
    expect(dead).toBe(false);
    expect(lines.join('')).toMatch(/PONG/);
    client.destroy();
    await once(client, 'close');
    expect(result.heartbeat!.active).toBe(false);
  });

  it('rejects bad options by name', () => {
    const stream = new PassThrough();
    expect(() => keepAlive(stream, { idle: 1_000, interval: 1_000 } as never)).toThrow(/options\.count/);
    expect(() => keepAlive(stream, { idle: 1_000, interval: 1_000, count: 1, fallback: 'sometimes' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => keepAlive(stream, { idle: 1_000, interval: 1_000, count: 1, heartbeat: { framing: 'classic', ping: () => {} } })).toThrow(/framing or ping, not both/);
  });
});

it('a heartbeat over a plain Duplex needs no socket at all', () => {
  const hb = heartbeat(new PassThrough(), { framing: 'compact' });
  expect(hb.active).toBe(true);
  hb.stop();
  expect(hb.active).toBe(false);
});
