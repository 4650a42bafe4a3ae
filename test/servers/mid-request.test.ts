// A server frozen in the middle of a request, against the recipes of
// docs/recipes.md ("A server that freezes in the middle of a request"):
// each driver with the recipe's keepalive, its heartbeat and its request
// timeout. Nothing else can tell a frozen server from a slow one while a
// request of the application's is in flight (the kernel sees ACKs, the
// heartbeat is suspended), so the request's own timeout must catch it:
// ioredis `commandTimeout` (and `socketTimeout`), pg `query_timeout`, mysql2
// `query({ sql, timeout })`. The server-side timeouts (pg
// `statement_timeout`, MariaDB `max_statement_time`) are measured too: a
// frozen server enforces neither before it is thawed.
//
// Each case: the app connects and idles, the server is frozen (SIGSTOP), a
// request goes out (for the server-side timeouts it is already running),
// and the server is thawed FREEZE_MS later. Asserted per case: what the
// app is told first, when, and that nothing told it anything before; for
// the timeout without the recipe's follow-up, that the connection is then
// left unwatched until the thaw; and that the app is answered after the
// thaw. All cases of a driver share its server; the drivers run at once.
// A last case shows on a healthy redis that both ioredis timeouts also cut
// a `BLPOP` longer than them, as the recipe warns.
// `TKA_SERVERS_TABLE=1` prints the rows docs/real-servers.md quotes.
import * as net from 'node:net';
import Redis from 'ioredis';
import * as mysql from 'mysql2';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ioredisHeartbeat, mysql2Heartbeat, pgHeartbeat, setKeepAlive } from '../../lib';
import { describeError, mysql2RecipeOptions, serverSkipReason, startServerOf, stopAllServers, untilAnswered, type RunningServer, type ServerKind } from '../support/servers';

// The recipes' constant with a 5 s budget (2 + 1 x 3 s), as test/servers/recipes.test.ts has it.
const KEEPALIVE = { idle: 2000, interval: 1000, count: 3, userTimeout: 'auto' } as const;
const BUDGET = KEEPALIVE.idle + KEEPALIVE.interval * KEEPALIVE.count;
/** Every request timeout of the cases: under the budget, so the timeout, not the heartbeat, is what is measured. */
const TIMEOUT_MS = 2000;
/**
 * Past the request timeout and a budget after it: a new connection made at
 * the timeout is reported by its heartbeat, and anything else that could
 * report the old one had its chance.
 */
const FREEZE_MS = TIMEOUT_MS + BUDGET + 1500;
/** The server-side cases' statement is running this long when the server is frozen. */
const RUNNING_MS = 300;
/** The server-side cases' statement would run this long: past the thaw, so only its timeout can end it there. */
const STATEMENT_MS = 4 * FREEZE_MS;
/** A blocking command on a healthy server, longer than the timeouts: they fire on it too. */
const BLOCKING_MS = TIMEOUT_MS + 1000;
/** Deaths come this long after the apps are set up, past the heartbeat's first PING. */
const SETTLE_MS = KEEPALIVE.idle + 500;
/** Only for timers that fire late on a loaded machine. */
const SLACK_MS = 300;
const RETRY_MS = 100;
/** The apps reconnect at once (ioredis after its retryStrategy's 50 ms or more, pg after RETRY_MS, mysql2 at once): this is the bound. */
const RECONNECT_MS = 1000;

const DRIVERS = { ioredis: 'redis', pg: 'postgres', mysql2: 'mariadb' } as const satisfies Record<string, ServerKind>;
type Driver = keyof typeof DRIVERS;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An application set up as its recipe says. */
interface App {
  ready: Promise<void>;
  /** the request that is in flight during the freeze */
  request(): Promise<unknown>;
  /** a new request, on whatever connection the app holds by then */
  ask(): Promise<unknown>;
  /** ioredis: `BLPOP` for BLOCKING_MS on an empty list */
  blocking?(): Promise<unknown>;
  close(): void;
}
/**
 * `tell` receives every 'error', 'close' and 'end' the driver gives the
 * application, every connect() that fails, and 'connect' (a marker, told
 * to nobody) when a socket of the app connects.
 */
type Start = (server: RunningServer, tell: (what: string) => void) => App;

