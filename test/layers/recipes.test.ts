// The recipes of docs/recipes.md, each run as written against a loopback server: the
// driver connects, and the socket reached the recipe's way must hold the
// recipe's values. A plain accepting server is enough where the recipe gets
// the socket before the protocol starts; pg's handshake is three messages,
// so it gets a real one.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import Redis from 'ioredis';
import * as mysql from 'mysql2';
import pg from 'pg';
import { Agent, buildConnector, request } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { applyToAgent, getKeepAlive, setKeepAlive } from '../../lib';
import { listen } from '../support/sockets';
import { FIXTURES } from '../support/paths';

// The constant of docs/recipes.md: the first probe after 60 s of silence keeps the
// flow alive through AWS NLB (350 s), Azure LB (4 min) and GCP (10 min);
// userTimeout 'auto' gives the same bound while data is in flight.
const KEEPALIVE = { idle: 60_000, interval: 10_000, count: 5, userTimeout: 'auto' } as const;
const EXPECTED = { enabled: true, idle: 60_000, interval: 10_000, count: 5, userTimeout: 60_000 + 10_000 * 5 };

// Undone last-registered first: clients before the servers they talk to.
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server that accepts and says nothing; closed, with its connections, after the test. */
async function silentServer(): Promise<{ port: number; sockets: Set<net.Socket> }> {
  const server = net.createServer();
  const port = await listen(server);
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  cleanups.push(() => sockets.forEach((socket) => socket.destroy()));
  return { port, sockets };
}

/** Just enough of the PostgreSQL protocol for pg to connect: AuthenticationOk, ReadyForQuery. */
async function postgresServer(): Promise<number> {
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      const authOk = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
      const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
      socket.write(Buffer.concat([authOk, ready]));
    });
    socket.on('error', () => {});
  });
  const port = await listen(server);
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return port;
}

async function httpServer(): Promise<number> {
  const server = http.createServer((_req, res) => res.end('ok'));
  const port = await listen(server);
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return port;
}

async function connected(socket: net.Socket): Promise<net.Socket> {
  if (socket.connecting) await once(socket, 'connect');
  return socket;
}

