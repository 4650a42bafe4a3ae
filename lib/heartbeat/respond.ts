// The server side of the built-in heartbeat when it does not run a
// heartbeat of its own: answers every PING with a PONG.
import type { Duplex } from 'node:stream';
import { invalidType, outOfRange } from '../errors';
import { MAX_TIMER_MS } from '../time';
import { checkFraming, classify, Decoder, encodePong, type Framing } from './framing';

export interface RespondOptions {
  /** ms to wait before each PONG, for tests and demonstrations (default 0) */
  delay?: number;
  framing?: Framing;
  /** every frame received, PINGs included: for logging (the CLI prints them) */
  onFrame?: (type: number, payload: Buffer) => void;
}


/** Answers PINGs on the socket until the socket closes or the returned function is called. */
export function respond(socket: Duplex, options: RespondOptions = {}): () => void {
  if (!socket || typeof socket.on !== 'function' || typeof socket.write !== 'function') {
    throw invalidType('socket', 'a net.Socket or another Duplex stream', socket);
  }
  if (options === null || typeof options !== 'object') throw invalidType('options', 'an object', options);
  const delay = options.delay ?? 0;
  const delayText = `an integer from 0 to ${MAX_TIMER_MS} (ms)`;
  if (typeof delay !== 'number') throw invalidType('options.delay', delayText, delay);
  if (!Number.isInteger(delay) || delay < 0 || delay > MAX_TIMER_MS) throw outOfRange('options.delay', delayText, delay);
  const framing = checkFraming(options.framing, 'options.framing');
  const onFrame = options.onFrame;
  if (onFrame !== undefined && typeof onFrame !== 'function') throw invalidType('options.onFrame', 'a function', onFrame);

  const delayed = new Set<NodeJS.Timeout>();
  const answer = (payload: Buffer) => {
    if (socket.writable && !socket.writableNeedDrain) socket.write(encodePong(framing, payload));
  };
  const decoder = new Decoder(framing, (type, payload) => {
    onFrame?.(type, payload);
    if (classify(framing, type, null) !== 'ping') return;
    if (delay === 0) return answer(payload);
    // The payload is a view into a chunk Node does not reuse: safe to keep.
    const timer = setTimeout(() => {
      delayed.delete(timer);
      answer(payload);
    }, delay);
    delayed.add(timer);
  });
  const onData = (chunk: Buffer) => decoder.push(chunk);
  const stop = () => {
    decoder.stop();
    for (const timer of delayed) clearTimeout(timer);
    delayed.clear();
    socket.off('data', onData);
    socket.off('close', stop);
  };
  socket.on('data', onData);
  socket.on('close', stop);
  return stop;
}
