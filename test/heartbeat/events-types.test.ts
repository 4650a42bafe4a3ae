// The heartbeat's events are typed: a listener of 'ping', 'pong', 'dead',
// 'message' or 'error' gets its arguments' types, and an event name the
// emitter never emits is a type error. The type half of this file is
// checked by `npx tsc -p tsconfig.check.json` (npm test runs it): each
// `@ts-expect-error` below fails that check if the line it marks compiles.
// The run half checks that the types describe what is really passed.
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { heartbeat, ioredisHeartbeat, keepAlive, monitor, respond, type Heartbeat, type HeartbeatTimeoutError, type Monitor, type PongInfo, type UnknownTypeError } from '../../lib';
import { connectedPair, type Pair } from '../support/sockets';

let pair: Pair | null = null;
afterEach(async () => {
  await pair?.close();
  pair = null;
});

/** Compiled, never called: what the type checker must accept and refuse. */
export function typeChecks(m: Monitor, hb: Heartbeat): void {
  m.on('ping', (seq) => expectTypeOf(seq).toEqualTypeOf<number>());
  m.on('pong', (info) => expectTypeOf(info).toEqualTypeOf<PongInfo>());
  m.once('dead', (error) => expectTypeOf(error).toEqualTypeOf<HeartbeatTimeoutError>());
  hb.on('message', (type, payload) => {
    expectTypeOf(type).toEqualTypeOf<number>();
    expectTypeOf(payload).toEqualTypeOf<Buffer>();
  });
  hb.on('error', (error) => expectTypeOf(error).toEqualTypeOf<UnknownTypeError>());
  hb.on('dead', (error) => expectTypeOf(error.sinceLastReceived).toEqualTypeOf<number>());

  // @ts-expect-error an event a monitor never emits
  m.on('deaad', () => {});
  // @ts-expect-error 'message' is a Heartbeat's (framed) event, not a protocol monitor's
  m.on('message', () => {});
  // @ts-expect-error the listener's argument is a number
  m.on('ping', (seq: string) => seq);
  // @ts-expect-error PongInfo.rtt may be null
  m.on('pong', ({ rtt }: { rtt: number }) => rtt);
  // @ts-expect-error an unknown event through once/off too
  hb.once('close', () => {});
  // @ts-expect-error a driver monitor is a Monitor: typed the same
  ioredisHeartbeat({} as never).on('connect', () => {});
}

describe('typed heartbeat events', () => {
  it('the arguments a listener is typed to get are the ones it gets', async () => {
    pair = await connectedPair();
    const stop = respond(pair.accepted, { framing: 'compact' });
    const hb = heartbeat(pair.client, { idle: 50, interval: 1000, count: 3, framing: 'compact', unknownTypes: 'error' });
    const seen: unknown[] = [];
    hb.on('ping', (seq) => seen.push(['ping', typeof seq]));
    const pong = new Promise<PongInfo>((resolve) => hb.once('pong', resolve));
    const info = await pong;
    expect(typeof info.rtt).toBe('number');
    expect(seen[0]).toEqual(['ping', 'number']);
    hb.stop();
    stop();

    const m = monitor({ idle: 30, interval: 30, count: 1, ping: () => {} });
    const error = await new Promise<HeartbeatTimeoutError>((resolve) => m.once('dead', resolve));
    expect(error).toMatchObject({ code: 'ERR_HEARTBEAT_TIMEOUT', probes: 1 });
    expect(typeof error.sinceLastReceived).toBe('number');

    const { heartbeat: layer } = keepAlive(pair.client, { idle: 1000, interval: 500, count: 2, fallback: 'always', heartbeat: { framing: 'compact' } });
    expect(layer).toBeInstanceOf(Object.getPrototypeOf(hb).constructor);
    layer!.stop();
  });
});
