// Heartbeat errors, made by the core's factory (lib/errors.ts): an Error with
// a Node-style `code` users can switch on.
import { coded } from '../errors';

export type HeartbeatErrorCode = 'ERR_HEARTBEAT_TIMEOUT' | 'ERR_HEARTBEAT_UNKNOWN_TYPE' | 'ERR_HEARTBEAT_NO_PROTOCOL';

/** A heartbeat's verdict: `count` PINGs went unanswered; emitted with 'dead', and the socket destroyed with it (unless destroyOnDead is false). */
export interface HeartbeatTimeoutError extends Error {
  /** always 'ERR_HEARTBEAT_TIMEOUT' */
  code: 'ERR_HEARTBEAT_TIMEOUT';
  /** PINGs sent without an answer */
  probes: number;
  /** ms since anything (or, with onlyPong, a PONG) was last received */
  sinceLastReceived: number;
}

/** `heartbeat()` received a frame of a type it was not told about; emitted as 'error', and decoding goes on. */
export interface UnknownTypeError extends Error {
  /** always 'ERR_HEARTBEAT_UNKNOWN_TYPE' */
  code: 'ERR_HEARTBEAT_UNKNOWN_TYPE';
  /** the type field as read from the wire */
  type: number;
}

export function timeoutError(probes: number, sinceLastReceived: number): HeartbeatTimeoutError {
  const error = new Error(
    `Heartbeat timeout: ${probes} PING${probes === 1 ? '' : 's'} unanswered, nothing received for ${sinceLastReceived} ms`,
  );
  return coded(error, 'ERR_HEARTBEAT_TIMEOUT', { probes, sinceLastReceived });
}

export function unknownTypeError(type: number, framing: string, known: string): UnknownTypeError {
  const error = new Error(
    `Heartbeat received a ${framing} frame of unknown type ${type} (0x${type.toString(16).padStart(framing === 'classic' ? 8 : 2, '0')}); ` +
      `known: ${known}. The frame was skipped; pass unknownTypes: 'ignore' to skip such frames silently`,
  );
  return coded(error, 'ERR_HEARTBEAT_UNKNOWN_TYPE', { type });
}

export function noProtocolError(why: string): Error & { code: 'ERR_HEARTBEAT_NO_PROTOCOL' } {
  const error = new Error(
    `${why}, and the heartbeat never writes into a stream whose protocol it does not own: ` +
      `pass heartbeat: { framing: 'classic' | 'compact' } when both ends use this package's framing, or heartbeat: { ping } to use the protocol's own ping`,
  );
  return coded(error, 'ERR_HEARTBEAT_NO_PROTOCOL');
}
