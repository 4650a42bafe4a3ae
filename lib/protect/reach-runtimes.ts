// Reaching accepted sockets in a runtime that publishes nothing on
// diagnostics_channel `net.server.socket`: Bun (1.4.5 publishes neither net
// channel; its clients are reached by reach.ts's connect wrapper, which its
// probe picks there). Deno publishes both channels like Node and needs
// nothing from here.
//
// Every server hands its accepted socket to emit('connection', socket): net
// and tls servers through net.Server.prototype, and in Bun http and https
// servers through http.Server.prototype, which is no net.Server there (Bun's
// http server is native and emits 'connection' whether or not anything
// listens). Wrapping emit on these two prototypes reaches them all, with one
// string comparison per event emitted by a server.
import * as net from 'node:net';
import { httpModule } from '../kernel/socket';

/**
 * Bun's http servers hand out sockets whose `_handle` is null for their
 * whole life, so there a null handle does not mean "sent to another process"
 * (Node's hand-off), and such sockets must not be let go.
 */
export const handlelessSockets = process.versions.bun !== undefined;

/** Whether this runtime publishes accepted sockets on `net.server.socket`. */
export function publishesServerSockets(): boolean {
  return process.versions.bun === undefined;
}

type Emit = (this: net.Server, event: string | symbol, ...args: unknown[]) => boolean;

/** Wraps emit on one server prototype; returns what restores it. */
function wrapEmit(proto: { emit: Emit }, accepted: (socket: net.Socket) => void): () => void {
  const own = Object.prototype.hasOwnProperty.call(proto, 'emit');
  const original = proto.emit;
  const wrapper: Emit = function (this: net.Server, event, ...args) {
    if (event === 'connection' && args[0] instanceof net.Socket) accepted(args[0]);
    return original.call(this, event, ...args);
  };
  proto.emit = wrapper;
  return () => {
    // Someone wrapped it after us: unwrapping would drop theirs too.
    if (proto.emit !== wrapper) return;
    if (own) proto.emit = original;
    else delete (proto as { emit?: Emit }).emit;
  };
}

/** Calls `accepted` with each socket any server accepts from now on; returns what stops it. */
export function reachAcceptedByEmit(accepted: (socket: net.Socket) => void): () => void {
  // Only Bun comes here: in Node, the preload does not load node:http for an application that does not.
  const { Server: HttpServer } = httpModule();
  const protos: Array<{ emit: Emit }> = [net.Server.prototype as unknown as { emit: Emit }];
  if (!(HttpServer.prototype instanceof net.Server)) protos.push(HttpServer.prototype as unknown as { emit: Emit });
  const undo = protos.map((proto) => wrapEmit(proto, accepted));
  return () => {
    for (const step of undo.reverse()) step();
  };
}
