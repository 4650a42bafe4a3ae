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
// its answer coming late (the three protocols answer in order). The
// driver's own start-up (hand-shake, authentication, ready check) is not the
// application's: it is watched from the socket's 'connect' as our PING. What
// the heartbeat then catches: a server frozen or blackholed while the
// connection is idle or starting up, on every reconnect. What it leaves to others: a blackhole with a request in flight
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

type Listenable = Parameters<ProtocolMonitor['listen']>[0];

interface DriverConnection {
  /** the socket the driver reads and writes */
  socket: net.Socket;
  /**
   * true once the driver's own start-up (hand-shake, authentication, ready
   * check) is over; until then its commands are ours, not the application's
   */
  started(): boolean;
  /** the driver emits this event on `emitter` when its start-up is over */
  startedEvent: [emitter: Listenable, event: string];
  /** true while a request of the application's is in flight (only asked once started, and not while our PING is out) */
  requestsInFlight(): boolean;
  /** sends the driver's own ping; settles when it is answered or failed */
  ping(): Promise<unknown>;
}

function checkTimingObject(options: unknown): asserts options is MonitorTiming {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object with idle, interval and count', options);
}

function socketOf(value: unknown, name: string): net.Socket {
  const socket = value as net.Socket | undefined;
  if (!socket || typeof socket.destroy !== 'function' || typeof socket.bytesRead !== 'number') {
    throw invalidValue(name, 'is not a socket yet: start the heartbeat once the driver has created its socket');
  }
  if (socket.destroyed) throw invalidValue(name, 'is destroyed');
  return socket;
}

/**
 * Settles once with the driver's callback: a callback that fires twice
 * gives one answer (one 'pong'), and a ping() that throws is a failed one.
 */
function callbackPing(send: (callback: (error?: Error | null) => void) => unknown, failed?: (error: Error) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let answered = false;
    send((error) => {
      if (answered) return;
      answered = true;
      if (!error) return resolve();
      failed?.(error);
      reject(error);
    });
  });
}

/**
 * One monitor on one driver connection, from the socket's 'connect' on.
 * The single flight and the rtt are the monitor's (a ping that returns a
 * promise); what is the driver's is which commands are ours: its start-up
 * stands for our PING until it is over, and a request of the application's
 * suspends the heartbeat.
 */
function watch(connection: DriverConnection, options: MonitorTiming): Monitor {
  const { socket } = connection;
  let startUp: Promise<void> | undefined;
  // Settings keyed on the options the user passed: one shared object for every connection watched with them.
  const monitor: ProtocolMonitor = new ProtocolMonitor(timingFor(options), {
    // Not connected yet: the time to connect is the connect timeout's (a
    // SYN nobody answers), not ours; the budget starts at 'connect'.
    busy: () => socket.pending || (connection.started() && connection.requestsInFlight()),
    progress: () => socket.bytesRead,
    ping: () => {
      if (connection.started()) return connection.ping();
      // The driver's start-up is in flight, and no ping can pass it: it is
      // our PING, and its end is the answer. A server that accepted the
      // connection in its kernel and never answers dies within the budget.
      const [emitter, event] = connection.startedEvent;
      return (startUp ??= new Promise<void>((resolve) => monitor.listen(emitter, event, () => resolve())));
    },
    destroy: (error: HeartbeatTimeoutError) => socket.destroy(error),
  });
  if (socket.pending) monitor.listen(socket, 'connect', () => monitor.connected());
  monitor.listen(socket, 'close', () => monitor.stop());
  return monitor;
}

