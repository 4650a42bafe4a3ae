// The driver heartbeats against a driver that misbehaves, on a real server:
// a ping() that throws, an ioredis ping() that returns no promise, a ping
// callback that fires twice. None may take the process down, stop the
// heartbeat, or kill a healthy connection; each PING gets one 'pong'.
import Redis from 'ioredis';
import * as mysql from 'mysql2';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ioredisHeartbeat, mysql2Heartbeat, pgHeartbeat, type Monitor } from '../../lib';
import { serverSkipReason, startMariadb, startPostgres, startRedis, stopAllServers, type RunningServer } from '../support/servers';

// 0.5 + 0.5 x 2 = 1.5 s
const TIMING = { idle: 500, interval: 500, count: 2 } as const;
const BUDGET = TIMING.idle + TIMING.interval * TIMING.count;
/** Each case watches a healthy connection this long: three budgets. */
const WATCH_MS = 3 * BUDGET;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanups: (() => void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await stopAllServers();
});

/** Errors that reached the process while `run` ran: with a handler installed, as an application has. */
async function uncaughtDuring(run: () => Promise<void>): Promise<unknown[]> {
  const uncaught: unknown[] = [];
  const handler = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', handler);
  try {
    await run();
  } finally {
    process.off('uncaughtException', handler);
  }
  return uncaught;
}

/** What a healthy connection went through while watched for WATCH_MS. */
async function watchHealthy(monitor: Monitor): Promise<{ dead: boolean; pings: number; pongs: number[] }> {
  const seen = { dead: false, pings: 0, pongs: [] as number[] };
  monitor.on('dead', () => (seen.dead = true));
  monitor.on('ping', () => seen.pings++);
  monitor.on('pong', () => seen.pongs.push(monitor.seq));
  await sleep(WATCH_MS);
  return seen;
}

const redisSkipped = serverSkipReason('redis');
describe.skipIf(redisSkipped)(`ioredis whose ping() misbehaves${redisSkipped ? ` (skipped: ${redisSkipped})` : ''}`, () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startRedis();
  }, 60_000);

  async function connected(): Promise<Redis> {
    const redis = new Redis({ host: server.host, port: server.port, password: server.password });
    redis.on('error', () => {});
    cleanups.push(() => redis.disconnect());
    await redis.ping();
    return redis;
  }

  it('a ping() that throws once, with an uncaughtException handler installed: nothing reaches the process, ping() is called again, the connection lives', async () => {
    const redis = await connected();
    const ping = redis.ping.bind(redis);
    let calls = 0;
    redis.ping = (() => {
      if (++calls === 1) throw new Error('ping() threw');
      return ping();
    }) as typeof redis.ping;
    let seen: Awaited<ReturnType<typeof watchHealthy>> | undefined;
    const uncaught = await uncaughtDuring(async () => {
      seen = await watchHealthy(ioredisHeartbeat(redis, TIMING));
    });
    expect(uncaught).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(seen!.dead).toBe(false);
    expect(redis.status).toBe('ready');
  });

  it('a ping() that returns no promise (it still sends PING): no TypeError, and the PONG\'s bytes keep the connection alive', async () => {
    const redis = await connected();
    const ping = redis.ping.bind(redis);
    let calls = 0;
    redis.ping = (() => {
      calls++;
      // The PING still goes out; its promise is this fake driver's own, and
      // the disconnect at the end may reject it ("Connection is closed.").
      ping().catch(() => {});
      return undefined;
    }) as unknown as typeof redis.ping;
    let seen: Awaited<ReturnType<typeof watchHealthy>> | undefined;
    const uncaught = await uncaughtDuring(async () => {
      seen = await watchHealthy(ioredisHeartbeat(redis, TIMING));
    });
    expect(uncaught).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(seen!.dead).toBe(false);
  });
});

const postgresSkipped = serverSkipReason('postgres');
describe.skipIf(postgresSkipped)(`pg whose query callback fires twice${postgresSkipped ? ` (skipped: ${postgresSkipped})` : ''}`, () => {
  it("one 'pong' per PING", { timeout: 90_000 }, async () => {
    const server = await startPostgres();
    const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: server.database });
    client.on('error', () => {});
    cleanups.push(() => void client.end().catch(() => {}));
    await client.connect();
    const query = client.query.bind(client) as (text: string, callback: (error: Error | null) => void) => void;
    (client as unknown as { query: typeof query }).query = (text, callback) =>
      query(text, (error) => {
        callback(error);
        callback(error);
      });
    const seen = await watchHealthy(pgHeartbeat(client, TIMING));
    expect(seen.dead).toBe(false);
    expect(seen.pongs.length).toBeGreaterThanOrEqual(2);
    expect(seen.pongs).toEqual([...new Set(seen.pongs)]);
  });
});