type Situation = 'recipe' | 'timeout-kept' | 'socket-timeout' | 'server-side';
interface Case {
  driver: Driver;
  situation: Situation;
  /** the option that is meant to catch the freeze, for the table */
  option: string;
  start: Start;
}

const SITUATIONS: Record<Situation, { title: string; stated: string }> = {
  recipe: {
    title: `frozen (SIGSTOP), a request in flight: the request's timeout (${TIMEOUT_MS / 1000} s), then a new connection (the recipe)`,
    stated: `the request fails at ${TIMEOUT_MS / 1000} s; its new connection reported <= ${BUDGET / 1000} s after; answered after the thaw`,
  },
  'timeout-kept': {
    title: `frozen (SIGSTOP), a request in flight: the request's timeout (${TIMEOUT_MS / 1000} s), the connection kept`,
    stated: `the request fails at ${TIMEOUT_MS / 1000} s; then nothing until the thaw (the timed-out request is still in flight)`,
  },
  'socket-timeout': {
    title: `frozen (SIGSTOP), a request in flight: a socket timeout (${TIMEOUT_MS / 1000} s)`,
    stated: `'error' at ${TIMEOUT_MS / 1000} s, the request retried; answered after the thaw`,
  },
  'server-side': {
    title: `frozen (SIGSTOP) ${RUNNING_MS / 1000} s into a statement: a server-side timeout (${TIMEOUT_MS / 1000} s)`,
    stated: 'nothing before the thaw; the statement fails at the thaw',
  },
};

// ---------------------------------------------------------------- the apps

/** ioredis as its recipe has it, with `options` added to the constructor. */
function ioredisApp(options: { commandTimeout?: number; socketTimeout?: number }, reconnectOnTimeout: boolean): Start {
  return (server, tell) => {
    const redis = new Redis({ host: server.host, port: server.port, password: server.password, ...options });
    redis.on('connect', () => {
      tell('connect');
      setKeepAlive(redis.stream, KEEPALIVE);
      ioredisHeartbeat(redis, KEEPALIVE);
    });
    redis.on('error', (error) => tell(describeError(error)));
    redis.on('close', () => tell('close'));
    return {
      ready: redis.ping().then(() => {}),
      request: () =>
        redis.get('key').catch((error: Error) => {
          // docs/recipes.md: the connection still waits for that answer; drop it, ioredis reconnects.
          if (reconnectOnTimeout && error.message === 'Command timed out') redis.stream.destroy(error);
          throw error;
        }),
      ask: () => redis.get('key'),
      blocking: () => redis.blpop('empty-list', BLOCKING_MS / 1000),
      close: () => redis.disconnect(),
    };
  };
}

/** pg as its recipe has it (reconnecting on 'end'), with `options` added to the client's config. */
function pgApp(options: { query_timeout?: number; statement_timeout?: number }, destroyOnTimeout: boolean): Start {
  return (server, tell) => {
    const config = { host: server.host, port: server.port, user: server.user, password: server.password, database: server.database, ...options };
    let client: pg.Client;
    let closed = false;
    let connected!: Promise<void>;
    const connect = () => {
      client = new pg.Client(config);
      setKeepAlive(client.connection.stream as net.Socket, KEEPALIVE);
      pgHeartbeat(client, KEEPALIVE);
      (client.connection.stream as net.Socket).once('connect', () => tell('connect'));
      client.on('error', (error: Error) => tell(describeError(error)));
      client.on('end', () => {
        tell('end');
        if (!closed) setTimeout(connect, RETRY_MS);
      });
      connected = client.connect().then(() => {});
      connected.catch((error: Error) => tell(describeError(error))); // 'end' follows
    };
    connect();
    return {
      ready: connected.then(() => client.query('SELECT 1')).then(() => {}),
      request: () => {
        const mine = client;
        const sql = options.statement_timeout ? `SELECT pg_sleep(${STATEMENT_MS / 1000})` : 'SELECT 1';
        return mine.query(sql).catch((error: Error) => {
          // docs/recipes.md: the connection still waits for that answer; drop it, 'end' reconnects.
          if (destroyOnTimeout && error.message === 'Query read timeout') (mine.connection.stream as net.Socket).destroy(error);
          throw error;
        });
      },
      ask: () => client.query('SELECT 1'),
      close: () => {
        closed = true;
        void client.end().catch(() => {});
      },
    };
  };
}

