// Monitors for protocols that have their own ping: WebSocket (the `ws`
// package) and HTTP/2 sessions. The protocol's PING frames are used; the
// heartbeat writes nothing of its own.
import type { Http2Session } from 'node:http2';
import { invalidType, invalidValue } from '../errors';
import { ProtocolMonitor, type Monitor } from './monitor';
import { timingFor, type MonitorTiming } from './options';

/** What the monitor uses of a `ws` WebSocket (kept structural: ws is not a dependency). */
export interface WebSocketLike {
  /** 1 while open; the monitor stops at 3 (closed) */
  readonly readyState: number;
  /** sends a WebSocket ping frame */
  ping(data?: unknown, mask?: boolean, callback?: (error?: Error) => void): void;
  /** closes at once, without the closing handshake: what the monitor does on death */
  terminate(): void;
  /** the monitor listens for 'pong', 'message', 'ping' and 'close' */
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** the monitor removes its listeners when it stops */
  off(event: string, listener: (...args: any[]) => void): unknown;
}

const WS_OPEN = 1;
const WS_CLOSED = 3;

/**
 * Watches a WebSocket with WebSocket ping/pong frames. Any message, ping or
 * pong from the peer is a sign of life. On death the socket is terminated.
 * Timing in ms (default: dead after 15 000 + 5 000 × 3). Stops by itself
 * when the socket closes, or with `stop()`.
 *
 * @throws TypeError `ERR_INVALID_ARG_TYPE` when `ws` is not a WebSocket of
 *   the `ws` package; RangeError `ERR_OUT_OF_RANGE` for a timing out of range.
 * @example
 * ```js
 * wss.on('connection', (ws) => wsHeartbeat(ws, { idle: 10_000, interval: 2_000, count: 3 }));
 * ```
 */
export function wsHeartbeat(ws: WebSocketLike, options: MonitorTiming = {}): Monitor {
  if (!ws || typeof ws.ping !== 'function' || typeof ws.terminate !== 'function' || typeof ws.on !== 'function') {
    throw invalidType('ws', 'a WebSocket from the ws package', ws);
  }
  if (ws.readyState >= WS_CLOSED - 1) throw invalidValue('ws', 'is closing or closed');
  const monitor = new ProtocolMonitor(timingFor(options), {
    // A CONNECTING socket throws on ping(); it has nothing to check yet.
    ping: () => ws.readyState === WS_OPEN && ws.ping(),
    destroy: () => ws.terminate(),
  });
  const alive = () => monitor.alive();
  monitor.listen(ws, 'pong', () => monitor.pong());
  monitor.listen(ws, 'message', alive);
  monitor.listen(ws, 'ping', alive);
  monitor.listen(ws, 'close', () => monitor.stop());
  return monitor;
}

/**
 * Watches an HTTP/2 session (client or server side) with HTTP/2 PING frames.
 * Any byte received on the session is a sign of life. On death the session
 * is destroyed with the error (`ERR_HEARTBEAT_TIMEOUT`). Timing in ms.
 *
 * @throws TypeError `ERR_INVALID_ARG_TYPE` when `session` is not an
 *   `Http2Session`; RangeError `ERR_OUT_OF_RANGE` for a timing out of range.
 */
export function http2Heartbeat(session: Http2Session, options: MonitorTiming = {}): Monitor {
  if (!session || typeof session.ping !== 'function' || typeof session.destroy !== 'function') {
    throw invalidType('session', 'an http2 session (ClientHttp2Session or ServerHttp2Session)', session);
  }
  if (session.destroyed || session.closed) throw invalidValue('session', 'is closed or destroyed');
  const monitor: ProtocolMonitor = new ProtocolMonitor(timingFor(options), {
    ping: () => {
      if (session.destroyed || session.closed) return;
      // false: too many PINGs already unanswered; the count runs on anyway.
      session.ping((error, duration) => {
        if (!error) monitor.pong(duration);
      });
    },
    destroy: (error) => session.destroy(error),
    // Frames are parsed in native code, so bytes read stand for them.
    progress: () => session.socket?.bytesRead ?? 0,
  });
  monitor.listen(session, 'close', () => monitor.stop());
  return monitor;
}