const mariadbSkipped = serverSkipReason('mariadb');
describe.skipIf(mariadbSkipped)(`mysql2 whose ping callback fires twice${mariadbSkipped ? ` (skipped: ${mariadbSkipped})` : ''}`, () => {
  it("one 'pong' per PING", { timeout: 90_000 }, async () => {
    const server = await startMariadb();
    const connection = mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password, database: server.database });
    connection.on('error', () => {});
    cleanups.push(() => connection.destroy());
    await connection.promise().query('SELECT 1');
    const ping = connection.ping.bind(connection) as (callback: (error: Error | null) => void) => void;
    (connection as unknown as { ping: typeof ping }).ping = (callback) =>
      ping((error) => {
        callback(error);
        callback(error);
      });
    const seen = await watchHealthy(mysql2Heartbeat(connection, TIMING));
    expect(seen.dead).toBe(false);
    expect(seen.pongs.length).toBeGreaterThanOrEqual(2);
    expect(seen.pongs).toEqual([...new Set(seen.pongs)]);
  });
});

// A Lua script runs alone on redis: until busy-reply-threshold (5 s by
// default) has passed it answers nobody, our PING included; after it, it
// answers BUSY to everyone. BUSY is bytes read, a sign of life.
const SCRIPT_MS = 8000;
const SCRIPT_BUDGET = { idle: 2000, interval: 1000, count: 3 } as const;
/** Busy-waits SCRIPT_MS on the server's clock. */
const BUSY_SCRIPT = `local t = redis.call('TIME') local start = t[1] + t[2] / 1e6 while true do local n = redis.call('TIME') if n[1] + n[2] / 1e6 - start > ${SCRIPT_MS / 1000} then break end end return 1`;

interface ScriptRun {
  threshold: number;
  /** what the idle watched client was told while the script ran, with when (ms from the script's start) */
  events: { at: number; what: string }[];
  /** its 'connect' events during the script: its reconnects */
  reconnects: number;
  /** it answered after the script, within 5 s */
  answeredAfter: boolean;
}

async function idleClientDuringScript(threshold: number): Promise<ScriptRun> {
  const server = await startRedis();
  const runner = new Redis({ host: server.host, port: server.port, password: server.password });
  const watched = new Redis({ host: server.host, port: server.port, password: server.password });
  cleanups.push(() => runner.disconnect(), () => watched.disconnect());
  runner.on('error', () => {});
  const run: ScriptRun = { threshold, events: [], reconnects: 0, answeredAfter: false };
  let scriptAt: number | undefined;
  watched.on('connect', () => {
    if (scriptAt !== undefined) run.reconnects++;
    ioredisHeartbeat(watched, SCRIPT_BUDGET);
  });
  watched.on('error', (error: Error & { code?: string }) => {
    if (scriptAt !== undefined) run.events.push({ at: performance.now() - scriptAt, what: error.code ?? error.message.split(' ')[0] });
  });
  await Promise.all([runner.config('SET', 'busy-reply-threshold', String(threshold)), watched.ping()]);
  // Into the idle time, as an idle connection usually is.
  await sleep(SCRIPT_BUDGET.idle + 500);
  scriptAt = performance.now();
  const script = runner.eval(BUSY_SCRIPT, 0);
  await script;
  const ended = performance.now() - scriptAt;
  run.answeredAfter = await Promise.race([watched.get('key').then(() => true, () => false), sleep(5000).then(() => false)]);
  run.events.push({ at: ended, what: 'script ended' });
  return run;
}

describe.skipIf(redisSkipped)(`a Lua script running ${SCRIPT_MS / 1000} s against a 5 s budget${redisSkipped ? ` (skipped: ${redisSkipped})` : ''}`, () => {
  let runs: ScriptRun[] = [];
  beforeAll(async () => {
    runs = await Promise.all([5000, 1000].map((threshold) => idleClientDuringScript(threshold)));
    if (process.env.TKA_SERVERS_TABLE) for (const run of runs) console.log(`busy-reply-threshold ${run.threshold} ms: ${JSON.stringify(run)}`);
  }, 90_000);

  it('busy-reply-threshold at the budget (5 s, the default): the idle connection is killed, and its reconnects meet BUSY until the script ends', () => {
    const run = runs.find((r) => r.threshold === 5000)!;
    expect(run.events.some((e) => e.what === 'ERR_HEARTBEAT_TIMEOUT'), JSON.stringify(run)).toBe(true);
    expect(run.answeredAfter, JSON.stringify(run)).toBe(true);
  });

  it('busy-reply-threshold under the budget (1 s): BUSY replies are signs of life, and the idle connection is kept', () => {
    const run = runs.find((r) => r.threshold === 1000)!;
    expect(run.events.filter((e) => e.what !== 'script ended'), JSON.stringify(run)).toEqual([]);
    expect(run.reconnects, JSON.stringify(run)).toBe(0);
    expect(run.answeredAfter, JSON.stringify(run)).toBe(true);
  });
});