/** mysql2 as its recipe has it; the request with `timeout`, or the session with `max_statement_time`. */
function mysql2App(timing: { timeout?: number; maxStatementTime?: number }, replaceOnTimeout: boolean): Start {
  return (server, tell) => {
    let connection: mysql.Connection;
    let closed = false;
    const connect = () => {
      let replaced = false;
      // A fatal error ends a mysql2 connection: the app makes a new one, once.
      const replace = () => {
        if (replaced || closed) return;
        replaced = true;
        current.destroy();
        connect();
      };
      connection = mysql.createConnection(mysql2RecipeOptions(server, KEEPALIVE, (socket) => socket.once('connect', () => tell('connect'))));
      const current = connection;
      mysql2Heartbeat(current, KEEPALIVE);
      current.on('error', (error: Error & { fatal?: boolean }) => {
        tell(describeError(error));
        if (error.fatal) replace();
      });
      current.on('end', () => {
        tell('end');
        replace();
      });
      replaceCurrent = replace;
    };
    let replaceCurrent!: () => void;
    connect();
    const query = (sql: string, timeout?: number) => connection.promise().query({ sql, timeout });
    return {
      ready: (timing.maxStatementTime ? query(`SET SESSION max_statement_time = ${timing.maxStatementTime / 1000}`) : query('SELECT 1')).then(() => {}),
      request: () => {
        const mine = connection;
        const sql = timing.maxStatementTime ? `SELECT SLEEP(${STATEMENT_MS / 1000})` : 'SELECT 1';
        return query(sql, timing.timeout).catch((error: Error & { code?: string }) => {
          // docs/recipes.md: the connection is in doubt; close it and open a new one.
          if (replaceOnTimeout && error.code === 'PROTOCOL_SEQUENCE_TIMEOUT' && mine === connection) replaceCurrent();
          throw error;
        });
      },
      ask: () => query('SELECT 1'),
      close: () => {
        closed = true;
        connection.destroy();
      },
    };
  };
}

const CASES: Case[] = [
  { driver: 'ioredis', situation: 'recipe', option: 'commandTimeout', start: ioredisApp({ commandTimeout: TIMEOUT_MS }, true) },
  { driver: 'ioredis', situation: 'timeout-kept', option: 'commandTimeout', start: ioredisApp({ commandTimeout: TIMEOUT_MS }, false) },
  { driver: 'ioredis', situation: 'socket-timeout', option: 'socketTimeout', start: ioredisApp({ socketTimeout: TIMEOUT_MS }, false) },
  { driver: 'pg', situation: 'recipe', option: 'query_timeout', start: pgApp({ query_timeout: TIMEOUT_MS }, true) },
  { driver: 'pg', situation: 'timeout-kept', option: 'query_timeout', start: pgApp({ query_timeout: TIMEOUT_MS }, false) },
  { driver: 'pg', situation: 'server-side', option: 'statement_timeout', start: pgApp({ statement_timeout: TIMEOUT_MS }, false) },
  { driver: 'mysql2', situation: 'recipe', option: 'query timeout', start: mysql2App({ timeout: TIMEOUT_MS }, true) },
  { driver: 'mysql2', situation: 'timeout-kept', option: 'query timeout', start: mysql2App({ timeout: TIMEOUT_MS }, false) },
  { driver: 'mysql2', situation: 'server-side', option: 'max_statement_time', start: mysql2App({ maxStatementTime: TIMEOUT_MS }, false) },
];

// ------------------------------------------------------------- the runs

interface Told {
  /** ms from the freeze */
  at: number;
  what: string;
}
interface Result {
  case: Case;
  /** ms from the freeze to sending the request (negative: sent before it) */
  sentAt: number;
  /** how the request ended, ms from the freeze; undefined if it had not by the end */
  settled?: Told & { failed: boolean };
  /** what the driver told the application, in order */
  told: Told[];
  thawAt: number;
  /** ms from the thaw to the first answer of a new request; undefined if none came */
  answeredAfterThaw?: number;
}


