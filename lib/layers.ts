// One call for both layers: kernel keepalive where it can do what was
// asked, the heartbeat where it cannot (sub-second budgets, no fd).
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { invalidType, invalidValue, unsupported } from './errors';
import { setKeepAlive, type KeepAliveState } from './kernel/keepalive';
import { limitsFor, nodeTakesIntervalAndCount } from './kernel/platform';
import { hasAddon } from './native';
import { isUnixDomain, resolveSocket } from './kernel/socket';
import { noProtocolError } from './heartbeat/errors';
import { Heartbeat } from './heartbeat/framed';
import { ProtocolMonitor, type Monitor } from './heartbeat/monitor';
import { checkHooks, checkKeepAliveOptions, heartbeatSettingsFor, type HeartbeatOptions, type KeepAliveLayersOptions, type Timing } from './heartbeat/options';

/** A layer `keepAlive()` can put in effect: kernel keepalive, or the application heartbeat. */
export type Layer = 'kernel' | 'heartbeat';
export type { Fallback, KeepAliveLayersOptions } from './heartbeat/options';

/** What `keepAlive()` put in effect. */
export interface KeepAliveLayers {
  /** what the kernel holds, null when the kernel layer is off or the socket is still connecting */
  kernel: KeepAliveState | null;
  /**
   * the heartbeat, null when it is not in effect; `stop()` ends it. A
   * Heartbeat (with 'message' and 'error' events and send()) when
   * heartbeat.framing was given: narrow it with `instanceof Heartbeat`.
   */
  heartbeat: Monitor | null;
  /** the layers in effect */
  layers: Layer[];
  /** why the kernel layer is not in effect, when it is not */
  kernelSkipped?: string;
}

/** Why the kernel cannot watch this socket as asked, or null if it can. */
function kernelObstacle(socket: unknown, idle: number, interval: number, count: number): { reason: string; code: 'no-fd' | 'sub-second' | 'too-large' } | null {
  if (!(socket instanceof net.Socket)) return { reason: 'the stream is not a TCP socket, so there is no socket option to set', code: 'no-fd' };
  if (isUnixDomain(socket)) return { reason: 'a Unix-domain socket has no TCP keepalive', code: 'no-fd' };
  try {
    const resolved = resolveSocket(socket);
    const throughNode = resolved.kind === 'handle-only' || !hasAddon();
    if (throughNode && !nodeTakesIntervalAndCount()) {
      const why = resolved.kind === 'fd' ? ' without the native addon' : '';
      return { reason: `Node.js ${process.version} on ${process.platform} sets only the idle delay${why}`, code: 'no-fd' };
    }
  } catch (error) {
    return { reason: (error as Error).message, code: 'no-fd' };
  }
  const limits = limitsFor();
  for (const [name, value, range] of [
    ['idle', idle, limits.idle],
    ['interval', interval, limits.interval],
  ] as const) {
    if (value / 1000 > range.max) return { reason: `${name} ${value} ms is above the kernel's ${range.max} s`, code: 'too-large' };
    if (value % 1000 !== 0) return { reason: `${name} ${value} ms is not whole seconds, and the kernel takes whole seconds`, code: 'sub-second' };
  }
  if (count > limits.count.max) return { reason: `count ${count} is above the kernel's ${limits.count.max}`, code: 'too-large' };
  return null;
}

/**
 * `options` is what the user passed (the key the settings are cached on),
 * `view` the heartbeat's options with the timing, as the monitor sees them.
 */
