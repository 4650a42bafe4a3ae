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

/**
 * The heartbeat's wire format. 'classic': 1028-byte frames, a uint32 type
 * then a 1024-byte payload (the classic C ping-pong programs); 'compact': a
 * uint8 type, a uint16 payload length, then the payload.
 */
export type Framing = 'classic' | 'compact';
export const FRAMINGS: readonly Framing[] = ['classic', 'compact'];

/** The frame type of a PING (both framings). */
export const PING = 1;
/** The frame type of a PONG (both framings). */
export const PONG = 2;
/** PONG as the classic server writes it on a little-endian host */
export const HOST_ORDER_PONG = 0x02000000;

/** Bytes in every classic frame: a 4-byte type and a 1024-byte payload. */
export const CLASSIC_FRAME = 1028;
export const CLASSIC_PAYLOAD = 1024;
/** Bytes of a compact frame's header: type (1) and payload length (2). */
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

/**
 * A PING's payload: its sequence number (uint32) and the sender's clock when
 * it left (float64 ms, performance.now()), both in network byte order. The
 * peer echoes the payload in its PONG, so the sender gets the rtt of the
 * very PING answered without keeping a record of its PINGs.
 */
export const PING_PAYLOAD = 12;

/** A PING frame carrying `seq` and the time it is sent (ms, `performance.now()`), for the rtt of its PONG. */
export function encodePing(framing: Framing, seq: number, sentAt = performance.now()): Buffer {
  // Written in place: one allocation per PING.
  const header = HEADER[framing];
  const frame = framing === 'classic' ? Buffer.alloc(CLASSIC_FRAME) : Buffer.allocUnsafe(COMPACT_HEADER + PING_PAYLOAD);
  if (framing === 'classic') frame.writeUInt32BE(PING, 0);
  else {
    frame[0] = PING;
    frame.writeUInt16BE(PING_PAYLOAD, 1);
  }
  frame.writeUInt32BE(seq >>> 0, header);
  frame.writeDoubleBE(sentAt, header + 4);
  return frame;
}

/** The PONG for a PING: its payload echoed (the first 12 bytes in the compact framing). */
export function encodePong(framing: Framing, pingPayload: Uint8Array): Buffer {
  return encode(framing, PONG, framing === 'classic' ? pingPayload : pingPayload.subarray(0, PING_PAYLOAD));
}

export function classify(framing: Framing, type: number, messageTypes: ReadonlySet<number> | null): FrameKind {
  if (type === PING) return 'ping';
  if (type === PONG || (framing === 'classic' && type === HOST_ORDER_PONG)) return 'pong';
  if (messageTypes) return messageTypes.has(type) ? 'message' : 'unknown';
  const { min, max } = MESSAGE_TYPES[framing];
  return type >= min && type <= max ? 'message' : 'unknown';
}

/** A frame not yet complete: its bytes so far. */
export interface PartialFrame {
  bytes: Buffer;
  filled: number;
}

/** What decode() works on: the one incomplete frame a connection may hold. */
export interface DecodeState {
  partial: PartialFrame | null;
  /** One frame: its type and its payload as bytes[start, end). False stops decoding. */
  frame(type: number, bytes: Buffer, start: number, end: number): boolean;
}

const sizeAt = (framing: Framing, bytes: Buffer, offset: number): number =>
  framing === 'classic' ? CLASSIC_FRAME : COMPACT_HEADER + bytes.readUInt16BE(offset + 1);

function deliver(state: DecodeState, framing: Framing, bytes: Buffer, offset: number, size: number): boolean {
  const type = framing === 'classic' ? bytes.readUInt32BE(offset) : bytes[offset];
  return state.frame(type, bytes, offset + HEADER[framing], offset + size);
}

/**
 * Turns a byte stream into frames, however TCP split or joined them. Holds
 * at most one incomplete frame: bytes past it are read from the chunk in place.
 */
export function decode(state: DecodeState, framing: Framing, chunk: Buffer): void {
  const header = HEADER[framing];
  let offset = 0;
  if (state.partial) {
    offset = fill(state, state.partial, framing, chunk);
    if (offset < 0) return;
  }
  while (chunk.length - offset >= header) {
    const size = sizeAt(framing, chunk, offset);
    if (chunk.length - offset < size) break;
    if (!deliver(state, framing, chunk, offset, size)) return;
    offset += size;
  }
  if (offset === chunk.length) return;
  const rest = chunk.length - offset;
  const bytes = Buffer.allocUnsafe(rest >= header ? sizeAt(framing, chunk, offset) : header);
  state.partial = { bytes, filled: chunk.copy(bytes, 0, offset) };
}

/** Completes the pending frame from the chunk: the bytes taken, or -1 when done with the chunk. */
function fill(state: DecodeState, partial: PartialFrame, framing: Framing, chunk: Buffer): number {
  const header = HEADER[framing];
  let used = 0;
  if (partial.filled < header) {
    used = chunk.copy(partial.bytes, partial.filled, 0, Math.min(chunk.length, header - partial.filled));
    partial.filled += used;
    if (partial.filled < header) return -1;
    const size = sizeAt(framing, partial.bytes, 0);
    if (size > partial.bytes.length) {
      const grown = Buffer.allocUnsafe(size);
      partial.bytes.copy(grown, 0, 0, header);
      partial.bytes = grown;
    }
  }
  const bytes = partial.bytes;
  const taken = chunk.copy(bytes, partial.filled, used, used + bytes.length - partial.filled);
  partial.filled += taken;
  used += taken;
  if (partial.filled < bytes.length) return -1;
  state.partial = null;
  return deliver(state, framing, bytes, 0, bytes.length) ? used : -1;
}

/** decode() for callers that want each frame as (type, payload). */
export class Decoder implements DecodeState {
  partial: PartialFrame | null = null;
  private stopped = false;

  constructor(
    readonly framing: Framing,
    private readonly onFrame: (type: number, payload: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    if (!this.stopped) decode(this, this.framing, chunk);
  }

  /** Drops a partial frame and delivers nothing more. */
  stop(): void {
    this.stopped = true;
    this.partial = null;
  }

  /** Bytes of an incomplete frame held. */
  get buffered(): number {
    return this.partial?.filled ?? 0;
  }

  frame(type: number, bytes: Buffer, start: number, end: number): boolean {
    this.onFrame(type, bytes.subarray(start, end));
    return !this.stopped;
  }
}