async function runDriver(driver: Driver): Promise<Result[]> {
  const server = await startServerOf(DRIVERS[driver]);
  const cases = CASES.filter((c) => c.driver === driver);
  let freezeAt: number | undefined;
  const since = () => performance.now() - (freezeAt ?? performance.now());
  const running = cases.map((c) => {
    const result: Result = { case: c, sentAt: NaN, told: [], thawAt: NaN };
    // Before the freeze a sign of death is a false alarm: at = -Infinity marks it.
    const app = c.start(server, (what) => result.told.push({ at: freezeAt === undefined ? -Infinity : since(), what }));
    return { result, app, request: undefined as Promise<unknown> | undefined };
  });
  const send = (entry: (typeof running)[number]) => {
    entry.result.sentAt = since();
    entry.request = entry.app.request().then(
      () => (entry.result.settled = { at: since(), what: 'answered', failed: false }),
      (error) => (entry.result.settled = { at: since(), what: describeError(error), failed: true }),
    );
  };
  try {
    await Promise.all(running.map(({ app }) => app.ready)).catch((error) => {
      throw new Error(`${driver}: an app did not connect: ${describeError(error)}\n${server.log()}`);
    });
    await sleep(SETTLE_MS);
    // A statement the server is running when it freezes: only the server-side timeout is armed by then.
    const serverSide = running.filter(({ result }) => result.case.situation === 'server-side');
    for (const entry of serverSide) send(entry);
    if (serverSide.length) await sleep(RUNNING_MS);
    freezeAt = performance.now();
    for (const entry of serverSide) entry.result.sentAt -= RUNNING_MS;
    await server.freeze();
    for (const entry of running) if (!serverSide.includes(entry)) send(entry);
    await sleep(freezeAt + FREEZE_MS - performance.now());
    const thawAt = since();
    await server.thaw();
    const deadline = performance.now() + BUDGET + 5000;
    await Promise.all(
      running.map(async (entry) => {
        entry.result.thawAt = thawAt;
        // A request still pending from the freeze ends first (or the deadline passes).
        await Promise.race([entry.request, sleep(deadline - performance.now())]);
        if (await untilAnswered(entry.app.ask, deadline, RETRY_MS)) entry.result.answeredAfterThaw = since() - thawAt;
      }),
    );
  } finally {
    for (const { app } of running) app.close();
    await server.stop();
  }
  return running.map(({ result }) => result);
}

/**
 * A healthy redis, a `BLPOP` longer than the timeout: what the ioredis
 * timeouts do to it. Returns, per option, the first thing the app was told
 * and when (ms from sending), watched for the BLPOP's time and 1 s more.
 */
async function blockingOnHealthy(): Promise<{ option: string; first?: Told }[]> {
  const server = await startServerOf('redis');
  const cases = CASES.filter((c) => c.driver === 'ioredis' && c.situation !== 'recipe');
  const apps: App[] = [];
  try {
    return await Promise.all(
      cases.map(async (c) => {
        let sentAt: number | undefined;
        const told: Told[] = [];
        const tell = (what: string) => sentAt !== undefined && what !== 'connect' && told.push({ at: performance.now() - sentAt, what });
        const app = c.start(server, tell);
        apps.push(app);
        await app.ready;
        sentAt = performance.now();
        app.blocking!().catch((error) => tell(describeError(error)));
        await sleep(BLOCKING_MS + 1000);
        return { option: c.option, first: told[0] };
      }),
    );
  } finally {
    for (const app of apps) app.close();
    await server.stop();
  }
}

// ------------------------------------------------------------- the table

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
/** What the driver told the application, without the 'connect' markers. */
const reports = (result: Result) => result.told.filter((t) => t.what !== 'connect');

/** The first thing the app was given after the freeze: the request's failure or a connection event. */
function first(result: Result): (Told & { by: 'request' | 'connection' }) | undefined {
  const candidates = [
    ...(result.settled?.failed ? [{ ...result.settled, by: 'request' as const }] : []),
    ...reports(result)
      .filter((t) => t.at >= 0)
      .map((t) => ({ ...t, by: 'connection' as const })),
  ];
  return candidates.sort((a, b) => a.at - b.at)[0];
}

/** The recipe's new connection, made after the request failed: when it connected, and the first report of it before the thaw. */
function newConnection(result: Result): { connectAt: number; report?: Told } | undefined {
  const failedAt = result.settled?.failed ? result.settled.at : undefined;
  if (failedAt === undefined) return undefined;
  const connect = result.told.find((t) => t.what === 'connect' && t.at > failedAt);
  if (!connect) return undefined;
  const report = reports(result).find((t) => t.at >= connect.at && t.at <= result.thawAt);
  return { connectAt: connect.at, report };
}

