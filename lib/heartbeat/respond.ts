// The server side of the built-in heartbeat when it does not run a
// heartbeat of its own: answers every PING with a PONG.
import type { Duplex } from 'node:stream';
import { invalidType } from '../errors';
import { classify, Decoder, encodePong } from './framing';
import { checkRespondOptions, type RespondOptions } from './options';

export type { RespondOptions } from './options';

/**
 * Answers PINGs on the socket until the socket closes or the returned
 * function is called. At most one PONG waits per connection, whatever the
 * peer sends: while one waits (for `delay`, or for the write buffer to
 * drain), a newer PING takes its place, and that one PONG answers the latest.
 */
export function respond(socket: Duplex, options: RespondOptions = {}): () => void {
  if (!socket || typeof socket.on !== 'function' || typeof socket.write !== 'function') {
    throw invalidType('socket', 'a net.Socket or another Duplex stream', socket);
  }
  const { delay, framing, onFrame } = checkRespondOptions(options);

  /** the PING payload to answer next, when a PONG waits */
  let latest: Buffer | null = null;
  let timer: NodeJS.Timeout | null = null;
  let draining = false;
  const flush = () => {
    timer = null;
    if (latest === null || draining || !socket.writable) return;
    if (socket.writableNeedDrain) {
      draining = true;
      socket.once('drain', onDrain);
      return;
    }
    socket.write(encodePong(framing, latest));
    latest = null;
  };
  const onDrain = () => {
    draining = false;
    flush();
  };
  const decoder = new Decoder(framing, (type, payload) => {
    onFrame?.(type, payload);
    if (classify(framing, type, null) !== 'ping') return;
    // The payload is a view into a chunk Node does not reuse: safe to keep.
    latest = payload;
    if (delay === 0) flush();
    else timer ??= setTimeout(flush, delay);
  });
  const onData = (chunk: Buffer) => decoder.push(chunk);
  const stop = () => {
    decoder.stop();
    if (timer) clearTimeout(timer);
    timer = null;
    latest = null;
    socket.off('drain', onDrain);
    socket.off('data', onData);
    socket.off('close', stop);
  };
  socket.on('data', onData);
  socket.on('close', stop);
  return stop;
}
