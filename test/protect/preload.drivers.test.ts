// The preload in an application that knows nothing of it: real drivers
// against real servers, each socket read back, each server blackholed while
// idle and its death reported.
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../support/sockets';
import { serverSkipReason, startMariadb, startPostgres, startRedis, stopAllServers, type RunningServer } from '../support/servers';
import { BUDGET_MS, Child, fixture, POLICY, POLICY_TEXT } from './support';

const reason = serverSkipReason('redis') ?? serverSkipReason('postgres') ?? serverSkipReason('mariadb');

describe.skipIf(reason)(`preloaded into an app with ioredis, pg, mysql2, fetch, ws, an http.Agent and a net server${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let redis: RunningServer, postgres: RunningServer, mariadb: RunningServer;
  let httpServer: http.Server, wss: WebSocketServer, child: Child;
  let httpPort: number, wsPort: number, serverPort: number;
  let incoming: net.Socket;

  beforeAll(async () => {
    [redis, postgres, mariadb] = await Promise.all([startRedis(), startPostgres(), startMariadb()]);
    httpServer = http.createServer((_req, res) => res.end('ok'));
    httpServer.keepAliveTimeout = 120_000;
    httpPort = await listen(httpServer);
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    wsPort = (wss.address() as net.AddressInfo).port;
    const credentials = (s: RunningServer) => ({ host: s.host, port: s.port, user: s.user, password: s.password, database: s.database });
    child = new Child(fixture('drivers-app.cjs'), {
      TCP_KEEPALIVE: POLICY_TEXT,
      TARGETS: JSON.stringify({ redis: credentials(redis), postgres: credentials(postgres), mariadb: credentials(mariadb), http: httpPort, ws: wsPort }),
    });
    ({ serverPort } = await child.next((m) => m.ready, 60_000));
    incoming = net.connect(serverPort, '127.0.0.1');
    incoming.on('error', () => {});
    await once(incoming, 'connect');
  }, 120_000);

  afterAll(async () => {
    child?.stop();
    incoming?.destroy();
    wss?.close();
    httpServer?.closeAllConnections();
    httpServer?.close();
    await stopAllServers();
  });

  it('every TCP socket of the app holds the policy, read back after the drivers connected and the agent reused its socket', { timeout: 90_000 }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { report, inventory, stats } = await child.report();
    const byPort = (port: number) => report.filter((s) => s.remotePort === port);
    expect(byPort(redis.port), 'ioredis').toHaveLength(1);
    expect(byPort(postgres.port), 'pg').toHaveLength(1);
    expect(byPort(mariadb.port), 'mysql2').toHaveLength(1);
    expect(byPort(httpPort).length, 'http.Agent and fetch').toBeGreaterThanOrEqual(2);
    expect(byPort(wsPort), 'ws').toHaveLength(1);
    expect(report.filter((s) => s.localPort === serverPort && s.remotePort === incoming.localPort), `accepted by net.createServer, in ${JSON.stringify(report)}`).toHaveLength(1);
    for (const socket of report) expect(socket.keepalive, `${socket.remoteAddress}:${socket.remotePort}`).toEqual(POLICY);
    // the inventory lists the same sockets, with TCP_INFO
    expect(inventory).toHaveLength(report.length);
    for (const entry of inventory) expect(entry.tcp?.rttMs).toBeGreaterThan(0);
    expect(stats.live).toBe(report.length);
  });

  it('each database blackholed while idle is noticed within the budget + 1 s, reported as a timeout', async () => {
    const start = Date.now();
    await Promise.all([redis.blackhole(), postgres.blackhole(), mariadb.blackhole()]);
    for (const server of [redis, postgres, mariadb]) {
      const dead = await child.death((d) => d.remotePort === server.port && d.remoteAddress === server.host, BUDGET_MS + 10_000);
      expect(dead, server.kind).toMatchObject({ cause: 'timeout', code: 'ETIMEDOUT', budgetMs: BUDGET_MS, localPort: expect.any(Number) });
      console.log(`${server.kind}: blackholed at +0 ms, reported dead at +${dead.at - start} ms (silent ${dead.silentMs} ms)`);
      expect(dead.at - start, `${server.kind} noticed after`).toBeLessThanOrEqual(BUDGET_MS + 1000);
      expect(dead.silentMs).toBeGreaterThanOrEqual(BUDGET_MS - 1000);
    }
    const { stats } = await child.report();
    expect(stats.deaths.timeout).toBeGreaterThanOrEqual(3);
  }, 90_000);
});
