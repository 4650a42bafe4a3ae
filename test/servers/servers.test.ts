// The servers the real-server tests start: each answers its own client, and
// freeze, blackhole, kill and stop do what they say, leaving nothing behind.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import Redis from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { serverSkipReason, startMariadb, startPostgres, startRedis, stopAllServers, type RunningServer } from '../support/servers';

afterAll(stopAllServers);

/** Runs one query through a fresh client, or rejects after `ms`. */
const clients = {
  async redis(server: RunningServer, ms: number): Promise<unknown> {
    const client = new Redis({ host: server.host, port: server.port, password: server.password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: ms, commandTimeout: ms });
    client.on('error', () => {}); // the rejected call reports it
    try {
      await client.connect();
      return await client.ping();
    } finally {
      client.disconnect();
    }
  },
  async postgres(server: RunningServer, ms: number): Promise<unknown> {
    const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: server.database, connectionTimeoutMillis: ms, query_timeout: ms });
    client.on('error', () => {});
    try {
      await client.connect();
      return (await client.query('SELECT 1 AS one')).rows[0].one;
    } finally {
      client.end().catch(() => {});
    }
  },
  async mariadb(server: RunningServer, ms: number): Promise<unknown> {
    const connection = await mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password, database: server.database, connectTimeout: ms });
    try {
      const [rows] = await connection.query({ sql: 'SELECT 1 AS one', timeout: ms });
      return (rows as { one: number }[])[0].one;
    } finally {
      connection.destroy();
    }
  },
};
const starters = { redis: startRedis, postgres: startPostgres, mariadb: startMariadb };
const answers = { redis: 'PONG', postgres: 1, mariadb: 1 };

for (const kind of ['redis', 'postgres', 'mariadb'] as const) {
  const reason = serverSkipReason(kind);
  describe.skipIf(reason)(`${kind} in a namespace of its own${reason ? ` (skipped: ${reason})` : ''}`, () => {
    it('answers, stops answering while frozen or blackholed, answers again after, and leaves nothing when stopped', { timeout: 90_000 }, async () => {
      const server = await starters[kind]();
      const query = clients[kind];
      await expect(query(server, 5000), server.log()).resolves.toEqual(answers[kind]);

      await server.freeze();
      await expect(query(server, 1500)).rejects.toThrow();
      await server.thaw();
      await expect(query(server, 5000)).resolves.toEqual(answers[kind]);

      await server.blackhole();
      await expect(query(server, 1500)).rejects.toThrow();
      await server.unblackhole();
      await expect(query(server, 5000)).resolves.toEqual(answers[kind]);

      await server.kill();
      await expect(query(server, 1500)).rejects.toThrow();

      await server.stop();
      const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
      expect(namespaces).not.toContain(server.namespace);
      expect(existsSync(`/proc/${server.pid}`)).toBe(false);
    });
  });
}
