// Applying keepalive where sockets are born: accepted by a server, created
// by an http(s) agent.
import type * as http from 'node:http';
import type * as net from 'node:net';
import { invalidType } from '../errors';
import { applyRequest, toRequest, type KeepAliveOptions } from './keepalive';

function applyOrDestroy(socket: net.Socket, request: ReturnType<typeof toRequest>): void {
  try {
    applyRequest(socket, request);
  } catch (error) {
    socket.destroy(error as Error);
  }
}

/**
 * Applies the options to every socket the server accepts from now on
 * (net, tls, http, https and http2 servers: all emit 'connection' with the
 * TCP socket). A socket whose options cannot be set is destroyed with the
 * error. Returns a function that stops it.
 */
export function applyToServer(server: net.Server, options: KeepAliveOptions | boolean): () => void {
  if (!server || typeof (server as net.Server).on !== 'function' || typeof (server as net.Server).listen !== 'function') {
    throw invalidType('server', 'a net.Server (or an http, https, tls or http2 server)', server);
  }
  const request = toRequest(options);
  const onConnection = (socket: net.Socket) => applyOrDestroy(socket, request);
  server.on('connection', onConnection);
  return () => void server.off('connection', onConnection);
}

type AgentInternals = http.Agent & {
  createConnection: (...args: unknown[]) => net.Socket;
  keepSocketAlive: (socket: net.Socket) => boolean;
};

/**
 * Applies the options to every socket the http(s) agent creates, and again
 * each time the agent parks a socket for reuse: a keepAlive agent calls
 * Node's socket.setKeepAlive() then, which resets interval and count.
 * Returns a function that restores the agent.
 */
export function applyToAgent(agent: http.Agent, options: KeepAliveOptions | boolean): () => void {
  const internals = agent as AgentInternals;
  if (!agent || typeof internals.createConnection !== 'function' || typeof internals.keepSocketAlive !== 'function') {
    throw invalidType('agent', 'an http.Agent or https.Agent', agent);
  }
  const request = toRequest(options);
  const { createConnection, keepSocketAlive } = internals;
  internals.createConnection = function (this: http.Agent, ...args: unknown[]) {
    const socket = createConnection.apply(this, args);
    if (socket) applyOrDestroy(socket, request);
    return socket;
  };
  internals.keepSocketAlive = function (this: http.Agent, socket: net.Socket) {
    const kept = keepSocketAlive.call(this, socket);
    if (kept) applyOrDestroy(socket, request);
    return kept;
  };
  return () => {
    internals.createConnection = createConnection;
    internals.keepSocketAlive = keepSocketAlive;
  };
}
