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
// Listeners: `tracing:net.server.listen:asyncEnd` (Node 20.13+, 22+) fires
// right after the listen() system call, before any connection can be
// accepted; `asyncStart` tells whether listen() was given an existing
// handle or fd (then the listening socket may be shared with other
// processes).
//
// Sockets made from an fd (`new net.Socket({ fd })`) or a handle received
// over IPC are made by neither path: the Socket constructor calls
// this.read(0) on a socket that has a handle, so Socket.prototype.read
// sees them first (one property check per read() call).
//
// The driver's own setKeepAlive() calls are followed by wrapping
// Socket.prototype.setKeepAlive, and deaths are seen in
// Socket.prototype._destroy, the last point where the fd is still open to
// read TCP_INFO. A socket handed to another process with
// `subprocess.send('socket', socket)` loses its handle and gets
// setTimeout(0) from Node (lib/internal/child_process.js), which is where
// it is let go. All are prototype wrappers: no per-socket closure.
import * as dc from 'node:diagnostics_channel';
import * as net from 'node:net';
import { handlelessSockets, publishesServerSockets, reachAcceptedByEmit } from './reach-runtimes';

/** What protect() holds on a socket: its compiled policy, or a marker (see protect.ts). */
export const kPolicy = Symbol('tcp-keepalive.policy');

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
  /** a socket protect() has not decided on yet is read from (made from an fd or a received handle, or older than protect()) */
  unseen(socket: net.Socket): void;
  /** Node took the handle away from a protected socket: it was sent to another process */
  handedOff(socket: net.Socket): void;
  /** listen() was called; `existing`: on a handle or fd it was given */
  listenStart(server: net.Server, existing: boolean): void;
  /** the listening socket of `server` listens now */
  listening(server: net.Server): void;
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
type Marked = net.Socket & { [kPolicy]?: unknown; _handle?: unknown };

/** listen(handle), listen({ fd }), listen({ handle }), listen(server): a listening socket made elsewhere. */
function listensOnExisting(options: unknown): boolean {
  if (options === null || typeof options !== 'object') return false;
  const o = options as Record<string, unknown>;
  return o.port === undefined && o.path === undefined && ('fd' in o || 'handle' in o || '_handle' in o);
}

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

  const onListenStart = ({ server, options }: { server: net.Server; options: unknown }) => hooks.listenStart(server, listensOnExisting(options));
  const onListening = ({ server }: { server: net.Server }) => hooks.listening(server);
  dc.subscribe('tracing:net.server.listen:asyncStart', onListenStart as dc.ChannelListener);
  dc.subscribe('tracing:net.server.listen:asyncEnd', onListening as dc.ChannelListener);
  undo.push(() => {
    dc.unsubscribe('tracing:net.server.listen:asyncStart', onListenStart as dc.ChannelListener);
    dc.unsubscribe('tracing:net.server.listen:asyncEnd', onListening as dc.ChannelListener);
  });

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
      try {
        hooks.beforeDestroy(this, error);
      } catch (failure) {
        // Whatever went wrong in the report, the socket still closes with its own error.
        process.emitWarning(`tcp-keepalive: the death report of a socket failed: ${(failure as Error).message}`, { code: 'TCP_KEEPALIVE_REPORT' });
      }
      return destroy.call(this, error, callback);
    }),
  );

  const read = proto.read;
  undo.push(
    wrapMethod('read', function (this: Marked, size?: number) {
      if (this[kPolicy] === undefined) hooks.unseen(this);
      return read.call(this, size);
    } as Proto['read']),
  );

  const setTimeout = proto.setTimeout;
  undo.push(
    wrapMethod('setTimeout', function (this: Marked, ...args: unknown[]) {
      if (this._handle === null && !handlelessSockets && typeof this[kPolicy] === 'object' && !this.destroyed) hooks.handedOff(this);
      return (setTimeout as (...a: unknown[]) => net.Socket).apply(this, args);
    } as Proto['setTimeout']),
  );
  return () => {
    for (const step of undo.reverse()) step();
  };
}
