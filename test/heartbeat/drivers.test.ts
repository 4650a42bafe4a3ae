// The driver heartbeats' arguments: a wrong client, a client without a
// socket yet, or bad timing is refused with an error naming it, before
// anything starts. And each driver's own start-up is watched from the
// socket's 'connect': a server whose kernel accepts the connection and
// which never answers (what a frozen server looks like) is noticed within
// the budget. (Against real servers: test/servers/recipes.test.ts.)
import { once } from 'node:events';
import * as net from 'node:net';
import Redis from 'ioredis';
import * as mysql from 'mysql2';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ioredisHeartbeat, mysql2Heartbeat, pgHeartbeat } from '../../lib';
import { listen } from '../support/sockets';

const cleanups: (() => void)[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

/** A server that accepts and says nothing: the drivers stay in their handshake. */
async function silentServer(): Promise<number> {
  const server = net.createServer((socket) => cleanups.push(() => socket.destroy()));
  cleanups.push(() => server.close());
  return listen(server);
}

describe('driver heartbeats refuse what they cannot watch', () => {
  it.each([
    ['ioredisHeartbeat', ioredisHeartbeat, 'redis'],
    ['pgHeartbeat', pgHeartbeat, 'client'],
    ['mysql2Heartbeat', mysql2Heartbeat, 'connection'],
  ] as const)('%s: not a client of that driver: ERR_INVALID_ARG_TYPE naming the argument', (_name, start, argument) => {
    for (const value of [undefined, null, 42, {}, { ping: 1 }]) {
      expect(() => (start as (v: unknown) => unknown)(value)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining(`"${argument}"`) }));
    }
  });

  it('ioredis before it connected: no socket yet', () => {
    const redis = new Redis({ lazyConnect: true });
    expect(() => ioredisHeartbeat(redis, {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('"redis.stream"') }));
  });

  it('pg after its client ended: its socket is destroyed', async () => {
    const port = await silentServer();
    const client = new pg.Client({ host: '127.0.0.1', port, connectionTimeoutMillis: 100 });
    await expect(client.connect()).rejects.toThrow();
    expect(() => pgHeartbeat(client, {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('is destroyed') }));
  });

  it('bad timing: RangeError naming the field; a connecting mysql2 connection, callback or promise, is accepted', async () => {
    const port = await silentServer();
    const connection = mysql.createConnection({ host: '127.0.0.1', port, user: 'app' });
    connection.on('error', () => {});
    cleanups.push(() => connection.destroy());
    expect(() => mysql2Heartbeat(connection, { idle: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"options.idle"') }));
    expect(() => mysql2Heartbeat(connection, null as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    // A connecting socket is accepted: mysql2 creates it in the constructor.
    const monitor = mysql2Heartbeat(connection, { idle: 1000 });
    // and so is a mysql2/promise connection, through the one it wraps
    const throughPromise = mysql2Heartbeat(connection.promise(), { idle: 1000 });
    expect([monitor.active, throughPromise.active]).toEqual([true, true]);
    connection.destroy();
    const stream = (connection as unknown as { stream: net.Socket }).stream;
    if (!stream.closed) await once(stream, 'close');
    expect([monitor.active, throughPromise.active]).toEqual([false, false]);
  });
});

// 1 + 0.5 x 2 = 2 s
const TIMING = { idle: 1000, interval: 500, count: 2 } as const;
const BUDGET = TIMING.idle + TIMING.interval * TIMING.count;
// The death comes at most one poll (1/20 of the budget) and a loaded machine's timer lateness after it.
const LATE_MS = 400;
const codeOf = (error: unknown) => (error as { code?: string }).code;

describe("a driver's start-up is watched from the socket's 'connect': a server that accepts and never answers dies within the budget", () => {
  it('ioredis, the recipe (heartbeat on each connect): every connection, the reconnects too, is reported within the budget of its connect', async () => {
    const port = await silentServer();
    const redis = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 10, maxRetriesPerRequest: null });
    cleanups.push(() => redis.disconnect());
    const connects: number[] = [];
    const reports: { after: number; code?: string }[] = [];
    redis.on('connect', () => {
      connects.push(performance.now());
      ioredisHeartbeat(redis, TIMING);
    });
    redis.on('error', (error) => reports.push({ after: performance.now() - connects[connects.length - 1], code: codeOf(error) }));
    // The application's command waits in the offline queue meanwhile: it is not ours to watch, nor a request in flight.
    redis.get('key').catch(() => {});
    while (reports.length < 2) await sleep(50);
    for (const report of reports.slice(0, 2)) {
      expect(report.code).toBe('ERR_HEARTBEAT_TIMEOUT');
      expect(report.after).toBeGreaterThanOrEqual(BUDGET - 10);
      expect(report.after).toBeLessThanOrEqual(BUDGET + LATE_MS);
    }
  });

  it('pg: started before connect(), connect() fails with ERR_HEARTBEAT_TIMEOUT within the budget of the socket\'s connect', async () => {
    const port = await silentServer();
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'app' });
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    const monitor = pgHeartbeat(client, TIMING);
    let connectedAt = 0;
    client.connection.stream.once('connect', () => (connectedAt = performance.now()));
    const failure = await client.connect().then(() => 'connected', (error: unknown) => error);
    const after = performance.now() - connectedAt;
    expect(codeOf(failure)).toBe('ERR_HEARTBEAT_TIMEOUT');
    expect(connectedAt).toBeGreaterThan(0);
    expect(after).toBeGreaterThanOrEqual(BUDGET - 10);
    expect(after).toBeLessThanOrEqual(BUDGET + LATE_MS);
    expect(monitor.active).toBe(false);
  });

  it("pg Pool: a Client class that starts the heartbeat in its constructor; the pool's query fails within the budget", async () => {
    const port = await silentServer();
    class WatchedClient extends pg.Client {
      constructor(config: pg.ClientConfig) {
        super(config);
        pgHeartbeat(this, TIMING);
      }
    }
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'app', database: 'app', Client: WatchedClient as unknown as new () => pg.Client }); // @types/pg has the constructor take no config; pg passes it
    cleanups.push(() => void pool.end().catch(() => {}));
    const started = performance.now();
    const failure = await pool.query('SELECT 1').then(() => 'answered', (error: unknown) => error);
    expect(codeOf(failure)).toBe('ERR_HEARTBEAT_TIMEOUT');
    // From the query: the TCP connect on loopback is immediate.
    expect(performance.now() - started).toBeLessThanOrEqual(BUDGET + LATE_MS);
  });

  it("mysql2: the hand-shake is ours, not a request in flight: 'error' ERR_HEARTBEAT_TIMEOUT within the budget, before mysql2's own 10 s connectTimeout", async () => {
    const port = await silentServer();
    const connection = mysql.createConnection({ host: '127.0.0.1', port, user: 'app' });
    cleanups.push(() => connection.destroy());
    const stream = (connection as unknown as { stream: net.Socket }).stream;
    let connectedAt = 0;
    stream.once('connect', () => (connectedAt = performance.now()));
    mysql2Heartbeat(connection, TIMING);
    const [error] = (await once(connection, 'error')) as [Error];
    const after = performance.now() - connectedAt;
    expect(codeOf(error)).toBe('ERR_HEARTBEAT_TIMEOUT');
    expect(after).toBeGreaterThanOrEqual(BUDGET - 10);
    expect(after).toBeLessThanOrEqual(BUDGET + LATE_MS);
  });
});