function cell(result: Result | undefined): string {
  if (!result) return 'n/a';
  const parts: string[] = [];
  const early = reports(result).filter((t) => t.at === -Infinity);
  if (early.length) parts.push(`false alarm before the freeze: ${early[0].what}`);
  const firstTold = first(result);
  const from = Math.max(result.sentAt, 0);
  if (!firstTold || firstTold.at > result.thawAt) parts.push(`${result.case.option}: nothing before the thaw`);
  else parts.push(`${result.case.option}: ${seconds(firstTold.at - from)} ${firstTold.what}${firstTold.by === 'request' ? ' (the request fails)' : ` ('${firstTold.what === 'close' || firstTold.what === 'end' ? firstTold.what : 'error'}')`}`);
  if (result.case.situation === 'server-side' && result.settled) {
    parts.push(`the statement ${result.settled.failed ? `fails ${seconds(result.settled.at - result.thawAt)} after the thaw: ${result.settled.what}` : `is answered ${seconds(result.settled.at - result.thawAt)} after the thaw`}`);
  }
  if (result.case.situation === 'recipe') {
    const made = newConnection(result);
    if (!made) parts.push('no new connection');
    else if (!made.report) parts.push(`its new connection (${seconds(made.connectAt - from)}) not reported before the thaw`);
    else parts.push(`its new connection (${seconds(made.connectAt - from)}) reported ${seconds(made.report.at - made.connectAt)} after its connect: ${made.report.what}`);
  }
  if (result.case.situation === 'socket-timeout' && result.settled) {
    parts.push(`the request ${result.settled.failed ? `fails: ${result.settled.what}` : `retried, answered ${seconds(result.settled.at - result.thawAt)} after the thaw`}`);
  }
  if (result.case.situation === 'timeout-kept') {
    const afterwards = reports(result).filter((t) => t.at > (result.settled?.at ?? Infinity) && t.at <= result.thawAt);
    parts.push(afterwards.length ? `then ${afterwards[0].what} ${seconds(afterwards[0].at - from)} after the request` : 'then nothing until the thaw');
  }
  parts.push(result.answeredAfterThaw === undefined ? 'no answer after the thaw' : `answered ${seconds(result.answeredAfterThaw)} after the thaw`);
  return parts.join('; ');
}

const BLOCKING_TITLE = `healthy, \`BLPOP\` for ${BLOCKING_MS / 1000} s under the ${TIMEOUT_MS / 1000} s timeout`;
const BLOCKING_STATED = `the timeout fires at ${TIMEOUT_MS / 1000} s: set it above the longest blocking command`;

function table(results: Result[], blocking: Awaited<ReturnType<typeof blockingOnHealthy>>): string {
  const drivers = Object.keys(DRIVERS) as Driver[];
  const lines = (Object.keys(SITUATIONS) as Situation[]).map((situation) => {
    const cells = drivers.map((driver) => cell(results.find((r) => r.case.driver === driver && r.case.situation === situation)));
    return `| ${SITUATIONS[situation].title} | kernel + heartbeat | ${SITUATIONS[situation].stated} | ${cells.join(' | ')} |`;
  });
  const blockingCell = blocking.map(({ option, first: told }) => `${option}: ${told ? `${seconds(told.at)} ${told.what}` : 'nothing'}`).join('; ');
  lines.push(`| ${BLOCKING_TITLE} | kernel + heartbeat | ${BLOCKING_STATED} | ${blockingCell || 'skipped'} | n/a | n/a |`);
  return lines.join('\n');
}

// ------------------------------------------------------------- the checks

const results: Result[] = [];
let blocking: Awaited<ReturnType<typeof blockingOnHealthy>> = [];
const runnable = (Object.keys(DRIVERS) as Driver[]).filter((driver) => !serverSkipReason(DRIVERS[driver]));

beforeAll(async () => {
  const blockingRun = runnable.includes('ioredis') ? blockingOnHealthy() : Promise.resolve([]);
  for (const driverResults of await Promise.all(runnable.map(runDriver))) results.push(...driverResults);
  blocking = await blockingRun;
  if (process.env.TKA_SERVERS_TABLE) console.log(table(results, blocking));
}, 120_000);
afterAll(stopAllServers);

