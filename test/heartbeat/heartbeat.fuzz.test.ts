// The heartbeat's decoder and its peer-facing side under hostile input:
// random bytes, truncated and maximal frames, unknown types, floods, first
// straight into the decoder (thousands of cases), then from a real peer over
// loopback TCP. Nothing a peer sends may crash the process, grow memory past
// one frame, or pass without a clear error.
import { EventEmitter, once } from 'node:events';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Decoder, getKeepAlive, heartbeat, http2Heartbeat, keepAlive, monitor, respond, wsHeartbeat, type Framing } from '../../lib';
import { connectedPair, listen } from '../support/sockets';

// The wire format as documented (lib/heartbeat/framing.ts, docs/heartbeat.md):
// classic = uint32 BE type + 1024-byte payload; compact = uint8 type +
// uint16 BE length + payload. PING 1, PONG 2 (classic also 0x02000000),
// application messages 3..65535 (classic) or 3..255 (compact).
const HEADER = { classic: 4, compact: 3 } as const;
const LARGEST_FRAME = { classic: 1028, compact: 3 + 0xffff } as const;
const FRAMINGS: Framing[] = ['classic', 'compact'];

interface Frame {
  type: number;
  payload: Buffer;
}

/** Splits bytes into whole frames and the length of the incomplete rest, written from the format alone. */
function referenceParse(framing: Framing, bytes: Buffer): { frames: Frame[]; rest: number } {
  const frames: Frame[] = [];
  let at = 0;
  for (;;) {
    const left = bytes.length - at;
    if (left < HEADER[framing]) break;
    const size = framing === 'classic' ? 1028 : 3 + bytes.readUInt16BE(at + 1);
    if (left < size) break;
    const type = framing === 'classic' ? bytes.readUInt32BE(at) : bytes[at];
    frames.push({ type, payload: Buffer.from(bytes.subarray(at + HEADER[framing], at + size)) });
    at += size;
  }
  return { frames, rest: bytes.length - at };
}

function kind(framing: Framing, type: number): 'ping' | 'pong' | 'message' | 'unknown' {
  if (type === 1) return 'ping';
  if (type === 2 || (framing === 'classic' && type === 0x02000000)) return 'pong';
  return type >= 3 && type <= (framing === 'classic' ? 0xffff : 0xff) ? 'message' : 'unknown';
}

function frameBytes(framing: Framing, type: number, payload: Uint8Array): Buffer {
  if (framing === 'classic') {
    const out = Buffer.alloc(1028);
    out.writeUInt32BE(type, 0);
    out.set(payload.subarray(0, 1024), 4);
    return out;
  }
  const out = Buffer.alloc(3 + payload.length);
  out[0] = type;
  out.writeUInt16BE(payload.length, 1);
  out.set(payload, 3);
  return out;
}

/** Hostile streams: pure noise, or frames of any type (some maximal), cut anywhere, with noise between. */
function hostileStream(framing: Framing): fc.Arbitrary<Buffer> {
  const type = framing === 'classic' ? fc.oneof(fc.constantFrom(0, 1, 2, 3, 0xffff, 0x10000, 0x02000000, 0xffffffff), fc.nat({ max: 0xffffffff })) : fc.nat({ max: 0xff });
  const payload = fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.constantFrom(new Uint8Array(framing === 'classic' ? 1024 : 0xffff).fill(0x41)) },
  );
  const frame = fc.tuple(type, payload).map(([t, p]) => frameBytes(framing, t, p));
  const piece = fc.oneof(
    { weight: 4, arbitrary: frame },
    { weight: 1, arbitrary: fc.tuple(frame, fc.nat()).map(([f, cut]) => f.subarray(0, cut % f.length)) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)) },
  );
  return fc
    .oneof(
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 5000 }).map((b) => Buffer.from(b)) },
      { weight: 3, arbitrary: fc.array(piece, { maxLength: 12 }).map((parts) => Buffer.concat(parts)) },
    )
    .map((bytes) => Object.assign(bytes, { [fc.toStringMethod]: () => describeStream(framing, bytes) }));
}

