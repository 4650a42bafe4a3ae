// The recipes of docs/recipes.md for ioredis, pg and mysql2, each against its real
// server (test/support/servers.ts), for every death docs/real-servers.md tabulates:
// the server frozen or blackholed while idle, blackholed with a request in
// flight, killed, and a healthy server running an 8 s blocking command
// under a 5 s budget. Each recipe runs in two forms: the kernel layer only,
// and the kernel plus the driver's heartbeat. Every row's verdict is
// asserted: noticed within the stated bound of the death, or (the kernel
// alone against a frozen server) never, or (the long command) no alarm.
//
// All rows run at once, one server per death and driver, in beforeAll;
// each it() then checks one row. `TKA_SERVERS_TABLE=1` prints the table
// docs/real-servers.md quotes.
import * as net from 'node:net';
import Redis from 'ioredis';
import * as mysql from 'mysql2';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getKeepAlive, ioredisHeartbeat, mysql2Heartbeat, pgHeartbeat, setKeepAlive } from '../../lib';
import { serverSkipReason, startServerOf, stopAllServers, type RunningServer, type ServerKind } from '../support/servers';

// The recipes' constant, with a 5 s budget (2 + 1 x 3 s) instead of 110 s.
const KEEPALIVE = { idle: 2000, interval: 1000, count: 3, userTimeout: 'auto' } as const;
const BUDGET = KEEPALIVE.idle + KEEPALIVE.interval * KEEPALIVE.count;
/** The blocking command runs this long: past the budget. */
const LONG_COMMAND_MS = 8000;
/** A death not noticed this long after it counts as never noticed (as in the drill). */
const WATCH_MS = 2 * BUDGET + 3000;
/** Deaths come this long after the clients are set up, past the heartbeat's first check. */
const SETTLE_MS = KEEPALIVE.idle + 500;

type Recipe = 'kernel' | 'kernel+heartbeat';
type Death = 'freeze' | 'freeze-long' | 'blackhole' | 'blackhole-busy' | 'blackhole-long' | 'kill' | 'long-command';
const RECIPES: Recipe[] = ['kernel', 'kernel+heartbeat'];
const DEATHS: Death[] = ['freeze', 'freeze-long', 'blackhole', 'blackhole-busy', 'blackhole-long', 'kill', 'long-command'];
const DRIVERS = { ioredis: 'redis', pg: 'postgres', mysql2: 'mariadb' } as const satisfies Record<string, ServerKind>;
type Driver = keyof typeof DRIVERS;

/** What the row's verdict must be: noticed within `withinMs`, never noticed, or no alarm at all. */
type Expectation = { noticed: true; withinMs: number; text: string } | { noticed: false; text: string };

// The kernel retransmits data in flight on a backed-off timer, and the user
// timeout is checked when it fires: up to one more round-trip timeout late.
const IN_FLIGHT_SLACK_MS = 1500;
// Kernel timers and the heartbeat's visits may come a little late on a
// loaded machine; the figure docs/real-servers.md quotes is the measured one.
const SLACK_MS = 750;

function expectation(recipe: Recipe, death: Death): Expectation {
  switch (death) {
    case 'freeze':
      return recipe === 'kernel' ? { noticed: false, text: 'never (its kernel still ACKs)' } : { noticed: true, withinMs: BUDGET + SLACK_MS, text: `<= ${BUDGET / 1000} s` };
    case 'blackhole':
      return { noticed: true, withinMs: BUDGET + SLACK_MS, text: `<= ${BUDGET / 1000} s` };
    case 'freeze-long':
      return { noticed: false, text: "never: the request's own timeout" };
    case 'blackhole-long':
      return { noticed: true, withinMs: BUDGET + SLACK_MS, text: `<= ${BUDGET / 1000} s (kernel)` };
    case 'blackhole-busy':
      return { noticed: true, withinMs: BUDGET + IN_FLIGHT_SLACK_MS, text: `<= ${BUDGET / 1000} s + one retransmission` };
    case 'kill':
      // "At once": the FIN is read on the next turn; the margin is for a loaded machine.
      return { noticed: true, withinMs: 2000, text: 'at once' };
    case 'long-command':
      return { noticed: false, text: 'no alarm' };
  }
}

interface Observation {
  /** ms from the death to the first event the driver gave the application */
  noticedAfter?: number;
  /** that event: an error code, or 'close' / 'end' */
  how?: string;
  /** the request in flight or the long command: how it ended */
  request?: string;
  /** a sign of death before the death */
  falseAlarm?: string;
  /** what the driver emitted, in order (the first few, once each) */
  events: string[];
  kernel?: unknown;
}
interface Row extends Observation {
  driver: Driver;
  recipe: Recipe;
  death: Death;
  skipped?: string;
}