/** The error each timeout gives the application. */
const TIMEOUT_ERRORS: Record<string, string> = {
  commandTimeout: 'Command timed out',
  socketTimeout: `Socket timeout. Expecting data, but didn't receive any in ${TIMEOUT_MS}ms.`,
  query_timeout: 'Query read timeout',
  'query timeout': 'PROTOCOL_SEQUENCE_TIMEOUT',
  // SQLSTATE query_canceled
  statement_timeout: '57014',
  // MariaDB's error 1969 (ER_STATEMENT_TIMEOUT), which mysql2 gives no code
  max_statement_time: 'Query execution was interrupted (max_statement_time exceeded)',
};

for (const driver of Object.keys(DRIVERS) as Driver[]) {
  const reason = serverSkipReason(DRIVERS[driver]);
  describe.skipIf(reason)(`${driver}, its server frozen in the middle of a request${reason ? ` (skipped: ${reason})` : ''}`, () => {
    for (const c of CASES.filter((k) => k.driver === driver)) {
      it(`${c.option}: ${SITUATIONS[c.situation].stated}`, () => {
        const result = results.find((r) => r.case === c);
        expect(result, 'the case ran').toBeDefined();
        const detail = JSON.stringify({ ...result, case: `${c.driver} ${c.situation}` });
        const r = result!;
        expect(reports(r).filter((t) => t.at === -Infinity), `${detail}: nothing reported before the freeze`).toEqual([]);
        const firstTold = first(r);
        if (c.situation === 'server-side') {
          // The server's own clock is stopped with it: nothing until the thaw, then the statement fails.
          expect(firstTold, detail).toBeDefined();
          expect(firstTold!.at, detail).toBeGreaterThanOrEqual(r.thawAt);
          expect(r.settled, detail).toMatchObject({ failed: true, what: TIMEOUT_ERRORS[c.option] });
          expect(r.settled!.at - r.thawAt, detail).toBeLessThanOrEqual(1000);
        } else {
          // The timeout is the first thing the app is told, no sooner than it is set to, no later than the margin.
          expect(firstTold, detail).toBeDefined();
          expect(firstTold!.what, detail).toBe(TIMEOUT_ERRORS[c.option]);
          expect(firstTold!.at - r.sentAt, detail).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
          expect(firstTold!.at - r.sentAt, detail).toBeLessThanOrEqual(TIMEOUT_MS + SLACK_MS);
        }
        if (c.situation === 'recipe') {
          // The new connection, made at the timeout to a server still
          // frozen, is watched from its 'connect': reported within the
          // budget, by the heartbeat or by a timeout that also covers the
          // driver's start-up (ioredis's commandTimeout does).
          const made = newConnection(r);
          expect(made, detail).toBeDefined();
          expect(made!.connectAt - r.settled!.at, detail).toBeLessThanOrEqual(RECONNECT_MS);
          expect(made!.report, detail).toBeDefined();
          expect([TIMEOUT_ERRORS[c.option], 'ERR_HEARTBEAT_TIMEOUT'], detail).toContain(made!.report!.what);
          expect(made!.report!.at - made!.connectAt, detail).toBeLessThanOrEqual(BUDGET + SLACK_MS);
        }
        if (c.situation === 'socket-timeout') {
          // ioredis retries the request on its next connection (maxRetriesPerRequest): answered after the thaw.
          expect(r.settled, detail).toMatchObject({ failed: false, what: 'answered' });
          expect(r.settled!.at, detail).toBeGreaterThanOrEqual(r.thawAt);
        }
        if (c.situation === 'timeout-kept') {
          // The timed-out request is still in the driver's queue: the heartbeat stays suspended.
          expect(reports(r).filter((t) => t.at >= 0 && t.at <= r.thawAt), detail).toEqual([]);
        }
        expect(r.answeredAfterThaw, detail).toBeDefined();
        expect(r.answeredAfterThaw!, detail).toBeLessThanOrEqual(BUDGET);
      });
    }
    if (driver === 'ioredis') {
      it(`${BLOCKING_TITLE}: ${BLOCKING_STATED}`, () => {
        const detail = JSON.stringify(blocking);
        expect(blocking.map((b) => b.option), detail).toEqual(['commandTimeout', 'socketTimeout']);
        for (const { option, first: told } of blocking) {
          expect(told?.what, detail).toBe(TIMEOUT_ERRORS[option]);
          expect(told!.at, detail).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
          expect(told!.at, detail).toBeLessThanOrEqual(TIMEOUT_MS + SLACK_MS);
        }
      });
    }
  });
}
