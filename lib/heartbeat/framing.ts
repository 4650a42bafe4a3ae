// The two wire framings of the built-in heartbeat, and a decoder that works
// on the byte stream: TCP splits and joins frames as it likes.
//
// classic: 1028 bytes per frame: type (uint32, network byte order), then a
//   1024-byte payload. PING 1, PONG 2; the classic C reference server sends
//   its PONG type in host byte order on little-endian machines (02 00 00 00),
//   which is read as a PONG too.
// compact: type (uint8), payload length (uint16, network byte order), then
//   the payload: a PING or PONG is 3 bytes.
import { invalidType, invalidValue, outOfRange } from '../errors';

export type Framing = 'classic' | 'compact';
export const FRAMINGS: readonly Framing[] = ['classic', 'compact'];

export const PING = 1;
export const PONG = 2;
/** PONG as the classic server writes it on a little-endian host */
export const HOST_ORDER_PONG = 0x02000000;

export const CLASSIC_FRAME = 1028;
export const CLASSIC_PAYLOAD = 1024;
export const COMPACT_HEADER = 3;
export const COMPACT_MAX_PAYLOAD = 0xffff;

/** Application message types each framing carries by default. */
export const MESSAGE_TYPES: Record<Framing, { min: number; max: number }> = {
  classic: { min: 3, max: 0xffff },
  compact: { min: 3, max: 0xff },
};

const HEADER: Record<Framing, number> = { classic: 4, compact: COMPACT_HEADER };

export type FrameKind = 'ping' | 'pong' | 'message' | 'unknown';

export function checkFraming(value: unknown, name: string): Framing {
  if (value === undefined) return 'classic';
  if (typeof value !== 'string') throw invalidType(name, "'classic' or 'compact'", value);
  if (!(FRAMINGS as readonly string[]).includes(value)) throw invalidValue(name, `must be 'classic' or 'compact'. Received ${JSON.stringify(value)}`);
  return value as Framing;
}

/** Checks an application message type against what the framing can carry. */
export function checkMessageType(framing: Framing, type: unknown, name = 'type'): number {
  const { min, max } = MESSAGE_TYPES[framing];
  const text = `an integer from ${min} to ${max} (${framing} framing; 1 and 2 are PING and PONG)`;
  if (typeof type !== 'number') throw invalidType(name, text, type);
  if (!Number.isInteger(type) || type < min || type > max) throw outOfRange(name, text, type);
  return type;
}

export function toPayload(framing: Framing, payload: unknown, name = 'payload'): Uint8Array {
  if (payload === undefined) return new Uint8Array(0);
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (!(bytes instanceof Uint8Array)) throw invalidType(name, 'a Buffer, Uint8Array or string', payload);
  const max = framing === 'classic' ? CLASSIC_PAYLOAD : COMPACT_MAX_PAYLOAD;
  if (bytes.length > max) throw outOfRange(`${name}.length`, `at most ${max} bytes in the ${framing} framing`, bytes.length);
  return bytes;
}

/** One frame; a classic payload shorter than 1024 bytes is padded with zeros. */
export function encode(framing: Framing, type: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  if (framing === 'classic') {
    const frame = Buffer.alloc(CLASSIC_FRAME);
    frame.writeUInt32BE(type, 0);
    frame.set(payload, 4);
    return frame;
  }
  const frame = Buffer.allocUnsafe(COMPACT_HEADER + payload.length);
  frame.writeUInt8(type, 0);
  frame.writeUInt16BE(payload.length, 1);
  frame.set(payload, COMPACT_HEADER);
  return frame;
}

/** A PING carrying its sequence number (uint32, network order); the PONG echoes the payload. */
export function encodePing(framing: Framing, seq: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(seq >>> 0, 0);
  return encode(framing, PING, payload);
}

/** The PONG for a PING's payload: the payload echoed, so the peer can match it. */
export function encodePong(framing: Framing, pingPayload: Buffer): Buffer {
  return encode(framing, PONG, framing === 'classic' ? pingPayload : pingPayload.subarray(0, 4));
}

/** The sequence number a PONG echoes; 0 when the peer echoed none. */
export function echoedSeq(payload: Buffer): number {
  return payload.length >= 4 ? payload.readUInt32BE(0) : 0;
}

export function classify(framing: Framing, type: number, messageTypes: ReadonlySet<number> | null): FrameKind {
  if (type === PING) return 'ping';
  if (type === PONG || (framing === 'classic' && type === HOST_ORDER_PONG)) return 'pong';
  if (messageTypes) return messageTypes.has(type) ? 'message' : 'unknown';
  const { min, max } = MESSAGE_TYPES[framing];
  return type >= min && type <= max ? 'message' : 'unknown';
}

/**
 * Turns a byte stream into frames. Holds at most one incomplete frame:
 * bytes past it stay in the caller's chunk until they are needed.
 */
export class Decoder {
  private pending: Buffer | null = null;
  private filled = 0;
  private stopped = false;
  private readonly header: number;

  constructor(
    readonly framing: Framing,
    private readonly onFrame: (type: number, payload: Buffer) => void,
  ) {
    this.header = HEADER[framing];
  }

  /** Drops a partial frame and delivers nothing more. */
  stop(): void {
    this.stopped = true;
    this.pending = null;
  }

  /** Bytes of an incomplete frame held, for tests and diagnostics. */
  get buffered(): number {
    return this.filled;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    if (this.pending) {
      offset = this.fill(chunk);
      if (this.pending) return;
    }
    while (!this.stopped && chunk.length - offset >= this.header) {
      const size = this.sizeAt(chunk, offset);
      if (chunk.length - offset < size) break;
      this.deliver(chunk.subarray(offset, offset + size));
      offset += size;
    }
    if (this.stopped || offset === chunk.length) return;
    const rest = chunk.length - offset;
    this.pending = Buffer.allocUnsafe(rest >= this.header ? this.sizeAt(chunk, offset) : this.header);
    this.filled = chunk.copy(this.pending, 0, offset);
  }

  private sizeAt(bytes: Buffer, offset: number): number {
    return this.framing === 'classic' ? CLASSIC_FRAME : COMPACT_HEADER + bytes.readUInt16BE(offset + 1);
  }

  /** Completes the pending frame from the chunk; returns the bytes taken. */
  private fill(chunk: Buffer): number {
    let used = 0;
    if (this.filled < this.header) {
      used = chunk.copy(this.pending!, this.filled, 0, Math.min(chunk.length, this.header - this.filled));
      this.filled += used;
      if (this.filled < this.header) return used;
      const size = this.sizeAt(this.pending!, 0);
      if (size > this.pending!.length) {
        const grown = Buffer.allocUnsafe(size);
        this.pending!.copy(grown, 0, 0, this.header);
        this.pending = grown;
      }
    }
    const pending = this.pending!;
    const taken = chunk.copy(pending, this.filled, used, used + pending.length - this.filled);
    this.filled += taken;
    used += taken;
    if (this.filled === pending.length) {
      this.pending = null;
      this.filled = 0;
      this.deliver(pending);
    }
    return used;
  }

  private deliver(frame: Buffer): void {
    const classic = this.framing === 'classic';
    const type = classic ? frame.readUInt32BE(0) : frame[0];
    this.onFrame(type, frame.subarray(this.header));
  }
}