function startHeartbeat(socket: Duplex, options: KeepAliveLayersOptions, view: HeartbeatOptions & { ping?: () => unknown; busy?: () => boolean }, timing: Timing): Monitor {
  const { ping, busy, framing } = view;
  if (ping === undefined) {
    if (busy !== undefined) throw invalidValue('options.heartbeat', 'takes busy only with ping: the built-in framing has no requests of its own');
    return new Heartbeat(socket, view, heartbeatSettingsFor(options, view));
  }
  if (typeof ping !== 'function') throw invalidType('options.heartbeat.ping', 'a function', ping);
  if (framing !== undefined) throw invalidValue('options.heartbeat', 'takes framing or ping, not both: ping() means the protocol is the user\'s own');
  const monitor = new ProtocolMonitor(timing, {
    ...checkHooks({ ping, busy }, 'options.heartbeat'),
    destroy: (error) => socket.destroy(error),
    // Watching bytes read leaves the stream's reading to its owner.
    progress: socket instanceof net.Socket ? () => socket.bytesRead : undefined,
  });
  monitor.listen(socket, 'close', () => monitor.stop());
  return monitor;
}

/**
 * Watches a connection with kernel keepalive, the heartbeat, or both, as
 * `fallback` says, and reports which layers are in effect. One budget for
 * both: dead after idle + interval × count ms of silence. The kernel layer
 * also sets `userTimeout: 'auto'` where the platform has one.
 *
 * @throws `ERR_HEARTBEAT_NO_PROTOCOL` when the heartbeat is needed and
 *   `heartbeat` gives neither `framing` nor `ping` (nothing is set then);
 *   `ERR_TCP_KEEPALIVE_UNSUPPORTED` with fallback 'never' when the kernel
 *   cannot do what was asked; TypeError / RangeError naming the option.
 * @example
 * ```js
 * const { layers } = keepAlive(socket, { idle: 300, interval: 100, count: 2, heartbeat: { framing: 'compact' } });
 * // layers: ['heartbeat']: the kernel counts whole seconds
 * ```
 */
export function keepAlive(socket: net.Socket | Duplex, options: KeepAliveLayersOptions): KeepAliveLayers {
  if (!socket || typeof (socket as Duplex).on !== 'function') throw invalidType('socket', 'a net.Socket or another Duplex stream', socket);
  const { timing, fallback, heartbeat: hb, view } = checkKeepAliveOptions(options);
  const { idle, interval, count } = timing;
  const canHeartbeat = hb !== undefined && (hb.framing !== undefined || hb.ping !== undefined);

  const obstacle = kernelObstacle(socket, idle, interval, count);
  // 'always' keeps the kernel as a backstop even when it must round a
  // sub-second time up to a whole second.
  const wantKernel = obstacle === null || (fallback === 'always' && obstacle.code === 'sub-second');
  const wantHeartbeat = fallback === 'always' || (fallback === 'auto' && obstacle !== null);

  if (fallback === 'never' && obstacle) {
    throw unsupported(`Kernel keepalive cannot watch this connection as asked: ${obstacle.reason}; fallback 'auto' would use the heartbeat`);
  }
  if (wantHeartbeat && !canHeartbeat) {
    throw noProtocolError(
      fallback === 'always' ? "fallback 'always' asks for the heartbeat" : `The kernel cannot watch this connection as asked (${obstacle!.reason})`,
    );
  }
  // The heartbeat validates its own options, so it starts first; a kernel
  // failure then stops it again, and a refused call leaves nothing behind.
  const heartbeat = wantHeartbeat ? startHeartbeat(socket as Duplex, options, view, timing) : null;
  let kernel: KeepAliveState | null = null;
  try {
    // userTimeout 'auto': keepalive is silent while data is in flight, and
    // the user timeout drops such a connection within the same budget.
    const userTimeout = limitsFor().userTimeout && hasAddon() ? { userTimeout: 'auto' as const } : {};
    if (wantKernel) kernel = setKeepAlive(socket as net.Socket, { idle, interval, count, ...userTimeout });
  } catch (error) {
    heartbeat?.stop();
    throw error;
  }
  const layers: Layer[] = [];
  if (wantKernel) layers.push('kernel');
  if (heartbeat) layers.push('heartbeat');
  const result: KeepAliveLayers = { kernel, heartbeat, layers };
  if (!wantKernel && obstacle) result.kernelSkipped = obstacle.reason;
  return result;
}
