// Heartbeats for database drivers that have a ping of their own: ioredis,
// pg (node-postgres) and mysql2. The driver's client object is passed in;
// no driver package is imported.
//
// A connection running a long request of its own (BLPOP q 60, SELECT
// pg_sleep(60), a slow report) is silent for as long as the request runs,
// and a PING queued behind it is answered only when it ends. So while the
// application has a request in flight the heartbeat is suspended: no PING,
// no verdict, and the time counts as a sign of life. A PING goes out only
// when nothing else is in flight, and requests sent after it cannot excuse
// its answer coming late (the three protocols answer in order). What the
// heartbeat then catches: a server frozen or blackholed while the connection
// is idle. What it leaves to others: a blackhole with a request in flight
// (the kernel's user timeout), a server that freezes in the middle of a
// request (that request's own timeout).
//
// On death the driver's socket is destroyed with the ERR_HEARTBEAT_TIMEOUT
// error, so the driver reports it the way it reports any network error:
// an 'error' event on the client or connection.
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { invalidType, invalidValue } from '../errors';
import type { HeartbeatTimeoutError } from './errors';
import { ProtocolMonitor, type Monitor, type MonitorTiming } from './monitor';
import { timingFor } from './options';

interface DriverConnection {
  /** the socket the driver reads and writes */
  socket: net.Socket;
  /** true while a request of the application's is in flight (our PING is never counted: none is sent while this is true) */
  requestsInFlight(): boolean;
  /** sends the driver's own ping; calls back once, with an error if it failed */
  ping(callback: (error: Error | null) => void): void;
  /** called when the ping failed with an error the driver passed to it alone */
  pingFailed?(error: Error): void;
}

function checkTimingObject(options: unknown): asserts options is MonitorTiming {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object with idle, interval and count', options);
}

function socketOf(value: unknown, name: string): net.Socket {
  const socket = value as net.Socket | undefined;
  if (!socket || typeof socket.destroy !== 'function' || typeof socket.bytesRead !== 'number') {
    throw invalidValue(name, 'is not a socket yet: start the heartbeat once the driver has connected');
  }
  if (socket.destroyed) throw invalidValue(name, 'is destroyed');
  if (!socket.connecting && socket.remoteAddress === undefined) {
    throw invalidValue(name, 'is not connected yet: start the heartbeat once the driver has connected');
  }
  return socket;
}

/** One monitor on one driver connection: single-flight ping, suspended while busy, death through the socket. */
function watch(connection: DriverConnection, options: MonitorTiming): Monitor {
  const { socket } = connection;
  let pingOut = false;
  // Settings keyed on the options the user passed: one shared object for every connection watched with them.
  const monitor: ProtocolMonitor = new ProtocolMonitor(timingFor(options), {
    // While our PING is out, the application's later requests queue behind it.
    busy: () => !pingOut && connection.requestsInFlight(),
    progress: () => socket.bytesRead,
    ping: () => {
      // One PING at a time: a second one would only queue behind the first.
      if (pingOut || socket.destroyed) return;
      pingOut = true;
      const sentAt = performance.now();
      connection.ping((error) => {
        pingOut = false;
        if (!error) monitor.pong(performance.now() - sentAt);
        else connection.pingFailed?.(error);
      });
    },
    destroy: (error: HeartbeatTimeoutError) => socket.destroy(error),
  });
  monitor.listen(socket, 'close', () => monitor.stop());
  return monitor;
}

/** What the heartbeat uses of an ioredis client (structural: ioredis is not a dependency). */
export interface IoredisLike {
  /** the socket of the current connection; a new one after each reconnect */
  stream?: net.Socket;
  /** commands sent and not yet answered: while there are any, no PING is sent */
  commandQueue: { length: number };
  /** Redis PING */
  ping(): Promise<unknown>;
}

/**
 * Watches the current connection of an ioredis client with Redis PING.
 * Call it on each `'connect'` (ioredis makes a new socket per reconnect);
 * it stops when that socket closes. On death ioredis emits `'error'` with
 * the ERR_HEARTBEAT_TIMEOUT error, then `'close'`, and reconnects as its
 * retryStrategy says.
 */
