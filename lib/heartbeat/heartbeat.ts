// The built-in heartbeat: PING/PONG frames in a stream both ends own.
import type { Duplex } from 'node:stream';
import { invalidType, invalidValue } from '../errors';
import { unknownTypeError, type HeartbeatTimeoutError } from './errors';
import {
  checkFraming,
  checkMessageType,
  classify,
  Decoder,
  echoedSeq,
  encode,
  encodePing,
  encodePong,
  MESSAGE_TYPES,
  toPayload,
  type Framing,
} from './framing';
import { Monitor, type MonitorTiming } from './monitor';

export interface HeartbeatOptions extends MonitorTiming {
  /** wire framing both ends speak (default 'classic', the 1028-byte frames) */
  framing?: Framing;
  /** a frame of a type nobody declared: 'error' event (default) or skipped silently */
  unknownTypes?: 'error' | 'ignore';
  /** application message types accepted (default: 3..65535 classic, 3..255 compact) */
  messageTypes?: Iterable<number>;
}

function checkOptions(options: unknown): { framing: Framing; ignoreUnknown: boolean; messageTypes: ReadonlySet<number> | null } {
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object with idle, interval and count', options);
  const o = options as HeartbeatOptions;
  const framing = checkFraming(o.framing, 'options.framing');
  if (o.unknownTypes !== undefined && o.unknownTypes !== 'error' && o.unknownTypes !== 'ignore') {
    throw invalidValue('options.unknownTypes', `must be 'error' or 'ignore'. Received ${String(o.unknownTypes)}`);
  }
  let messageTypes: Set<number> | null = null;
  if (o.messageTypes !== undefined) {
    if (o.messageTypes === null || typeof (o.messageTypes as Iterable<number>)[Symbol.iterator] !== 'function') {
      throw invalidType('options.messageTypes', 'an iterable of integers', o.messageTypes);
    }
    messageTypes = new Set([...o.messageTypes].map((t) => checkMessageType(framing, t, 'options.messageTypes[]')));
  }
  return { framing, ignoreUnknown: o.unknownTypes === 'ignore', messageTypes };
}

function checkStream(socket: unknown): Duplex {
  const s = socket as Duplex;
  if (!s || typeof s.on !== 'function' || typeof s.write !== 'function' || typeof s.destroy !== 'function') {
    throw invalidType('socket', 'a net.Socket or another Duplex stream', socket);
  }
  if (s.destroyed) throw invalidValue('socket', 'is already destroyed');
  return s;
}

/**
 * Events of a Monitor, plus 'message' (type, payload) for application
 * frames and 'error' (code ERR_HEARTBEAT_UNKNOWN_TYPE) for frames of an
 * unknown type. Without an 'error' listener, such an error destroys the
 * socket with it, as a stream error would.
 */
export class Heartbeat extends Monitor {
  readonly framing: Framing;
  private readonly decoder: Decoder;
  private readonly ignoreUnknown: boolean;
  private readonly messageTypes: ReadonlySet<number> | null;
  private readonly onData: (chunk: Buffer) => void;
  private readonly onClose: () => void;

  constructor(
    readonly socket: Duplex,
    options: HeartbeatOptions = {},
  ) {
    const checked = checkOptions(options);
    checkStream(socket);
    super(options, true);
    this.framing = checked.framing;
    this.ignoreUnknown = checked.ignoreUnknown;
    this.messageTypes = checked.messageTypes;
    this.decoder = new Decoder(this.framing, (type, payload) => this.onFrame(type, payload));
    this.onData = (chunk) => {
      this.alive();
      this.decoder.push(chunk);
    };
    this.onClose = () => this.stop();
    socket.on('data', this.onData);
    socket.on('close', this.onClose);
  }

  /** Sends an application message to the peer; its heartbeat emits 'message'. */
  send(type: number, payload?: Buffer | Uint8Array | string): boolean {
    const checkedType = checkMessageType(this.framing, type);
    return this.socket.write(encode(this.framing, checkedType, toPayload(this.framing, payload)));
  }

  protected override detach(): void {
    this.decoder.stop();
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onClose);
  }

  protected override sendPing(): void {
    if (this.socket.writable) this.socket.write(encodePing(this.framing, this.seq));
  }

  protected override destroyConnection(error: HeartbeatTimeoutError): void {
    this.socket.destroy(error);
  }

  private onFrame(type: number, payload: Buffer): void {
    switch (classify(this.framing, type, this.messageTypes)) {
      case 'ping':
        if (this.socket.writable) this.socket.write(encodePong(this.framing, payload));
        return;
      case 'pong':
        this.pong(echoedSeq(payload));
        return;
      case 'message':
        this.emit('message', type, payload);
        return;
      case 'unknown':
        if (this.ignoreUnknown) return;
        this.fail(unknownTypeError(type, this.framing, this.known()));
    }
  }

  private known(): string {
    if (this.messageTypes) return `PING 1, PONG 2, messages ${[...this.messageTypes].join(', ') || 'none'}`;
    const { min, max } = MESSAGE_TYPES[this.framing];
    return `PING 1, PONG 2, messages ${min}..${max}`;
  }

  private fail(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.socket.destroy(error);
  }
}

/** Starts the built-in heartbeat on a stream whose both ends use this package's framing. */
export function heartbeat(socket: Duplex, options: HeartbeatOptions = {}): Heartbeat {
  return new Heartbeat(socket, options);
}
