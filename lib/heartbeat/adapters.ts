// Monitors for protocols that have their own ping: WebSocket (the `ws`
// package) and HTTP/2 sessions. The protocol's PING frames are used; the
// heartbeat writes nothing of its own.
import type { Http2Session } from 'node:http2';
import { invalidType, invalidValue } from '../errors';
import { ProtocolMonitor, type Monitor } from './monitor';
import { timingFor, type MonitorTiming } from './options';

/** What the monitor uses of a `ws` WebSocket (kept structural: ws is not a dependency). */
export interface WebSocketLike {
  readonly readyState: number;
  ping(data?: unknown, mask?: boolean, callback?: (error?: Error) => void): void;
  terminate(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

const WS_OPEN = 1;
const WS_CLOSED = 3;

/**
 * Watches a WebSocket with WebSocket ping/pong frames. Any message, ping or
 * pong from the peer is a sign of life. On death the socket is terminated.
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
 * is destroyed with the error.
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