/** One client, set up the way docs/recipes.md does, reporting the first sign of death it gives the application. */
interface Client {
  /** resolves once connected and a first request went through */
  ready: Promise<void>;
  socket(): net.Socket | undefined;
  /** a quick request, to have one in flight */
  quick(): Promise<unknown>;
  /** the blocking command: LONG_COMMAND_MS on a healthy server */
  long(): Promise<unknown>;
  onDeath(listener: (how: string) => void): void;
  close(): void;
  /** the driver's own client object */
  raw: unknown;
}

/** Passes on every sign of death the driver gives the application. */
function deathReporter() {
  const listeners: ((how: string) => void)[] = [];
  return {
    report(how: string) {
      for (const listener of listeners) listener(how);
    },
    onDeath(listener: (how: string) => void) {
      listeners.push(listener);
    },
  };
}
const describeError = (error: unknown) => (error as { code?: string }).code ?? (error as Error).message;

const connect: Record<Driver, (server: RunningServer, recipe: Recipe) => Client> = {
  ioredis(server, recipe) {
    const { report, onDeath } = deathReporter();
    // recipe (docs/recipes.md: ioredis)
    const redis = new Redis({ host: server.host, port: server.port, password: server.password });
    redis.on('connect', () => {
      setKeepAlive(redis.stream, KEEPALIVE);
      if (recipe === 'kernel+heartbeat') ioredisHeartbeat(redis, KEEPALIVE);
    });
    redis.on('error', (error) => report(describeError(error)));
    // end recipe
    redis.on('close', () => report('close'));
    return {
      ready: redis.ping().then(() => {}),
      socket: () => redis.stream,
      quick: () => redis.get('key'),
      long: () => redis.blpop('queue', LONG_COMMAND_MS / 1000),
      onDeath,
      close: () => redis.disconnect(),
      raw: redis,
    };
  },
  pg(server, recipe) {
    const { report, onDeath } = deathReporter();
    const client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: server.database });
    client.on('error', (error: Error) => report(describeError(error)));
    client.on('end', () => report('end'));
    const ready = (async () => {
      // recipe (docs/recipes.md: pg)
      await client.connect();
      setKeepAlive(client.connection.stream as net.Socket, KEEPALIVE);
      if (recipe === 'kernel+heartbeat') pgHeartbeat(client, KEEPALIVE);
      // end recipe
      await client.query('SELECT 1');
    })();
    return {
      ready,
      socket: () => client.connection?.stream as net.Socket | undefined,
      quick: () => client.query('SELECT 1'),
      long: () => client.query(`SELECT pg_sleep(${LONG_COMMAND_MS / 1000})`),
      onDeath,
      close: () => void client.end().catch(() => {}),
      raw: client,
    };
  },
  mysql2(server, recipe) {
    const { report, onDeath } = deathReporter();
    // recipe (docs/recipes.md: mysql2)
    const connection = mysql.createConnection({
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      database: server.database,
      stream: ({ config }: { config: { host: string; port: number } }) => {
        const socket = net.connect(config.port, config.host);
        socket.setNoDelay(true);
        setKeepAlive(socket, KEEPALIVE);
        return socket;
      },
    });
    if (recipe === 'kernel+heartbeat') mysql2Heartbeat(connection, KEEPALIVE);
    connection.on('error', (error) => report(describeError(error)));
    // end recipe
    connection.on('end', () => report('end'));
    const promised = connection.promise();
    return {
      ready: promised.query('SELECT 1').then(() => {}),
      socket: () => (connection as unknown as { stream: net.Socket }).stream,
      quick: () => promised.query('SELECT 1'),
      long: () => promised.query(`SELECT SLEEP(${LONG_COMMAND_MS / 1000})`),
      onDeath,
      close: () => connection.destroy(),
      raw: connection,
    };
  },
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The rows each server serves: the clients of one death, several ways, share its server. */
const ROWS_OF: Partial<Record<Death, Death[]>> = {
  freeze: ['freeze', 'freeze-long'],
  blackhole: ['blackhole', 'blackhole-busy', 'blackhole-long'],
};

/**
 * One server, one death: both recipes connect (for freeze and blackhole,
 * also clients with a request in flight or a long command running), the
 * server dies, and each client's first sign of death is timed from that
 * moment. A sign of death before it is a false alarm.
 */
