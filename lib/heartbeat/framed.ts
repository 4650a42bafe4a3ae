// The built-in heartbeat: PING/PONG frames in a stream both ends own.
import type { Duplex } from 'node:stream';
import { invalidType, invalidValue } from '../errors';
import { unknownTypeError, type HeartbeatTimeoutError, type UnknownTypeError } from './errors';
import {
  checkMessageType,
  classify,
  decode,
  encode,
  encodePing,
  encodePong,
  MESSAGE_TYPES,
  PING_PAYLOAD,
  toPayload,
  type Framing,
  type PartialFrame,
} from './framing';
import { Monitor, type MonitorEvents } from './monitor';
import { heartbeatSettingsFor, type HeartbeatOptions, type HeartbeatSettings as Settings } from './options';
import { clock } from './scheduler';

export type { HeartbeatOptions } from './options';

function checkStream(socket: unknown): Duplex {
  const s = socket as Duplex;
  if (!s || typeof s.on !== 'function' || typeof s.write !== 'function' || typeof s.destroy !== 'function') {
    throw invalidType('socket', 'a net.Socket or another Duplex stream', socket);
  }
  if (s.destroyed) throw invalidValue('socket', 'is already destroyed');
  if ((s as Watched)[kHeartbeat]) throw invalidValue('socket', 'already has a heartbeat: stop() it first');
  return s;
}

// The socket points to its heartbeat, so one listener function serves every
// socket: no closures per connection.
const kHeartbeat = Symbol('tcp-keepalive heartbeat');
type Watched = Duplex & { [kHeartbeat]?: Heartbeat };

function onSocketData(this: Watched, chunk: Buffer): void {
  this[kHeartbeat]?.receive(chunk);
}

function onSocketClose(this: Watched): void {
  this[kHeartbeat]?.stop();
}

function onSocketDrain(this: Watched): void {
  const hb = this[kHeartbeat];
  const pong = hb && waitingPongs.get(hb);
  if (!pong) return;
  waitingPongs.delete(hb);
  if (this.writable) this.write(pong);
}

// The rare incomplete frame lives here rather than in a field of every heartbeat.
// Heartbeat is a DecodeState without saying `implements`: those members are
// internal and stripped from the typings, where the clause would not hold.
const partials = new Map<Heartbeat, PartialFrame>();

// The PONG held while the socket's write buffer is full: the latest one,
// sent at 'drain'. Dropping them all would get a busy peer declared dead.
const waitingPongs = new Map<Heartbeat, Buffer>();

/** The events of a Heartbeat: a Monitor's and two more. */
export interface HeartbeatEvents extends MonitorEvents {
  /** an application frame: its type and payload */
  message: [type: number, payload: Buffer];
  /** a frame of a type nobody declared (code ERR_HEARTBEAT_UNKNOWN_TYPE) */
  error: [error: UnknownTypeError];
}

/**
 * Events of a Monitor, plus 'message' (type, payload) for application
 * frames and 'error' (code ERR_HEARTBEAT_UNKNOWN_TYPE) for frames of an
 * unknown type. Without an 'error' listener, such an error destroys the
 * socket with it, as a stream error would.
 */
export class Heartbeat extends Monitor<HeartbeatEvents> {
  /** @internal the one incomplete frame held */
  get partial(): PartialFrame | null {
    return partials.size === 0 ? null : (partials.get(this) ?? null);
  }
  set partial(partial: PartialFrame | null) {
    if (partial) partials.set(this, partial);
    else partials.delete(this);
  }

  /** `settings`: for keepAlive(), which keys them on its own options */
  constructor(
    readonly socket: Duplex,
    options: HeartbeatOptions = {},
    settings: Settings = heartbeatSettingsFor(options),
  ) {
    checkStream(socket);
    super(settings);
    (socket as Watched)[kHeartbeat] = this;
    socket.on('data', onSocketData);
    socket.on('close', onSocketClose);
  }

  get framing(): Framing {
    return (this.timing as Settings).framing;
  }

