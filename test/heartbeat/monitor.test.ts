// monitor() over real loopback connections: single flight of ping(), busy(),
// progress() noticed on time, and the options every flavour shares.
import { afterEach, describe, expect, it } from 'vitest';
import { http2Heartbeat, keepAlive, monitor, wsHeartbeat, type Monitor } from '../../lib';
import type { HeartbeatTimeoutError } from '../../lib/heartbeat/errors';
import { scheduler } from '../../lib/heartbeat/scheduler';
import { connectedPair, type Pair } from '../support/sockets';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let pair: Pair | null = null;
const monitors: Monitor[] = [];
afterEach(async () => {
  for (const m of monitors.splice(0)) m.stop();
  await pair?.close();
  pair = null;
});
const watch = (m: Monitor) => (monitors.push(m), m);
const deathOf = (m: Monitor) => new Promise<HeartbeatTimeoutError>((resolve) => m.once('dead', resolve));

describe('single flight: ping() is not called again while its promise is pending', () => {
  it('a ping that never settles is called once; each interval counts as one unanswered probe; death at idle + interval x count', async () => {
    let calls = 0;
    const pings: number[] = [];
    const started = performance.now();
    const m = watch(monitor({ idle: 200, interval: 200, count: 3, ping: () => (calls++, new Promise(() => {})) }));
    m.on('ping', (seq: number) => pings.push(seq));
    const dead = await deathOf(m);
    const elapsed = performance.now() - started;
    expect(calls).toBe(1);
    expect(pings).toEqual([1]);
    expect(dead.probes).toBe(3);
    // Budget 200 + 200 x 3 = 800 ms, never late by more than 10%.
    expect(elapsed).toBeGreaterThanOrEqual(790);
    expect(elapsed).toBeLessThan(880 + 300);
    expect(dead.sinceLastReceived).toBeGreaterThanOrEqual(800);
  });

  it('a ping answered after two intervals is called again only once it settled, and its answer counts', async () => {
    let calls = 0;
    let dead = false;
    const m = watch(
      monitor({ idle: 100, interval: 200, count: 3, ping: () => (calls++, sleep(450)) }),
    );
    m.on('dead', () => (dead = true));
    // 100 idle, ping #1 pending 450 ms (2 probes counted), answered: back to idle.
    await sleep(1400);
    expect(dead).toBe(false);
    // Without single flight, 1400 ms would have called ping() about 7 times.
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(3);
  });

  it('a rejected ping is an unanswered probe, and the next interval calls ping() again', async () => {
    let calls = 0;
    const m = watch(monitor({ idle: 100, interval: 100, count: 3, ping: () => (calls++, Promise.reject(new Error('no'))) }));
    const dead = await deathOf(m);
    expect(calls).toBe(3);
    expect(dead.probes).toBe(3);
  });
});

