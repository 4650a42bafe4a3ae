// How the sockets of this process are reached, whoever creates them.
//
// Accepted sockets: every Node this package supports (20+) publishes them on
// diagnostics_channel `net.server.socket` (net, tls, http, https, http2
// servers all accept through net.Server).
//
// Client sockets: `net.client.socket` is published by net.connect() on every
// version, but by `new net.Socket().connect()` and tls.connect() only since
// nodejs/node#58349 moved the publish into Socket.prototype.connect (Node
// 22.23 and 24+ here; Node 20 never). pg uses exactly that path. Where a
// probe shows the channel misses it, Socket.prototype.connect is wrapped
// instead: one function call more per connect, and net.connect goes
// through it too, so the channel is not needed there.
//
// The driver's own setKeepAlive() calls are followed by wrapping
// Socket.prototype.setKeepAlive, and deaths are seen in
// Socket.prototype._destroy, the last point where the fd is still open to
// read TCP_INFO. Both are prototype wrappers: no per-socket closure.
import * as dc from 'node:diagnostics_channel';
import * as net from 'node:net';
import { publishesServerSockets, reachAcceptedByEmit } from './reach-runtimes';

/**
 * How `protect()` reaches client sockets in this Node: 'channel' (the
 * `net.client.socket` diagnostics channel) or 'connect-wrapper' (a wrapper
 * of `net.Socket.prototype.connect`, where the channel misses sockets).
 */
export type Mechanism = 'channel' | 'connect-wrapper';

export interface Hooks {
  /** a client socket is about to connect (its fd may not exist yet) */
  client(socket: net.Socket): void;
  /** a server accepted this socket */
  server(socket: net.Socket): void;
  /** Node's own setKeepAlive() was just called on this socket */
  afterSetKeepAlive(socket: net.Socket): void;
  /** the socket is being destroyed; its fd is still open */
  beforeDestroy(socket: net.Socket, error: Error | null): void;
}

/** Does this Node publish `new net.Socket().connect()` on net.client.socket? */
export function channelSeesSocketConnect(): boolean {
  let published = false;
  const probe = () => {
    published = true;
  };
  dc.subscribe('net.client.socket', probe);
  const socket = new net.Socket();
  try {
    // Node validates the port after publishing and before creating a handle.
    socket.connect({ port: -1 });
  } catch {
    // ERR_SOCKET_BAD_PORT, as intended
  } finally {
    socket.destroy();
    dc.unsubscribe('net.client.socket', probe);
  }
  return published;
}

let detected: Mechanism | undefined;
/** The client mechanism this Node gets, probed once. */
export function clientMechanism(): Mechanism {
  detected ??= channelSeesSocketConnect() ? 'channel' : 'connect-wrapper';
  return detected;
}

type Proto = typeof net.Socket.prototype & {
  _destroy(error: Error | null, callback: (error?: Error | null) => void): void;
};

/** Replaces a prototype method, keeping its name and arity (applyThroughNode reads setKeepAlive.length). */
function wrapMethod<K extends keyof Proto>(key: K, wrapper: Proto[K]): () => void {
  const proto = net.Socket.prototype as Proto;
  const original = proto[key];
  Object.defineProperty(wrapper, 'length', { value: (original as (...args: unknown[]) => unknown).length });
  Object.defineProperty(wrapper, 'name', { value: (original as (...args: unknown[]) => unknown).name });
  proto[key] = wrapper;
  return () => {
    // Someone wrapped it after us: unwrapping would drop theirs too, so ours stays, inert.
    if (proto[key] === wrapper) proto[key] = original;
  };
}

/** Installs the hooks; returns what takes them off again. */
export function install(hooks: Hooks): () => void {
  const proto = net.Socket.prototype as Proto;
  const undo: Array<() => void> = [];
  const onServer = ({ socket }: { socket: net.Socket }) => hooks.server(socket);
  dc.subscribe('net.server.socket', onServer as dc.ChannelListener);
  undo.push(() => dc.unsubscribe('net.server.socket', onServer as dc.ChannelListener));
  if (!publishesServerSockets()) undo.push(reachAcceptedByEmit(hooks.server));

  if (clientMechanism() === 'channel') {
    const onClient = ({ socket }: { socket: net.Socket }) => hooks.client(socket);
    dc.subscribe('net.client.socket', onClient as dc.ChannelListener);
    undo.push(() => dc.unsubscribe('net.client.socket', onClient as dc.ChannelListener));
  } else {
    const connect = proto.connect;
    undo.push(
      wrapMethod('connect', function (this: net.Socket, ...args: unknown[]) {
        hooks.client(this);
        return (connect as (...a: unknown[]) => net.Socket).apply(this, args);
      } as Proto['connect']),
    );
  }

  const setKeepAlive = proto.setKeepAlive;
  undo.push(
    wrapMethod('setKeepAlive', function (this: net.Socket, ...args: unknown[]) {
      const result = (setKeepAlive as (...a: unknown[]) => net.Socket).apply(this, args);
      hooks.afterSetKeepAlive(this);
      return result;
    } as Proto['setKeepAlive']),
  );

  const destroy = proto._destroy;
  undo.push(
    wrapMethod('_destroy', function (this: net.Socket, error: Error | null, callback: (error?: Error | null) => void) {
      hooks.beforeDestroy(this, error);
      return destroy.call(this, error, callback);
    }),
  );
  return () => {
    for (const step of undo.reverse()) step();
  };
}