/** A counterexample as its frames, not as thousands of bytes. */
function describeStream(framing: Framing, bytes: Buffer): string {
  const { frames, rest } = referenceParse(framing, bytes);
  const shown = frames.map((f) => `${f.type}[${f.payload.length}${f.payload.length ? ` ${f.payload.subarray(0, 8).toString('hex')}…` : ''}]`);
  return `${framing} stream of ${bytes.length} bytes: ${shown.join(' ')}${rest ? ` + ${rest} bytes of an incomplete frame` : ''}`;
}

/** Cuts bytes into chunks whose sizes cycle through `sizes`. */
function chunked(bytes: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes.length ? sizes[i % sizes.length] : bytes.length;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

const chunkSizes = fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 8 }).chain((big) =>
  fc.oneof(fc.constant(big), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 })),
);

describe('Decoder fed hostile bytes', () => {
  for (const framing of FRAMINGS) {
    it(`${framing}: 2 000 random streams in random chunks decode exactly as the format says, holding at most one frame`, () => {
      fc.assert(
        fc.property(hostileStream(framing), chunkSizes, (bytes, sizes) => {
          const got: Frame[] = [];
          const decoder = new Decoder(framing, (type, payload) => got.push({ type, payload: Buffer.from(payload) }));
          let held = 0;
          for (const chunk of chunked(bytes, sizes)) {
            decoder.push(chunk);
            held = Math.max(held, decoder.buffered);
          }
          expect(held).toBeLessThanOrEqual(LARGEST_FRAME[framing]);
          const expected = referenceParse(framing, bytes);
          expect(got.length).toBe(expected.frames.length);
          for (const [i, frame] of got.entries()) {
            expect(frame.type).toBe(expected.frames[i].type);
            expect(frame.payload.equals(expected.frames[i].payload)).toBe(true);
          }
          expect(decoder.buffered).toBe(expected.rest);
        }),
        { numRuns: 2_000 },
      );
    });
  }

  it('compact: a header announcing the largest payload, fed one byte at a time, holds that one frame and no more', () => {
    const decoder = new Decoder('compact', () => {});
    const frame = frameBytes('compact', 9, new Uint8Array(0xffff));
    for (let i = 0; i < frame.length - 1; i++) decoder.push(frame.subarray(i, i + 1));
    expect(decoder.buffered).toBe(frame.length - 1);
    let delivered = 0;
    const counting = new Decoder('compact', () => delivered++);
    counting.push(Buffer.concat([frame, frame, frame.subarray(0, 10)]));
    expect(delivered).toBe(2);
    expect(counting.buffered).toBe(10);
  });
});

// ------------------------------------------------------------ real peers

const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

/** A raw TCP peer (the hostile end) and our end of the connection. */
async function peerAndUs(): Promise<{ peer: net.Socket; us: net.Socket }> {
  const server = net.createServer();
  cleanup.push(() => server.close());
  const port = await listen(server);
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const us = net.connect(port, '127.0.0.1');
  cleanup.push(() => us.destroy());
  await once(us, 'connect');
  const [peer] = await accepted;
  cleanup.push(() => peer.destroy());
  return { peer, us };
}