export function ioredisHeartbeat(redis: IoredisLike, options: MonitorTiming = {}): Monitor {
  if (!redis || typeof redis.ping !== 'function' || typeof redis.commandQueue?.length !== 'number') {
    throw invalidType('redis', 'an ioredis client (Redis)', redis);
  }
  checkTimingObject(options);
  return watch(
    {
      socket: socketOf(redis.stream, 'redis.stream'),
      requestsInFlight: () => redis.commandQueue.length > 0,
      ping: (callback) => redis.ping().then(() => callback(null), callback),
    },
    options,
  );
}

/** What the heartbeat uses of a pg Client (structural: pg is not a dependency). */
export interface PgClientLike {
  /** a net.Socket (or TLSSocket) once connected; typed as pg's typings have it */
  connection: { stream: Duplex };
  /** used for the heartbeat's `SELECT 1` */
  query(text: string, callback: (error: Error | null) => void): unknown;
  /** the heartbeat's death reaches the application as the client's 'error' */
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/** pg keeps its queries in flight in fields of its own (the public getters are deprecated). */
function pgRequestsInFlight(client: PgClientLike): () => boolean {
  const fields = client as unknown as { _activeQuery?: unknown; _queryQueue?: unknown[]; _sentQueryQueue?: unknown[] };
  if (!('_activeQuery' in fields) || !Array.isArray(fields._queryQueue)) {
    throw invalidValue('client', 'is a pg Client whose query queue this version of tcp-keepalive cannot see (pg 8 is supported)');
  }
  return () => fields._activeQuery != null || fields._queryQueue!.length > 0 || (fields._sentQueryQueue?.length ?? 0) > 0;
}

/**
 * Watches a connected pg Client (after `await client.connect()`, or in a
 * Pool's `'connect'` event) with `SELECT 1`. On death the client emits
 * `'error'` with the ERR_HEARTBEAT_TIMEOUT error, then `'end'`; a Pool
 * removes such a client.
 */
export function pgHeartbeat(client: PgClientLike, options: MonitorTiming = {}): Monitor {
  if (!client || typeof client.query !== 'function' || !client.connection) throw invalidType('client', 'a pg Client', client);
  checkTimingObject(options);
  return watch(
    {
      socket: socketOf(client.connection.stream, 'client.connection.stream'),
      requestsInFlight: pgRequestsInFlight(client),
      ping: (callback) => client.query('SELECT 1', (error) => callback(error)),
    },
    options,
  );
}

/** What the heartbeat uses of a mysql2 Connection (structural: mysql2 is not a dependency). */
export interface Mysql2ConnectionLike {
  /** COM_PING */
  ping(callback: (error: Error | null) => void): unknown;
  /** the heartbeat's death is emitted as 'error' (fatal: true) */
  emit(event: string, ...args: unknown[]): boolean;
}

/**
 * Watches a mysql2 connection (the callback `Connection`, or the
 * `connection` inside a `mysql2/promise` one; a pool's in its
 * `'connection'` event) with COM_PING. On death the connection emits
 * `'error'` with the ERR_HEARTBEAT_TIMEOUT error (fatal: true) and closes.
 */
export function mysql2Heartbeat(connection: Mysql2ConnectionLike | { connection: Mysql2ConnectionLike }, options: MonitorTiming = {}): Monitor {
  // A mysql2/promise connection holds the callback one.
  const wrapped = typeof connection === 'object' && connection !== null && 'connection' in connection && !('_commands' in connection);
  const conn = (wrapped ? connection.connection : connection) as Mysql2ConnectionLike;
  // mysql2's typings leave out the socket and the command queue.
  const fields = conn as unknown as { stream?: net.Socket; _command?: unknown; _commands?: { length: number }; _pool?: unknown };
  if (!conn || typeof conn.ping !== 'function' || typeof fields._commands?.length !== 'number') {
    throw invalidType('connection', 'a mysql2 Connection', connection);
  }
  checkTimingObject(options);
  return watch(
    {
      socket: socketOf(fields.stream, 'connection.stream'),
      requestsInFlight: () => fields._command != null || fields._commands!.length > 0,
      ping: (callback) => conn.ping((error) => callback(error)),
      // mysql2 gives a fatal error to the command in progress and only to
      // it, unless the connection belongs to a pool: with our PING in
      // progress, a createConnection application would never hear of the
      // death. It does hear of it now, as it would without the heartbeat.
      pingFailed: (error) => {
        // After mysql2 has finished failing its queue and closing.
        if ((error as { fatal?: boolean }).fatal && fields._pool == null) process.nextTick(() => conn.emit('error', error));
      },
    },
    options,
  );
}