async function runDeath(driver: Driver, death: Death): Promise<Row[]> {
  const server = await startServerOf(DRIVERS[driver]);
  const clients: { recipe: Recipe; death: Death; client: Client; observation: Observation }[] = [];
  let diedAt: number | undefined;
  let watching = true;
  const requests: Promise<unknown>[] = [];
  const noticed = (observation: Observation, how: string) => {
    if (!watching) return;
    if (diedAt === undefined) {
      observation.falseAlarm ??= how;
      return;
    }
    observation.noticedAfter ??= performance.now() - diedAt;
    observation.how ??= how;
    if (observation.events.length < 4 && !observation.events.includes(how)) observation.events.push(how);
  };
  // A request that fails tells the application too (mysql2 gives a fatal
  // error to the request in progress, not to the connection).
  const track = (observation: Observation, request: Promise<unknown>) => {
    const sentAt = performance.now();
    requests.push(
      request.then(
        () => (observation.request = `answered after ${((performance.now() - sentAt) / 1000).toFixed(2)} s`),
        (error) => {
          observation.request = `failed: ${describeError(error)}`;
          noticed(observation, `${describeError(error)} (the request failed)`);
        },
      ),
    );
  };
  try {
    for (const rowDeath of ROWS_OF[death] ?? [death]) {
      for (const recipe of RECIPES) {
        const client = connect[driver](server, recipe);
        const observation: Observation = { events: [] };
        client.onDeath((how) => noticed(observation, how));
        clients.push({ recipe, death: rowDeath, client, observation });
      }
    }
    await Promise.all(clients.map(({ client }) => client.ready));
    for (const { client, observation } of clients) observation.kernel = getKeepAlive(client.socket()!);
    await sleep(SETTLE_MS - 1000);
    for (const { client, death: rowDeath, observation } of clients) {
      if (rowDeath.endsWith('-long')) track(observation, client.long());
    }
    await sleep(1000);

    // Times run from the death: the signal sent, or the drop rules in
    // place (nft commits them at the end of its run).
    if (death === 'blackhole') await server.blackhole();
    diedAt = performance.now();
    if (death === 'freeze') await server.freeze();
    if (death === 'kill') await server.kill();
    for (const { client, death: rowDeath, observation } of clients) {
      if (rowDeath === 'blackhole-busy') track(observation, client.quick());
      if (rowDeath === 'long-command') track(observation, client.long());
    }
    if (death === 'long-command') {
      // Bounded: a client killed mid-command may retry it forever (ioredis does).
      await Promise.race([Promise.all(requests), sleep(LONG_COMMAND_MS + 5000)]);
      await sleep(1000);
    } else {
      const deadline = diedAt + WATCH_MS;
      while (performance.now() < deadline && clients.some(({ observation }) => observation.noticedAfter === undefined)) await sleep(50);
    }
    watching = false;
  } finally {
    for (const { client } of clients) client.close();
    await server.stop();
  }
  return clients.map(({ recipe, death: rowDeath, observation }) => ({ driver, recipe, death: rowDeath, ...observation }));
}

/**
 * A pg connection left idle in an aborted transaction answers every query,
 * the heartbeat's SELECT 1 included, with an error: the PING failed, yet the
 * server answered, and the bytes read count as life.
 * Returns what the driver emitted while idle for longer than the budget.
 */
async function idleInAbortedTransaction(): Promise<{ events: string[]; rollback: string }> {
  const server = await startServerOf('postgres');
  const events: string[] = [];
  const client = connect.pg(server, 'kernel+heartbeat');
  try {
    client.onDeath((how) => events.push(how));
    await client.ready;
    const pgClient = client.raw as pg.Client;
    await pgClient.query('BEGIN');
    await pgClient.query('SELECT 1/0').catch(() => {});
    await sleep(BUDGET + 3000);
    const rollback = await pgClient.query('ROLLBACK').then((result) => result.command, (error: Error) => error.message);
    return { events: [...events], rollback };
  } finally {
    client.close();
    await server.stop();
  }
}

const rows: Row[] = [];
const warnings: string[] = [];
let abortedTransaction: { events: string[]; rollback: string } | undefined;
const runnable = (Object.keys(DRIVERS) as Driver[]).filter((driver) => !serverSkipReason(DRIVERS[driver]));