describe('ping() that misbehaves', () => {
  it('a ping() that throws is an unanswered probe: nothing escapes to the process, ping() is called again, and death comes on time', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      let calls = 0;
      const started = performance.now();
      const m = watch(monitor({ idle: 100, interval: 100, count: 3, ping: () => {
        calls++;
        throw new Error('ping() threw');
      } }));
      const dead = await deathOf(m);
      const elapsed = performance.now() - started;
      expect(uncaught).toEqual([]);
      expect(calls).toBe(3);
      expect(dead.probes).toBe(3);
      expect(elapsed).toBeGreaterThanOrEqual(390);
      expect(elapsed).toBeLessThan(440 + 300);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('a thenable that calls back twice is one answer: one pong per PING', async () => {
    const pongs: number[] = [];
    const m = watch(monitor({ idle: 100, interval: 100, count: 3, ping: () => ({
      then(fulfil: () => void) {
        fulfil();
        setTimeout(fulfil, 5);
      },
    }) }));
    m.on('pong', () => pongs.push(m.seq));
    await sleep(700);
    expect(pongs.length).toBeGreaterThanOrEqual(2);
    expect(new Set(pongs).size).toBe(pongs.length);
  });
});

describe('busy(): a request of the connection\'s own is running', () => {
  it('sends no PING and reaches no verdict while busy; the silence clock starts again when the request ends', async () => {
    let busy = true;
    const pings: number[] = [];
    const m = watch(monitor({ idle: 200, interval: 100, count: 2, ping: () => {}, busy: () => busy }));
    m.on('ping', () => pings.push(performance.now()));
    const dead = deathOf(m);
    // Five budgets (400 ms each) of a long request: no PING, no death.
    await sleep(2000);
    expect(pings).toEqual([]);
    expect(m.active).toBe(true);
    const ended = performance.now();
    busy = false;
    const error = await dead;
    const after = performance.now() - ended;
    // The first PING comes about idle after the end: busy() is read every
    // 20 ms (1/20 of the budget), and a loaded machine makes reads late.
    expect(pings[0] - ended).toBeGreaterThanOrEqual(200 - 100);
    // Death a budget after the request ended: not at once, and on time.
    expect(after).toBeGreaterThanOrEqual(400 - 100);
    expect(after).toBeLessThan(440 + 300);
    expect(error.probes).toBe(2);
  });

  it('is not asked while our PING is out: requests sent after it queue behind it and cannot excuse its answer coming late', async () => {
    let pingOut = false;
    const started = performance.now();
    // busy() says true as soon as the PING is out (an application request
    // queued behind it), and the PING is never answered.
    const m = watch(monitor({ idle: 200, interval: 100, count: 2, ping: () => ((pingOut = true), new Promise(() => {})), busy: () => pingOut }));
    const dead = await deathOf(m);
    expect(dead.probes).toBe(2);
    expect(performance.now() - started).toBeLessThan(400 + 300);
  });

  it('is checked like every option: a function or undefined', () => {
    for (const bad of [true, 'yes', 1, null]) {
      expect(() => monitor({ ping: () => {}, busy: bad as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/"options\.busy".*function/) }));
    }
  });

  it('keepAlive() takes it beside ping, and refuses it without', async () => {
    pair = await connectedPair();
    const socket = pair.client;
    // Death destroys the socket with the timeout error.
    socket.on('error', () => {});
    expect(() => keepAlive(socket, { idle: 300, interval: 100, count: 2, fallback: 'always', heartbeat: { ping: () => {}, busy: 'no' as never } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/options\.heartbeat\.busy/) }),
    );
    expect(() => keepAlive(socket, { idle: 300, interval: 100, count: 2, fallback: 'always', heartbeat: { framing: 'compact', busy: () => true } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    let busy = true;
    let pings = 0;
    const { heartbeat } = keepAlive(socket, { idle: 300, interval: 100, count: 2, fallback: 'always', heartbeat: { ping: () => pings++, busy: () => busy } });
    await sleep(1200);
    expect(pings).toBe(0);
    expect(heartbeat!.active).toBe(true);
    busy = false;
    await sleep(1200);
    expect(heartbeat!.active).toBe(false);
    expect(pings).toBe(2);
  });
});

describe('progress(): bytes read are noticed on time', () => {
  it('a byte arriving just after a check still counts from when it arrived: death within budget + 10%, sinceLastReceived true', async () => {
    pair = await connectedPair();
    const socket = pair.client;
    socket.resume();
    const budget = 1000 + 500 * 2;
    const m = watch(monitor({ idle: 1000, interval: 500, count: 2, ping: () => {}, progress: () => socket.bytesRead, destroy: () => {} }));
    // Bytes now and then for a while, the last one at an odd moment.
    for (let i = 0; i < 5; i++) {
      pair.accepted.write('x');
      await sleep(337);
    }
    let lastByte = 0;
    socket.once('data', () => (lastByte = performance.now()));
    pair.accepted.write('y');
    const dead = await deathOf(m);
    const after = performance.now() - lastByte;
    expect(lastByte).toBeGreaterThan(0);
    expect(after).toBeGreaterThanOrEqual(budget - 10);
    expect(after).toBeLessThanOrEqual(budget * 1.1 + 50);
    // It says no more than what is true: nothing was received for at least that long.
    expect(dead.sinceLastReceived).toBeLessThanOrEqual(after + 1);
    expect(dead.sinceLastReceived).toBeGreaterThanOrEqual(budget - 10 - budget / 20);
  });
});

describe('each sign of life counts once, stamped when it was read', () => {
  it("a PONG's bytes are not counted again at the next read of progress(): the silence runs from the PONG", async () => {
    pair = await connectedPair();
    const { client, accepted } = pair;
    accepted.on('data', () => accepted.write('P'));
    // poll = (300 + 300 x 3) / 20 = 60 ms
    const m = watch(monitor({
      idle: 300,
      interval: 300,
      count: 3,
      progress: () => client.bytesRead,
      ping: () => new Promise((resolve) => {
        client.once('data', resolve);
        client.write('p');
      }),
    }));
    await new Promise((resolve) => m.once('pong', resolve));
    const pongAt = m.lastSeen;
    // Three polls later, with nothing else received.
    await sleep(200);
    expect(m.probes).toBe(0);
    expect(m.lastSeen).toBe(pongAt);
  });
});

describe('options shared through every door', () => {
  it('monitors made from one options object share one settings object, through adapters that copy them too', () => {
    const options = { idle: 5000, interval: 1000, count: 3 };
    const ws = { readyState: 1, ping() {}, terminate() {}, on() {}, off() {} };
    const session = { ping: () => true, destroy() {}, on() {}, off() {}, destroyed: false, closed: false, socket: { bytesRead: 0 } };
    const a = watch(wsHeartbeat(ws, options));
    const b = watch(wsHeartbeat(ws, options));
    const c = watch(http2Heartbeat(session as never, options));
    const d = watch(monitor({ ...options, ping: () => {} }));
    expect(a.timing).toBe(b.timing);
    expect(a.timing).toBe(c.timing);
    // A fresh object each call has settings of its own (the cache is keyed on what the user passed).
    expect(d.timing).not.toBe(a.timing);
    expect(d.timing).toEqual(a.timing);
    // Changed in place: validated afresh.
    options.idle = 6000;
    expect(watch(wsHeartbeat(ws, options)).idle).toBe(6000);
  });

  it('keepAlive() with one options object for every connection shares the heartbeat settings', async () => {
    pair = await connectedPair();
    const other = await connectedPair();
    try {
      const options = { idle: 300, interval: 100, count: 2, fallback: 'always' as const, heartbeat: { ping: () => {} } };
      const a = keepAlive(pair.client, options).heartbeat!;
      const b = keepAlive(other.client, options).heartbeat!;
      monitors.push(a, b);
      expect(a.timing).toBe(b.timing);
      const framed = { idle: 300, interval: 100, count: 2, fallback: 'always' as const, heartbeat: { framing: 'compact' as const } };
      const c = keepAlive(pair.accepted, framed).heartbeat!;
      const d = keepAlive(other.accepted, framed).heartbeat!;
      monitors.push(c, d);
      expect(c.timing).toBe(d.timing);
    } finally {
      await other.close();
    }
  });
});

describe('idle near 2**31 - 1 ms', () => {
  it('arms the one timer once, with no TimeoutOverflowWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const armed: number[] = [];
    const original = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      if (fn === (scheduler as unknown as { run: unknown }).run) armed.push(ms ?? 0);
      return original(fn, ms);
    }) as typeof setTimeout;
    try {
      const m = watch(monitor({ idle: 2 ** 31 - 1, interval: 2 ** 31 - 1, count: 1, ping: () => {} }));
      await sleep(300);
      m.stop();
    } finally {
      globalThis.setTimeout = original;
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
    expect(armed.length).toBeLessThanOrEqual(2);
    for (const ms of armed) expect(ms).toBeLessThanOrEqual(2 ** 31 - 1);
  });
});

