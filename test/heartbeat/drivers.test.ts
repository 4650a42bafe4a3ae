// The driver heartbeats' arguments: a wrong client, a client not connected
// yet, or bad timing is refused with an error naming it, before anything
// starts. (What they do against real servers: test/servers/recipes.test.ts.)
import { once } from 'node:events';
import * as net from 'node:net';
import Redis from 'ioredis';
import * as mysql from 'mysql2';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ioredisHeartbeat, mysql2Heartbeat, pgHeartbeat } from '../../lib';
import { listen } from '../support/sockets';

const cleanups: (() => void)[] = [];
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

  it('pg before client.connect(): its socket is not connected', () => {
    const client = new pg.Client({ host: '127.0.0.1', port: 1 });
    expect(() => pgHeartbeat(client, {})).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('not connected yet') }));
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
