// Applying keepalive where sockets are born: accepted by a server, created
// by an http(s) agent.
import type * as http from 'node:http';
import type * as net from 'node:net';
import { invalidType } from '../errors';
import { applyRequest, toRequest, type KeepAliveOptions } from './keepalive';

/** What applyToServer() and applyToAgent() return: stops it, and counts what it could not reach. */
export type StopApplying = (() => void) & {
  /** sockets left without kernel keepalive because the runtime gives no fd for them (ERR_TCP_KEEPALIVE_NO_FD) */
  readonly skipped: number;
};

interface Tally {
  skipped: number;
  /** what the warning names: "server" or "agent" */
  owner: string;
}

/**
 * A socket whose options cannot be set is destroyed with the error, except
 * one with no fd to set them on: that one works, only unwatched by the
 * kernel, so it is counted and kept, and the first of them is said once in
 * a process warning.
 */
function applyOrDestroy(socket: net.Socket, request: ReturnType<typeof toRequest>, tally: Tally): void {
  try {
    applyRequest(socket, request);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_TCP_KEEPALIVE_NO_FD') {
      socket.destroy(error as Error);
      return;
    }
    if (tally.skipped++ === 0) {
      process.emitWarning(`tcp-keepalive: a socket of this ${tally.owner} is left without kernel keepalive (${(error as Error).message}); the count is in .skipped`, {
        code: 'ERR_TCP_KEEPALIVE_NO_FD',
      });
    }
  }
}

function stopper(stop: () => void, tally: Tally): StopApplying {
  return Object.defineProperty(stop, 'skipped', { get: () => tally.skipped, enumerable: true }) as StopApplying;
}

/**
 * Applies the options to every socket the server accepts from now on
 * (net, tls, http, https and http2 servers: all emit 'connection' with the
 * TCP socket). A socket whose options cannot be set is destroyed with the
 * error; one the runtime gives no fd for (ERR_TCP_KEEPALIVE_NO_FD) is kept,
 * and counted in `.skipped` of the returned function, which stops it.
 * Options as for `setKeepAlive` (ms, checked at once).
 *
 * @throws TypeError `ERR_INVALID_ARG_TYPE` when `server` is not a server;
 *   the option errors of `setKeepAlive`.
 * @example
 * ```js
 * const server = http.createServer(handler);
 * const stop = applyToServer(server, { idle: 60_000, interval: 10_000, count: 5, userTimeout: 'auto' });
 * ```
 */
export function applyToServer(server: net.Server, options: KeepAliveOptions | boolean): StopApplying {
  if (!server || typeof (server as net.Server).on !== 'function' || typeof (server as net.Server).listen !== 'function') {
    throw invalidType('server', 'a net.Server (or an http, https, tls or http2 server)', server);
  }
  const request = toRequest(options);
  const tally: Tally = { skipped: 0, owner: 'server' };
  const onConnection = (socket: net.Socket) => applyOrDestroy(socket, request, tally);
  server.on('connection', onConnection);
  return stopper(() => void server.off('connection', onConnection), tally);
}

type AgentInternals = http.Agent & {
  createConnection: (...args: unknown[]) => net.Socket;
  keepSocketAlive: (socket: net.Socket) => boolean;
};

/** One pair of wrappers per agent, whatever the number of applyToAgent() calls. */
interface AgentHook {
  createConnection: AgentInternals['createConnection'];
  keepSocketAlive: AgentInternals['keepSocketAlive'];
  /** in call order; the last one wins, as if each were applied in turn */
  requests: Array<ReturnType<typeof toRequest>>;
  tally: Tally;
}
const hooks = new WeakMap<http.Agent, AgentHook>();

function applyAll(socket: net.Socket, hook: AgentHook): void {
  for (const request of hook.requests) applyOrDestroy(socket, request, hook.tally);
}

/**
 * Applies the options to every socket the http(s) agent creates, and again
 * each time the agent parks a socket for reuse: a keepAlive agent calls
 * Node's socket.setKeepAlive() then, which resets interval and count.
 * Returns a function that takes these options off again; the agent is
 * restored when the last one is taken off, in whatever order. Its
 * `.skipped` counts the agent's sockets the runtime gave no fd for (kept,
 * without kernel keepalive). Options as for `setKeepAlive` (ms, checked at once).
 *
 * @throws TypeError `ERR_INVALID_ARG_TYPE` when `agent` is not an
 *   `http.Agent` or `https.Agent`; the option errors of `setKeepAlive`.
 * @example
 * ```js
 * const agent = new http.Agent({ keepAlive: true });
 * const restore = applyToAgent(agent, { idle: 60_000, interval: 10_000, count: 5 });
 * ```
 */
export function applyToAgent(agent: http.Agent, options: KeepAliveOptions | boolean): StopApplying {
  const internals = agent as AgentInternals;
  if (!agent || typeof internals.createConnection !== 'function' || typeof internals.keepSocketAlive !== 'function') {
    throw invalidType('agent', 'an http.Agent or https.Agent', agent);
  }
  const request = toRequest(options);
  let hook = hooks.get(agent);
  if (!hook) {
    const created: AgentHook = {
      createConnection: internals.createConnection,
      keepSocketAlive: internals.keepSocketAlive,
      requests: [],
      tally: { skipped: 0, owner: 'agent' },
    };
    internals.createConnection = function (this: http.Agent, ...args: unknown[]) {
      const socket = created.createConnection.apply(this, args);
      if (socket) applyAll(socket, created);
      return socket;
    };
    internals.keepSocketAlive = function (this: http.Agent, socket: net.Socket) {
      const kept = created.keepSocketAlive.call(this, socket);
      if (kept) applyAll(socket, created);
      return kept;
    };
    hooks.set(agent, (hook = created));
  }
  hook.requests.push(request);
  const installed = hook;
  let removed = false;
  return stopper(() => {
    if (removed) return;
    removed = true;
    installed.requests.splice(installed.requests.lastIndexOf(request), 1);
    if (installed.requests.length > 0) return;
    internals.createConnection = installed.createConnection;
    internals.keepSocketAlive = installed.keepSocketAlive;
    hooks.delete(agent);
  }, installed.tally);
}
