// Every kind of socket a user holds, and the places where sockets are born.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { applyToAgent, applyToServer, getKeepAlive, setKeepAlive } from '../../lib';
import { listen } from '../support/sockets';
import { FIXTURES } from '../support/paths';

const key = readFileSync(join(FIXTURES, 'key.pem'));
const cert = readFileSync(join(FIXTURES, 'cert.pem'));
const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

function track<T extends { close(): unknown } | { destroy(): unknown }>(thing: T): T {
  cleanup.push(() => ('destroy' in thing ? thing.destroy() : thing.close()));
  return thing;
}

describe('TLS', () => {
  it('a tls.connect() socket: applied at connect while connecting, readable after the handshake', async () => {
    const server = track(tls.createServer({ key, cert }, (s) => s.end()));
    const port = await listen(server);
    const client = track(tls.connect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' }));
    expect(setKeepAlive(client, { idle: 2_000, interval: 1_000, count: 2 })).toBeNull();
    await once(client, 'secureConnect');
    expect(getKeepAlive(client)).toMatchObject({ enabled: true, idle: 2_000, interval: 1_000, count: 2 });
  });

  it('a TLSSocket that wraps an existing net.Socket, and the server-side TLSSocket', async () => {
    const server = track(tls.createServer({ key, cert }));
    const serverSide = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
    const port = await listen(server);
    const raw = track(net.connect(port, '127.0.0.1'));
    await once(raw, 'connect');
    const wrapped = track(tls.connect({ socket: raw, ca: cert, servername: 'localhost' }));
    await once(wrapped, 'secureConnect');
    expect(setKeepAlive(wrapped, { idle: 5_000 })).toMatchObject({ idle: 5_000 });
    expect(getKeepAlive(raw)).toMatchObject({ enabled: true, idle: 5_000 });
    const [accepted] = await serverSide;
    expect(setKeepAlive(accepted, { idle: 6_000 })).toMatchObject({ enabled: true, idle: 6_000 });
  });

  it('TLS over a stream that is not a TCP socket says there is no fd', async () => {
    const server = track(tls.createServer({ key, cert }));
    const port = await listen(server);
    const raw = track(net.connect(port, '127.0.0.1'));
    await once(raw, 'connect');
    // A JS Duplex in between hides the TCP socket from TLS.
    const { Duplex } = await import('node:stream');
    const duplex = new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        raw.write(chunk, callback);
      },
    });
    raw.on('data', (data) => duplex.push(data));
    const wrapped = track(tls.connect({ socket: duplex, ca: cert, servername: 'localhost' }));
    await once(wrapped, 'secureConnect');
    expect(() => setKeepAlive(wrapped, { idle: 1_000 })).toThrow(expect.objectContaining({ code: 'ERR_TCP_KEEPALIVE_NO_FD' }));
  });
});

describe('applyToServer', () => {
  it('applies to every socket a net server accepts, and stops when asked', async () => {
    const accepted: net.Socket[] = [];
    const server = track(net.createServer((s) => accepted.push(track(s))));
    const stop = applyToServer(server, { idle: 9_000, interval: 3_000, count: 3, userTimeout: 'auto' });
    const port = await listen(server);
    for (let i = 0; i < 3; i++) await once(track(net.connect(port, '127.0.0.1')), 'connect');
    while (accepted.length < 3) await new Promise((r) => setImmediate(r));
    for (const s of accepted) {
      expect(getKeepAlive(s)).toEqual({ enabled: true, idle: 9_000, interval: 3_000, count: 3, userTimeout: 18_000 });
    }
    stop();
    await once(track(net.connect(port, '127.0.0.1')), 'connect');
    while (accepted.length < 4) await new Promise((r) => setImmediate(r));
    expect(getKeepAlive(accepted[3]).enabled).toBe(false);
  });

  it('an http server with keepAlive: our interval and count win over the ones Node sets', async () => {
    let seen: unknown;
    const server = track(
      http.createServer({ keepAlive: true, keepAliveInitialDelay: 60_000 }, (req, res) => {
        seen = getKeepAlive(req.socket);
        res.end();
      }),
    );
    applyToServer(server, { idle: 4_000, interval: 2_000, count: 2 });
    const port = await listen(server);
    const res = await new Promise<http.IncomingMessage>((resolve) => http.get({ port, host: '127.0.0.1', agent: false }, resolve));
    res.resume();
    expect(seen).toMatchObject({ enabled: true, idle: 4_000, interval: 2_000, count: 2 });
  });

  it('an https server applies to the TCP socket under TLS', async () => {
    let seen: unknown;
    const server = track(
      https.createServer({ key, cert }, (req, res) => {
        seen = getKeepAlive(req.socket);
        res.end();
      }),
    );
    applyToServer(server, { idle: 8_000 });
    const port = await listen(server);
    const res = await new Promise<http.IncomingMessage>((resolve) =>
      https.get({ port, host: '127.0.0.1', ca: cert, servername: 'localhost', agent: false }, resolve),
    );
    res.resume();
    expect(seen).toMatchObject({ enabled: true, idle: 8_000 });
  });

  it('validates the options up front, and the server argument', () => {
    expect(() => applyToServer(net.createServer(), { count: 0 })).toThrow(RangeError);
    expect(() => applyToServer({} as never, {})).toThrow(TypeError);
  });
});

describe('applyToAgent', () => {
  async function get(port: number, agent: http.Agent): Promise<net.Socket> {
    let socket: net.Socket | undefined;
    const res = await new Promise<http.IncomingMessage>((resolve) => {
      http.get({ port, host: '127.0.0.1', agent }, resolve).on('socket', (s) => (socket = s));
    });
    res.resume();
    await once(res, 'end');
    return socket!;
  }

  it('applies to new sockets and again when a keepAlive agent parks a socket for reuse', async () => {
    const server = track(http.createServer((req, res) => res.end('x')));
    const port = await listen(server);
    const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 1 });
    cleanup.push(() => agent.destroy());
    applyToAgent(agent, { idle: 5_000, interval: 2_000, count: 4 });
    const first = await get(port, agent);
    await new Promise((r) => setImmediate(r)); // the agent parks the socket after 'end'
    // Node's keepSocketAlive has run (it sets interval 1 s, count 10 through libuv); ours still hold.
    expect(getKeepAlive(first)).toMatchObject({ enabled: true, idle: 5_000, interval: 2_000, count: 4 });
    const second = await get(port, agent);
    expect(second).toBe(first);
    expect(getKeepAlive(second)).toMatchObject({ idle: 5_000, interval: 2_000, count: 4 });
  });

  it('works on an https agent and restores the agent when stopped', async () => {
    const server = track(https.createServer({ key, cert }, (req, res) => res.end('x')));
    const port = await listen(server);
    const agent = new https.Agent({ ca: cert, servername: 'localhost' });
    cleanup.push(() => agent.destroy());
    const restore = applyToAgent(agent, { idle: 3_000 });
    let socket: net.Socket | undefined;
    const res = await new Promise<http.IncomingMessage>((resolve) => {
      const req = https.get({ port, host: '127.0.0.1', agent }, resolve);
      req.on('socket', (s) => (socket = s));
    });
    expect(getKeepAlive(socket!)).toMatchObject({ enabled: true, idle: 3_000 });
    res.resume();
    restore();
    expect((agent as unknown as { createConnection: unknown }).createConnection).toBe(https.Agent.prototype.createConnection);
  });

  it('rejects what is not an agent', () => {
    expect(() => applyToAgent({} as never, {})).toThrow(TypeError);
  });
});