  /** Sends an application message to the peer; its heartbeat emits 'message'. */
  send(type: number, payload?: Buffer | Uint8Array | string): boolean {
    const framing = this.framing;
    return this.socket.write(encode(framing, checkMessageType(framing, type), toPayload(framing, payload)));
  }

  /** @internal bytes from the socket */
  receive(chunk: Buffer): void {
    // Decoded first: a PONG must still see its PINGs outstanding, for the rtt.
    decode(this, this.framing, chunk);
    if (!this.timing.onlyPong && this.active) this.seen = clock();
  }

  protected override detach(): void {
    this.partial = null;
    if (waitingPongs.delete(this)) this.socket.off('drain', onSocketDrain);
    // Set rather than deleted: deleting would slow every later property access on the socket.
    (this.socket as Watched)[kHeartbeat] = undefined;
    this.socket.off('data', onSocketData);
    this.socket.off('close', onSocketClose);
  }

  protected override sendPing(): void {
    if (this.socket.writable) this.socket.write(encodePing(this.framing, this.seq));
  }

  protected override destroyConnection(error: HeartbeatTimeoutError): void {
    this.socket.destroy(error);
  }

  /** @internal one decoded frame; false once stopped */
  frame(type: number, bytes: Buffer, start: number, end: number): boolean {
    const settings = this.timing as Settings;
    switch (classify(settings.framing, type, settings.messageTypes)) {
      case 'ping':
        this.answer(encodePong(settings.framing, bytes.subarray(start, end)));
        break;
      case 'pong':
        this.pong(this.echoedRtt(bytes, start, end));
        break;
      case 'message':
        if (this.listenerCount('message') > 0) this.emit('message', type, bytes.subarray(start, end));
        break;
      case 'unknown':
        if (!settings.ignoreUnknown) this.fail(unknownTypeError(type, settings.framing, this.known()));
    }
    return this.active;
  }

  /** Sends a PONG, or holds it (the latest only) until the write buffer drains. */
  private answer(pong: Buffer): void {
    const socket = this.socket;
    if (!socket.writable) return;
    if (!socket.writableNeedDrain) {
      socket.write(pong);
      return;
    }
    if (!waitingPongs.has(this)) socket.once('drain', onSocketDrain);
    waitingPongs.set(this, pong);
  }

  /** The rtt from the send time the PONG echoes, if it echoes one of ours. */
  private echoedRtt(bytes: Buffer, start: number, end: number): number | undefined {
    if (end - start < PING_PAYLOAD) return undefined;
    const seq = bytes.readUInt32BE(start);
    const sentAt = bytes.readDoubleBE(start + 4);
    const now = performance.now();
    // A peer that does not echo (the classic C server) sends other bytes here.
    if (seq === 0 || seq > this.seq || !(sentAt > 0 && sentAt <= now)) return undefined;
    return now - sentAt;
  }

  private known(): string {
    const settings = this.timing as Settings;
    if (settings.messageTypes) return `PING 1, PONG 2, messages ${[...settings.messageTypes].join(', ') || 'none'}`;
    const { min, max } = MESSAGE_TYPES[settings.framing];
    return `PING 1, PONG 2, messages ${min}..${max}`;
  }

  private fail(error: UnknownTypeError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.socket.destroy(error);
  }
}

/**
 * Starts the built-in heartbeat on a stream whose both ends use this
 * package's framing: it takes the stream over (application data travels as
 * 'message' frames and `send()`), answers the peer's PINGs, sends its own
 * after `idle` ms of silence and every `interval` ms while unanswered, and
 * after `count` unanswered PINGs emits 'dead' and destroys the stream with
 * an `ERR_HEARTBEAT_TIMEOUT` error. Times in ms.
 *
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` naming
 *   the option; RangeError `ERR_OUT_OF_RANGE` for a time out of range.
 * @example
 * ```js
 * const hb = heartbeat(socket, { idle: 1000, interval: 500, count: 3, framing: 'compact' });
 * hb.on('dead', (err) => console.error(err.code)); // ERR_HEARTBEAT_TIMEOUT
 * ```
 */
export function heartbeat(socket: Duplex, options: HeartbeatOptions = {}): Heartbeat {
  return new Heartbeat(socket, options);
}