describe.skipIf(process.platform === 'win32')("docs/recipes.md recipes (skipped on Windows: Node gives no socket handle there, so getKeepAlive cannot read the values back)", () => {
  it('pg: Pool "connect" event, client.connection.stream', async () => {
    const port = await postgresServer();
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'app', database: 'app' });
    cleanups.push(() => pool.end());
    // recipe
    pool.on('connect', (client) => setKeepAlive(client.connection.stream as net.Socket, KEEPALIVE));
    // end recipe
    const client = await pool.connect();
    cleanups.push(() => client.release());
    expect(getKeepAlive(client.connection.stream as net.Socket)).toMatchObject(EXPECTED);
  });

  it('ioredis: "connect" event, redis.stream (again after every reconnect)', async () => {
    const { port, sockets } = await silentServer();
    const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0 });
    cleanups.push(() => redis.disconnect());
    // recipe
    redis.on('connect', () => setKeepAlive(redis.stream, KEEPALIVE));
    // end recipe
    const connectedEvent = once(redis, 'connect');
    redis.connect().catch(() => {});
    await connectedEvent;
    const first = redis.stream;
    expect(getKeepAlive(first)).toMatchObject(EXPECTED);
    // The server drops the connection: ioredis reconnects on a new socket.
    redis.on('error', () => {});
    const reconnected = new Promise((resolve) => redis.once('connect', resolve));
    sockets.forEach((socket) => socket.destroy());
    await reconnected;
    expect(redis.stream).not.toBe(first);
    expect(getKeepAlive(redis.stream)).toMatchObject(EXPECTED);
  });

  it('mysql2: a stream factory in the pool (or connection) options', async () => {
    const { port } = await silentServer();
    const sockets: net.Socket[] = [];
    // recipe
    const pool = mysql.createPool({
      host: '127.0.0.1',
      port,
      user: 'app',
      stream: ({ config }: { config: { host: string; port: number } }) => {
        const socket = net.connect(config.port, config.host);
        socket.setNoDelay(true);
        setKeepAlive(socket, KEEPALIVE); // applied once connected
        sockets.push(socket); // (test only)
        return socket;
      },
    });
    // end recipe
    cleanups.push(() => new Promise<void>((resolve) => pool.end(() => resolve())));
    cleanups.push(() => sockets.forEach((socket) => socket.destroy()));
    pool.getConnection(() => {});
    await expect.poll(() => sockets.length).toBe(1);
    expect(getKeepAlive(await connected(sockets[0]))).toMatchObject(EXPECTED);
  });

  it('undici: a connector wrapping buildConnector() in the Agent', async () => {
    const port = await httpServer();
    let reached: net.Socket | undefined;
    // recipe
    const connect = buildConnector({});
    const agent = new Agent({
      connect(options, callback) {
        connect(options, (error, socket) => {
          if (socket) setKeepAlive(socket, KEEPALIVE);
          reached = socket ?? undefined; // (test only)
          callback(error, socket as never);
        });
      },
    });
    // end recipe
    cleanups.push(() => agent.close());
    const { body } = await request(`http://127.0.0.1:${port}/`, { dispatcher: agent });
    expect(await body.text()).toBe('ok');
    expect(getKeepAlive(reached!)).toMatchObject(EXPECTED);
  });

  it('ws: the client\'s "upgrade" response and the server\'s "connection" request', async () => {
    const server = http.createServer();
    const port = await listen(server);
    const wss = new WebSocketServer({ server });
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    const serverSide = new Promise<http.IncomingMessage>((resolve) => {
      // recipe: server
      wss.on('connection', (_ws, req) => {
        setKeepAlive(req, KEEPALIVE);
        resolve(req); // (test only)
      });
      // end recipe
    });
    // recipe: client
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.once('upgrade', (res) => setKeepAlive(res, KEEPALIVE));
    // end recipe
    cleanups.push(() => ws.terminate());
    const upgraded = once(ws, 'upgrade') as Promise<[http.IncomingMessage]>;
    await once(ws, 'open');
    const [res] = await upgraded;
    expect(getKeepAlive(res.socket)).toMatchObject(EXPECTED);
    expect(getKeepAlive((await serverSide).socket)).toMatchObject(EXPECTED);
  });

  it('http.Agent: applyToAgent, holding across keep-alive reuse', async () => {
    const port = await httpServer();
    // recipe
    const agent = new http.Agent({ keepAlive: true });
    applyToAgent(agent, KEEPALIVE);
    // end recipe
    cleanups.push(() => agent.destroy());
    const get = () =>
      new Promise<net.Socket>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(req.socket!));
        });
        req.on('error', reject);
      });
    const first = await get();
    await new Promise((resolve) => setImmediate(resolve)); // let the agent park the socket
    expect(getKeepAlive(first)).toMatchObject(EXPECTED);
    const second = await get();
    expect(second).toBe(first);
    await new Promise((resolve) => setImmediate(resolve));
    expect(getKeepAlive(second)).toMatchObject(EXPECTED);
  });

  it('http.Agent without applyToAgent: Node sets the idle time to keepAliveMsecs (1 s) on each reuse', async () => {
    const port = await httpServer();
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket!));
      });
      req.on('error', reject);
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(getKeepAlive(socket)).toMatchObject({ enabled: true, idle: 1_000 });
  });

  it('tls.connect: setKeepAlive on the TLSSocket right away', async () => {
    const fixtures = FIXTURES;
    const cert = readFileSync(join(fixtures, 'cert.pem'));
    const server = tls.createServer({ key: readFileSync(join(fixtures, 'key.pem')), cert }, (socket) => socket.on('error', () => {}));
    const port = await listen(server);
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    // recipe
    const socket = tls.connect({ host: '127.0.0.1', port, ca: cert, checkServerIdentity: () => undefined });
    setKeepAlive(socket, KEEPALIVE); // null now: applied once the TCP connection is up
    // end recipe
    cleanups.push(() => socket.destroy());
    await once(socket, 'secureConnect');
    expect(getKeepAlive(socket)).toMatchObject(EXPECTED);
  });
});
