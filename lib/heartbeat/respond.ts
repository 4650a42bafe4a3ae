// The server side of the built-in heartbeat when it does not run a
// heartbeat of its own: answers every PING with a PONG.
import type { Duplex } from 'node:stream';
import { invalidType } from '../errors';
import { classify, Decoder, encodePong } from './framing';
import { checkRespondOptions, type RespondOptions } from './options';

export type { RespondOptions } from './options';

/**
 * Answers PINGs on the socket until the socket closes or the returned
 * function is called. Each PONG goes out `delay` ms after the PING it
 * answers, and at most one waits per connection, whatever the peer sends:
 * of the PINGs that arrive while it waits, only the latest is remembered,
 * to be answered next. A PONG held by a full write buffer likewise gives way
 * to a newer one, sent at 'drain'.
 *
 * @throws TypeError `ERR_INVALID_ARG_TYPE` / `ERR_INVALID_ARG_VALUE` naming
 *   the option; RangeError `ERR_OUT_OF_RANGE` for a `delay` out of range.
 * @example
 * ```js
 * net.createServer((socket) => respond(socket, { framing: 'compact' })).listen(7000);
 * ```
 */
export function respond(socket: Duplex, options: RespondOptions = {}): () => void {
  if (!socket || typeof socket.on !== 'function' || typeof socket.write !== 'function') {
    throw invalidType('socket', 'a net.Socket or another Duplex stream', socket);
  }
  const { delay, framing, onFrame } = checkRespondOptions(options);

  // Payloads are views into chunks Node does not reuse: safe to keep.
  /** the PING the waiting PONG answers (its delay running, or the write buffer full) */
  let waiting: Buffer | null = null;
  /** the latest PING that arrived while one waited, and when */
  let next: Buffer | null = null;
  let nextAt = 0;
  let timer: NodeJS.Timeout | null = null;
  let draining = false;

  const send = () => {
    timer = null;
    if (waiting === null || !socket.writable) return;
    if (socket.writableNeedDrain) {
      if (!draining) socket.once('drain', onDrain);
      draining = true;
      return;
    }
    socket.write(encodePong(framing, waiting));
    waiting = null;
    if (next !== null) wait(next, nextAt);
  };
  const onDrain = () => {
    draining = false;
    send();
  };
  const wait = (payload: Buffer, at: number) => {
    waiting = payload;
    next = null;
    if (delay === 0) send();
    else timer = setTimeout(send, Math.max(0, at + delay - performance.now()));
  };
  const decoder = new Decoder(framing, (type, payload) => {
    onFrame?.(type, payload);
    if (classify(framing, type, null) !== 'ping') return;
    if (waiting === null) return wait(payload, performance.now());
    if (draining) {
      // The buffer is full: the newest answer replaces the held one.
      waiting = payload;
      return;
    }
    next = payload;
    nextAt = performance.now();
  });
  const onData = (chunk: Buffer) => decoder.push(chunk);
  const stop = () => {
    decoder.stop();
    if (timer) clearTimeout(timer);
    timer = null;
    waiting = next = null;
    socket.off('drain', onDrain);
    socket.off('data', onData);
    socket.off('close', stop);
  };
  socket.on('data', onData);
  socket.on('close', stop);
  return stop;
}