beforeAll(async () => {
  process.on('warning', (warning) => warnings.push(warning.message));
  const served = new Set(Object.values(ROWS_OF).flatMap((rows) => rows.slice(1)));
  const runs = runnable.flatMap((driver) => DEATHS.filter((death) => !served.has(death)).map((death) => runDeath(driver, death)));
  const aborted = runnable.includes('pg') ? idleInAbortedTransaction() : undefined;
  for (const result of await Promise.all(runs)) rows.push(...result);
  abortedTransaction = await aborted;
  if (process.env.TKA_SERVERS_TABLE) console.log(table(rows));
}, 240_000);
afterAll(stopAllServers);

const DEATH_TITLES: Record<Death, string> = {
  freeze: 'frozen (SIGSTOP) while idle',
  blackhole: 'blackholed while idle',
  'freeze-long': `frozen during an ${LONG_COMMAND_MS / 1000} s command`,
  'blackhole-busy': 'blackholed, a request in flight',
  'blackhole-long': `blackholed during an ${LONG_COMMAND_MS / 1000} s command`,
  kill: 'killed (SIGKILL)',
  'long-command': `healthy, running an ${LONG_COMMAND_MS / 1000} s command`,
};

/** The table of docs/real-servers.md: one line per death and recipe, one column per driver. */
function table(all: Row[]): string {
  const drivers = Object.keys(DRIVERS) as Driver[];
  const lines = [`| server | recipe | stated | ${drivers.join(' | ')} |`, `|---|---|---|${drivers.map(() => '---|').join('')}`];
  const cell = (row: Row | undefined) => {
    if (!row) return 'skipped';
    if (row.death === 'long-command') return row.noticedAfter === undefined ? `no alarm (${row.request})` : `false alarm after ${(row.noticedAfter / 1000).toFixed(2)} s: ${row.how}`;
    if (row.noticedAfter === undefined) return 'not noticed';
    return `${(row.noticedAfter / 1000).toFixed(2)} s ${row.how!.replace(/^(\S+) \(the request failed\)$/, '$1 (the query fails)')}`;
  };
  for (const death of DEATHS) {
    for (const recipe of RECIPES) {
      const found = drivers.map((driver) => all.find((r) => r.driver === driver && r.death === death && r.recipe === recipe));
      lines.push(`| ${DEATH_TITLES[death]} | ${recipe.replace('+', ' + ')} | ${expectation(recipe, death).text} | ${found.map(cell).join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

const postgresSkipped = serverSkipReason('postgres');
describe.skipIf(postgresSkipped)(`pg and its heartbeat${postgresSkipped ? ` (skipped: ${postgresSkipped})` : ''}`, () => {
  it('pg never warned of a query sent while another runs: one PING at a time, none while a request is in flight', () => {
    expect(warnings.filter((message) => message.includes('already executing a query'))).toEqual([]);
  });

  it('a connection idle in an aborted transaction is not declared dead: the error the server sends for SELECT 1 is data received, a sign of life', () => {
    expect(abortedTransaction).toEqual({ events: [], rollback: 'ROLLBACK' });
  });
});

for (const driver of Object.keys(DRIVERS) as Driver[]) {
  const reason = serverSkipReason(DRIVERS[driver]);
  describe.skipIf(reason)(`${driver} against a real ${DRIVERS[driver]}${reason ? ` (skipped: ${reason})` : ''}`, () => {
    for (const death of DEATHS) {
      for (const recipe of RECIPES) {
        const expected = expectation(recipe, death);
        it(`${death}, ${recipe}: ${expected.text}`, () => {
          const row = rows.find((r) => r.driver === driver && r.death === death && r.recipe === recipe);
          expect(row, 'the row ran').toBeDefined();
          const detail = JSON.stringify(row);
          expect(row!.falseAlarm, detail).toBeUndefined();
          expect(row!.kernel, detail).toMatchObject({ enabled: true, idle: 2000, interval: 1000, count: 3, userTimeout: BUDGET });
          if (expected.noticed) {
            expect(row!.noticedAfter, detail).toBeDefined();
            expect(row!.noticedAfter!, detail).toBeLessThanOrEqual(expected.withinMs);
          } else {
            expect(row!.noticedAfter, detail).toBeUndefined();
          }
          if (death === 'long-command') {
            const answeredAfter = Number(/^answered after ([\d.]+) s$/.exec(row!.request ?? '')?.[1]) * 1000;
            expect(answeredAfter, detail).toBeGreaterThanOrEqual(LONG_COMMAND_MS - 100);
          }
          if (death === 'freeze' && recipe === 'kernel+heartbeat') expect(row!.how, detail).toBe('ERR_HEARTBEAT_TIMEOUT');
        });
      }
    }
  });
}