/** What the heartbeat uses of an ioredis client (structural: ioredis is not a dependency). */
export interface IoredisLike {
  /** the socket of the current connection; a new one after each reconnect */
  stream?: net.Socket;
  /** 'connect' while its start-up commands run, 'ready' after: until then those commands are watched as our PING */
  status?: string;
  /** commands sent and not yet answered: once ready, while there are any, no PING is sent */
  commandQueue: { length: number };
  /** Redis PING */
  ping(): Promise<unknown>;
  /** the heartbeat waits for its 'ready' */
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** the heartbeat's listener goes when it stops */
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * Watches the current connection of an ioredis client with Redis PING.
 * Call it on each `'connect'` (ioredis makes a new socket per reconnect);
 * it stops when that socket closes. Until `'ready'`, ioredis's own
 * start-up commands (HELLO, AUTH, CLIENT, SELECT, the INFO ready check)
 * are watched as our PING. On death ioredis emits `'error'` with the
 * ERR_HEARTBEAT_TIMEOUT error, then `'close'`, and reconnects as its
 * retryStrategy says.
 */
export function ioredisHeartbeat(redis: IoredisLike, options: MonitorTiming = {}): Monitor {
  if (!redis || typeof redis.ping !== 'function' || typeof redis.on !== 'function' || typeof redis.commandQueue?.length !== 'number') {
    throw invalidType('redis', 'an ioredis client (Redis)', redis);
  }
  checkTimingObject(options);
  return watch(
    {
      socket: socketOf(redis.stream, 'redis.stream'),
      // Before 'ready' the application's commands wait in ioredis's offline
      // queue; what is in the command queue is ioredis's own start-up.
      started: () => redis.status === 'ready',
      startedEvent: [redis, 'ready'],
      requestsInFlight: () => redis.commandQueue.length > 0,
      // Whatever ping() returns: a promise is the PONG; anything else (a
      // wrapped or mocked client) leaves the bytes read as the only answer.
      ping: () => redis.ping() as Promise<unknown>,
    },
    options,
  );
}

/** What the heartbeat uses of a pg Client (structural: pg is not a dependency). */
export interface PgClientLike {
  /** a net.Socket (or TLSSocket); there from the constructor, connected by connect(); typed as pg's typings have it */
  connection: { stream: Duplex };
  /** used for the heartbeat's `SELECT 1` */
  query(text: string, callback: (error: Error | null) => void): unknown;
  /** the heartbeat waits for its 'connect' (the start-up over); its death reaches the application as the client's 'error' */
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** the heartbeat's listener goes when it stops */
  off(event: string, listener: (...args: any[]) => void): unknown;
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
 * Watches a pg Client with `SELECT 1`. Start it before `client.connect()`
 * (in a Pool, from the constructor of the `Client` class passed to it): it
 * watches from the socket's 'connect', the start-up and authentication
 * included, so `connect()` to a server that never answers fails within the
 * budget. Started on a connected client, it watches from then on. On death
 * the client emits `'error'` with the ERR_HEARTBEAT_TIMEOUT error (while
 * connecting, `connect()` rejects with it instead), then `'end'`; a Pool
 * removes such a client.
 */
export function pgHeartbeat(client: PgClientLike, options: MonitorTiming = {}): Monitor {
  if (!client || typeof client.query !== 'function' || typeof client.on !== 'function' || !client.connection) throw invalidType('client', 'a pg Client', client);
  checkTimingObject(options);
  const fields = client as unknown as { _connected?: boolean };
  return watch(
    {
      socket: socketOf(client.connection.stream, 'client.connection.stream'),
      // pg queues the application's queries until its start-up is over.
      started: () => fields._connected === true,
      startedEvent: [client, 'connect'],
      requestsInFlight: pgRequestsInFlight(client),
      ping: () => callbackPing((callback) => client.query('SELECT 1', callback)),
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
  const fields = conn as unknown as { stream?: net.Socket; authorized?: boolean; _command?: unknown; _commands?: { length: number }; _pool?: unknown };
  if (!conn || typeof conn.ping !== 'function' || typeof (conn as unknown as Listenable).on !== 'function' || typeof fields._commands?.length !== 'number') {
    throw invalidType('connection', 'a mysql2 Connection', connection);
  }
  checkTimingObject(options);
  // mysql2 gives a fatal error to the command in progress and only to it,
  // unless the connection belongs to a pool: with our PING in progress, a
  // createConnection application would never hear of the death. It does
  // hear of it now, as it would without the heartbeat.
  const pingFailed = (error: Error) => {
    // After mysql2 has finished failing its queue and closing.
    if ((error as { fatal?: boolean }).fatal && fields._pool == null) process.nextTick(() => conn.emit('error', error));
  };
  return watch(
    {
      socket: socketOf(fields.stream, 'connection.stream'),
      // The hand-shake is the first command in mysql2's queue: ours until it is over.
      started: () => fields.authorized === true,
      startedEvent: [conn as unknown as Listenable, 'connect'],
      requestsInFlight: () => fields._command != null || fields._commands!.length > 0,
      ping: () => callbackPing((callback) => conn.ping(callback), pingFailed),
    },
    options,
  );
}