describe('heartbeat() against a hostile peer over TCP', () => {
  for (const framing of FRAMINGS) {
    // How much the heartbeat holds is the Decoder's bound, checked above.
    it(`${framing}: 60 random hostile streams: each frame gets its documented reaction, errors name the type, nothing is left after close`, async () => {
      await fc.assert(
        fc.asyncProperty(hostileStream(framing), chunkSizes, async (bytes, sizes) => {
          const { peer, us } = await peerAndUs();
          const listenersBefore = us.eventNames().map((e) => [e, us.listenerCount(e)]);
          const hb = heartbeat(us, { framing, idle: 60_000 });
          const seen = { messages: [] as Frame[], errors: [] as (Error & { code?: string; type?: number })[] };
          hb.on('message', (type: number, payload: Buffer) => seen.messages.push({ type, payload: Buffer.from(payload) }));
          hb.on('error', (error: Error) => seen.errors.push(error));
          const ignore = () => {};
          us.on('error', ignore);
          const answers: Buffer[] = [];
          peer.on('data', (chunk: Buffer) => answers.push(chunk));
          peer.on('error', () => {});

          for (const chunk of chunked(bytes, sizes)) {
            peer.write(chunk);
            await new Promise((resolve) => setImmediate(resolve));
          }
          peer.end();
          await once(us, 'end');
          us.end();
          await once(us, 'close');
          if (!peer.readableEnded) await once(peer, 'end');

          const expected = referenceParse(framing, bytes);
          const reactions = expected.frames.map((f) => kind(framing, f.type));
          expect(seen.messages.map((m) => m.type)).toEqual(expected.frames.filter((_, i) => reactions[i] === 'message').map((f) => f.type));
          expect(seen.errors.map((e) => [e.code, e.type])).toEqual(
            expected.frames.filter((_, i) => reactions[i] === 'unknown').map((f) => ['ERR_HEARTBEAT_UNKNOWN_TYPE', f.type]),
          );
          for (const e of seen.errors) expect(e.message).toContain(`type ${e.type}`);
          // Every PING is answered with one PONG.
          const pongs = referenceParse(framing, Buffer.concat(answers)).frames;
          expect(pongs.length).toBe(reactions.filter((r) => r === 'ping').length);
          for (const p of pongs) expect(p.type).toBe(2);
          // Stopped with the socket: no listener of its own left, no timer.
          expect(hb.active).toBe(false);
          us.off('error', ignore);
          expect(us.eventNames().map((e) => [e, us.listenerCount(e)])).toEqual(listenersBefore);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('an unknown type with no error listener destroys the socket with a clear error; the process lives', async () => {
    const { peer, us } = await peerAndUs();
    const hb = heartbeat(us, { framing: 'classic', idle: 60_000 });
    peer.write(frameBytes('classic', 0xdeadbeef, new Uint8Array(0)));
    const [error] = (await once(us, 'error')) as [Error & { code: string; type: number }];
    expect(error.code).toBe('ERR_HEARTBEAT_UNKNOWN_TYPE');
    expect(error.type).toBe(0xdeadbeef);
    expect(error.message).toMatch(/unknown type 3735928559 \(0xdeadbeef\)/);
    await once(us, 'close');
    expect(hb.active).toBe(false);
  });

  it('a peer that sends part of a largest compact frame and falls silent is declared dead; the partial frame is dropped', async () => {
    const { peer, us } = await peerAndUs();
    const hb = heartbeat(us, { framing: 'compact', idle: 200, interval: 100, count: 2 });
    peer.write(frameBytes('compact', 7, new Uint8Array(0xffff)).subarray(0, 40_000));
    await new Promise((resolve) => us.once('data', resolve));
    const errored = once(us, 'error');
    const [dead] = (await once(hb, 'dead')) as [Error & { code: string }];
    expect(dead.code).toBe('ERR_HEARTBEAT_TIMEOUT');
    expect(((await errored) as [Error & { code: string }])[0].code).toBe('ERR_HEARTBEAT_TIMEOUT');
    expect(us.destroyed).toBe(true);
    expect(hb.active).toBe(false);
    expect(us.listenerCount('data')).toBe(0);
  });
});

describe('a peer that floods PINGs and never reads the PONGs', () => {
  // The kernel's buffers fill first; after that every PONG would queue in
  // this process. A peer may not grow our memory by sending: the queue must
  // stay within the socket's high-water mark plus one frame. The floods are
  // well past what loopback's kernel buffers absorb (a few MiB).
  const FLOOD = { classic: 16 * 1024 * 1024, compact: 8 * 1024 * 1024 };

  async function flood(framing: Framing, ours: (us: net.Socket) => void): Promise<number> {
    const { peer, us } = await peerAndUs();
    ours(us);
    us.on('error', () => {});
    peer.pause();
    peer.on('error', () => {});
    const ping = frameBytes(framing, 1, new Uint8Array([0, 0, 0, 1]));
    const block = Buffer.concat(Array(Math.ceil(65_536 / ping.length)).fill(ping));
    let queued = 0;
    us.on('data', () => (queued = Math.max(queued, us.writableLength)));
    for (let sent = 0; sent < FLOOD[framing]; sent += block.length) {
      if (!peer.write(block)) await once(peer, 'drain');
    }
    peer.end();
    await once(us, 'end');
    return queued;
  }

  for (const framing of FRAMINGS) {
    it(`${framing}: heartbeat() queues at most a high-water mark of PONGs while ${FLOOD[framing] >> 20} MiB of PINGs arrive`, async () => {
      let us: net.Socket | undefined;
      const queued = await flood(framing, (s) => {
        us = s;
        heartbeat(s, { framing, idle: 60_000 });
      });
      expect(queued).toBeLessThanOrEqual(us!.writableHighWaterMark + LARGEST_FRAME[framing]);
    });

    it(`${framing}: respond() queues at most a high-water mark of PONGs while ${FLOOD[framing] >> 20} MiB of PINGs arrive`, async () => {
      let us: net.Socket | undefined;
      const queued = await flood(framing, (s) => {
        us = s;
        respond(s, { framing });
      });
      expect(queued).toBeLessThanOrEqual(us!.writableHighWaterMark + LARGEST_FRAME[framing]);
    });
  }
});

// ------------------------------------------------------------ options

/** Any JS value, for arguments that are not what they should be. */
const junk = fc.oneof(
  fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }),
  fc.constantFrom<unknown>(Symbol('s'), () => 1, NaN, Infinity, -0, null, undefined),
);
const MAX_MS = 2 ** 31 - 1;
const timingValue = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: MAX_MS }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(undefined, 0, -1, 1.5, MAX_MS + 1, NaN, Infinity, '100', null, 10n, true) },
  { weight: 1, arbitrary: junk },
);
const flag = fc.oneof({ weight: 3, arbitrary: fc.constantFrom<unknown>(undefined, true, false) }, { weight: 1, arbitrary: junk });

interface Expectation {
  /** fields whose value is not allowed, with the error class it calls for */
  bad: { name: string; cls: TypeErrorConstructor | RangeErrorConstructor }[];
}

/** The documented rules for idle, interval and count (undefined: the default) and the boolean flags. */
function judgeTiming(o: Record<string, unknown>, into: Expectation): void {
  for (const field of ['idle', 'interval', 'count']) {
    const v = o[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number') into.bad.push({ name: `options.${field}`, cls: TypeError });
    else if (!Number.isInteger(v) || v < 1 || v > MAX_MS) into.bad.push({ name: `options.${field}`, cls: RangeError });
  }
  for (const field of ['onlyPong', 'destroyOnDead']) {
    if (o[field] !== undefined && typeof o[field] !== 'boolean') into.bad.push({ name: `options.${field}`, cls: TypeError });
  }
}

function expectOutcome(call: () => { stop(): void; active?: boolean } | (() => void), expectation: Expectation, label: string): void {
  let result: ReturnType<typeof call> | undefined;
  let error: (Error & { code?: unknown }) | undefined;
  try {
    result = call();
  } catch (e) {
    error = e as Error;
  }
  if (expectation.bad.length === 0) {
    expect(error, `${label}: expected success`).toBeUndefined();
    // Whatever was started stops, and says so.
    if (typeof result === 'function') result();
    else {
      result!.stop();
      expect(result!.active).toBe(false);
    }
    return;
  }
  expect(error, `${label}: expected one of ${expectation.bad.map((b) => `${b.cls.name} naming ${b.name}`).join(', ')}`).toBeInstanceOf(Error);
  const match = expectation.bad.find((b) => error instanceof b.cls && error!.message.includes(`"${b.name}"`));
  expect(match, `${label}: got ${error!.constructor.name} ${String(error!.code)}: ${error!.message}`).toBeDefined();
  expect(error!.code).toMatch(/^ERR_/);
}

describe('heartbeat API options: random values of every type', () => {
  const timing = fc.record({ idle: timingValue, interval: timingValue, count: timingValue, onlyPong: flag, destroyOnDead: flag }, { requiredKeys: [] });

  it('monitor(): 1 500 random options; valid ones start and stop, others name the field', () => {
    const ping = fc.oneof({ weight: 4, arbitrary: fc.constant<unknown>(() => {}) }, { weight: 1, arbitrary: junk });
    fc.assert(
      fc.property(fc.oneof({ weight: 9, arbitrary: fc.tuple(timing, ping).map(([t, p]) => ({ ...t, ping: p })) }, { weight: 1, arbitrary: junk }), (options) => {
        const expectation: Expectation = { bad: [] };
        if (options === null || typeof options !== 'object') expectation.bad.push({ name: 'options', cls: TypeError });
        else {
          const o = options as Record<string, unknown>;
          judgeTiming(o, expectation);
          if (typeof o.ping !== 'function') expectation.bad.push({ name: 'options.ping', cls: TypeError });
        }
        expectOutcome(() => monitor(options as never), expectation, 'monitor');
      }),
      { numRuns: 1_500 },
    );
  });

  it('heartbeat(): 1 500 random streams and options; valid ones attach and detach, others name the field', () => {
    const framing = fc.oneof({ weight: 4, arbitrary: fc.constantFrom<unknown>(undefined, 'classic', 'compact') }, { weight: 1, arbitrary: junk });
    const unknownTypes = fc.oneof({ weight: 4, arbitrary: fc.constantFrom<unknown>(undefined, 'error', 'ignore') }, { weight: 1, arbitrary: junk });
    const options = fc.oneof(
      { weight: 9, arbitrary: fc.tuple(timing, framing, unknownTypes).map(([t, f, u]) => ({ ...t, framing: f, unknownTypes: u })) },
      { weight: 1, arbitrary: junk },
    );
    const stream = fc.oneof({ weight: 9, arbitrary: fc.constant<unknown>('a fresh stream') }, { weight: 1, arbitrary: junk });
    fc.assert(
      fc.property(stream, options, (streamArg, options) => {
        const fresh = streamArg === 'a fresh stream';
        const socket = fresh ? new PassThrough() : streamArg;
        const expectation: Expectation = { bad: [] };
        if (!fresh) expectation.bad.push({ name: 'socket', cls: TypeError });
        if (options !== undefined && (options === null || typeof options !== 'object')) expectation.bad.push({ name: 'options', cls: TypeError });
        else if (options !== undefined) {
          const o = options as Record<string, unknown>;
          judgeTiming(o, expectation);
          if (o.framing !== undefined && o.framing !== 'classic' && o.framing !== 'compact') expectation.bad.push({ name: 'options.framing', cls: TypeError });
          if (o.unknownTypes !== undefined && o.unknownTypes !== 'error' && o.unknownTypes !== 'ignore') {
            expectation.bad.push({ name: 'options.unknownTypes', cls: TypeError });
          }
        }
        const before = socket instanceof PassThrough ? socket.eventNames().map((e) => [e, socket.listenerCount(e)]) : [];
        expectOutcome(() => heartbeat(socket as never, options as never), expectation, 'heartbeat');
        if (socket instanceof PassThrough) expect(socket.eventNames().map((e) => [e, socket.listenerCount(e)])).toEqual(before);
      }),
      { numRuns: 1_500 },
    );
  });

  it('respond(): 1 000 random options; valid ones answer and stop, others name the field', () => {
    const delay = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom<unknown>(undefined, 0, 10, MAX_MS) },
      { weight: 2, arbitrary: fc.constantFrom<unknown>(-1, 1.5, MAX_MS + 1, NaN, '5', null) },
      { weight: 1, arbitrary: junk },
    );
    const framing = fc.oneof({ weight: 4, arbitrary: fc.constantFrom<unknown>(undefined, 'classic', 'compact') }, { weight: 1, arbitrary: junk });
    const onFrame = fc.oneof({ weight: 4, arbitrary: fc.constantFrom<unknown>(undefined, () => {}) }, { weight: 1, arbitrary: junk });
    const options = fc.oneof(
      { weight: 9, arbitrary: fc.record({ delay, framing, onFrame }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: junk },
    );
    fc.assert(
      fc.property(options, (options) => {
        const socket = new PassThrough();
        const expectation: Expectation = { bad: [] };
        if (options !== undefined && (options === null || typeof options !== 'object')) expectation.bad.push({ name: 'options', cls: TypeError });
        else if (options !== undefined) {
          const o = options as Record<string, unknown>;
          const d = o.delay;
          // delay: undefined or null is the default 0
          if (d !== undefined && d !== null) {
            if (typeof d !== 'number') expectation.bad.push({ name: 'options.delay', cls: TypeError });
            else if (!Number.isInteger(d) || d < 0 || d > MAX_MS) expectation.bad.push({ name: 'options.delay', cls: RangeError });
          }
          if (o.framing !== undefined && o.framing !== 'classic' && o.framing !== 'compact') expectation.bad.push({ name: 'options.framing', cls: TypeError });
          if (o.onFrame !== undefined && typeof o.onFrame !== 'function') expectation.bad.push({ name: 'options.onFrame', cls: TypeError });
        }
        const before = socket.eventNames().map((e) => [e, socket.listenerCount(e)]);
        expectOutcome(() => respond(socket, options as never), expectation, 'respond');
        expect(socket.eventNames().map((e) => [e, socket.listenerCount(e)])).toEqual(before);
      }),
      { numRuns: 1_000 },
    );
  });

  it('wsHeartbeat(): 500 random options on a ws-shaped socket; valid ones attach and detach every listener', () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 9, arbitrary: timing }, { weight: 1, arbitrary: junk }), (options) => {
        const ws = Object.assign(new EventEmitter(), { readyState: 1, ping: () => {}, terminate: () => {} });
        const expectation: Expectation = { bad: [] };
        if (options !== undefined && (options === null || typeof options !== 'object')) expectation.bad.push({ name: 'options', cls: TypeError });
        else if (options !== undefined) judgeTiming(options as Record<string, unknown>, expectation);
        expectOutcome(() => wsHeartbeat(ws, options as never), expectation, 'wsHeartbeat');
        expect(ws.eventNames()).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});

describe('keepAlive(): both layers with random options', () => {
  it('1 000 random option sets on a live connection: the layers reported are the ones in force, or a documented error', async () => {
    const pair = await connectedPair();
    cleanup.push(() => void pair.close());
    const socket = pair.client;
    const listenersBefore = socket.eventNames().map((e) => [e, socket.listenerCount(e)]);
    const ms = fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 40_000_000 }) },
      { weight: 2, arbitrary: fc.integer({ min: 1, max: 60 }).map((s) => s * 1000) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, 0, -5, 1.5, MAX_MS + 1, '1000', null) },
    );
    const heartbeatOption = fc.oneof(
      fc.constantFrom<unknown>(undefined, {}, { framing: 'compact' }, { framing: 'classic' }, { ping: () => {} }, { framing: 'compact', ping: () => {} }, { ping: 5 }, null, 'x'),
      fc.record({ framing: fc.constantFrom<unknown>('compact', 'nope', undefined), onlyPong: flag }, { requiredKeys: [] }),
    );
    const options = fc.record(
      {
        idle: ms,
        interval: ms,
        count: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constantFrom<unknown>(0, undefined, 2.5)),
        fallback: fc.constantFrom<unknown>(undefined, 'auto', 'always', 'never', 'sometimes', 1),
        heartbeat: heartbeatOption,
      },
      { requiredKeys: ['idle', 'interval', 'count'] },
    );
    const DOCUMENTED: Record<string, ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor> = {
      ERR_INVALID_ARG_TYPE: TypeError,
      ERR_INVALID_ARG_VALUE: TypeError,
      ERR_OUT_OF_RANGE: RangeError,
      ERR_HEARTBEAT_NO_PROTOCOL: Error,
      ERR_TCP_KEEPALIVE_UNSUPPORTED: Error,
    };
    fc.assert(
      fc.property(options, (o) => {
        let result: ReturnType<typeof keepAlive> | undefined;
        try {
          result = keepAlive(socket, o as never);
        } catch (error) {
          const e = error as Error & { code?: string };
          expect(Object.keys(DOCUMENTED), `${e.constructor.name}: ${e.message}`).toContain(e.code);
          expect(e).toBeInstanceOf(DOCUMENTED[e.code!]);
          if (e instanceof TypeError || e instanceof RangeError) expect(e.message).toMatch(/"(options\.[a-zA-Z.]+|options|socket)"/);
          // A refused call leaves nothing running on the socket.
          expect(socket.eventNames().map((n) => [n, socket.listenerCount(n)])).toEqual(listenersBefore);
          return;
        }
        const { layers, kernel, heartbeat: hb } = result;
        // Stop first, so that a failed check below does not leave a heartbeat on the socket for the next case.
        const wasActive = hb?.active;
        hb?.stop();
        // idle, interval and count are required: accepted only as integers in range, never filled in.
        for (const field of ['idle', 'interval', 'count'] as const) {
          expect(Number.isInteger(o[field]) && (o[field] as number) >= 1 && (o[field] as number) <= MAX_MS, `options.${field} ${String(o[field])} was accepted`).toBe(true);
        }
        expect(layers.length).toBeGreaterThan(0);
        if (o.fallback === 'never') expect(layers).toEqual(['kernel']);
        if (o.fallback === 'always') expect(layers).toContain('heartbeat');
        if (layers.includes('kernel')) {
          // What the kernel holds: the times rounded up to whole seconds.
          const seconds = (v: unknown) => Math.ceil((v as number) / 1000) * 1000;
          const expected = { enabled: true, idle: seconds(o.idle), interval: seconds(o.interval), count: o.count };
          expect(kernel).toMatchObject(expected);
          expect(getKeepAlive(socket)).toMatchObject(expected);
        } else expect(kernel).toBeNull();
        if (layers.includes('heartbeat')) {
          expect(wasActive).toBe(true);
          expect(hb!.active).toBe(false);
        } else expect(hb).toBeNull();
        expect(socket.eventNames().map((n) => [n, socket.listenerCount(n)])).toEqual(listenersBefore);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('http2Heartbeat(): random options on a live HTTP/2 session', () => {
  it('300 random option sets: valid ones attach and detach every listener, others name the field', async () => {
    const server = http2.createServer();
    cleanup.push(() => server.close());
    const port = await listen(server);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanup.push(() => session.destroy());
    await once(session, 'connect');
    const before = session.eventNames().map((e) => [e, session.listenerCount(e)]);
    const timing = fc.record({ idle: timingValue, interval: timingValue, count: timingValue, onlyPong: flag, destroyOnDead: flag }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof({ weight: 9, arbitrary: timing }, { weight: 1, arbitrary: junk }), fc.boolean(), (options, junkSession) => {
        const expectation: Expectation = { bad: [] };
        if (junkSession) expectation.bad.push({ name: 'session', cls: TypeError });
        if (options !== undefined && (options === null || typeof options !== 'object')) expectation.bad.push({ name: 'options', cls: TypeError });
        else if (options !== undefined) judgeTiming(options as Record<string, unknown>, expectation);
        expectOutcome(() => http2Heartbeat((junkSession ? {} : session) as never, options as never), expectation, 'http2Heartbeat');
        expect(session.eventNames().map((e) => [e, session.listenerCount(e)])).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });
});
