// keepAlive(): the one call that sets both layers, choosing the kernel, the
// heartbeat or both for each socket.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { getKeepAlive, keepAlive, Monitor, respond, Heartbeat } from '../../lib';
import { scheduler } from '../../lib/heartbeat/scheduler';
import { connectedPair, type Pair } from '../support/sockets';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('keepAlive(): kernel, heartbeat or both', () => {
  let pair: Pair;
  const open = async () => {
    pair = await connectedPair();
    cleanups.push(() => pair.close());
    return pair;
  };

  it("'auto' with whole seconds on a TCP socket uses the kernel only", async () => {
    const { client } = await open();
    const result = keepAlive(client, { idle: 2_000, interval: 1_000, count: 3, fallback: 'auto', heartbeat: { framing: 'classic' } });
    expect(result.layers).toEqual(['kernel']);
    expect(result.heartbeat).toBeNull();
    // userTimeout 'auto' covers a peer that vanishes while data is in flight, within the same budget.
    expect(getKeepAlive(client)).toEqual({ enabled: true, idle: 2_000, interval: 1_000, count: 3, userTimeout: 5_000 });
  });

  it("'always' with a heartbeat option that is refused leaves the kernel untouched and nothing running", async () => {
    const { client } = await open();
    const before = getKeepAlive(client);
    expect(() =>
      keepAlive(client, { idle: 2_000, interval: 1_000, count: 3, fallback: 'always', heartbeat: { framing: 'bogus' as never } }),
    ).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_/) }));
    expect(getKeepAlive(client)).toEqual(before);
    expect(client.listenerCount('data')).toBe(0);
  });

  it("'auto' with a sub-second budget uses the heartbeat and says why not the kernel", async () => {
    const { client, accepted } = await open();
    respond(accepted, { framing: 'compact' });
    const result = keepAlive(client, { idle: 100, interval: 100, count: 1, heartbeat: { framing: 'compact' } });
    expect(result.layers).toEqual(['heartbeat']);
    expect(result.kernelSkipped).toMatch(/idle 100 ms is not whole seconds/);
    expect(getKeepAlive(client).enabled).toBe(false);
    expect(result.heartbeat).toBeInstanceOf(Heartbeat);
    await once(result.heartbeat!, 'pong');
    result.heartbeat!.stop();
  });

  it("'auto' on a stream with no fd (a Duplex) uses the heartbeat", () => {
    const stream = new PassThrough();
    const result = keepAlive(stream, { idle: 5_000, interval: 1_000, count: 3, heartbeat: { framing: 'classic' } });
    expect(result.layers).toEqual(['heartbeat']);
    expect(result.kernelSkipped).toMatch(/not a TCP socket/);
    result.heartbeat!.stop();
  });

  it('never writes into a stream whose protocol it does not own: without framing or ping() it is an error', async () => {
    const { client } = await open();
    const before = { data: client.listenerCount('data'), size: scheduler.size };
    expect(() => keepAlive(client, { idle: 300, interval: 100, count: 2 })).toThrow(
      expect.objectContaining({ code: 'ERR_HEARTBEAT_NO_PROTOCOL', message: expect.stringMatching(/never writes into a stream whose protocol it does not own/) }),
    );
    expect(() => keepAlive(client, { idle: 1_000, interval: 1_000, count: 2, fallback: 'always' })).toThrow(
      expect.objectContaining({ code: 'ERR_HEARTBEAT_NO_PROTOCOL' }),
    );
    // Nothing was started or set.
    expect({ data: client.listenerCount('data'), size: scheduler.size }).toEqual(before);
    expect(getKeepAlive(client).enabled).toBe(false);
    expect(client.bytesWritten).toBe(0);
  });

  it("'never' is the kernel only, and an error when the kernel cannot do what was asked", async () => {
    const { client } = await open();
    expect(() => keepAlive(client, { idle: 300, interval: 1_000, count: 2, fallback: 'never' })).toThrow(
      expect.objectContaining({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED', message: expect.stringMatching(/whole seconds/) }),
    );
    expect(() => keepAlive(new PassThrough(), { idle: 1_000, interval: 1_000, count: 2, fallback: 'never' })).toThrow(/not a TCP socket/);
    const result = keepAlive(client, { idle: 1_000, interval: 1_000, count: 2, fallback: 'never' });
    expect(result.layers).toEqual(['kernel']);
  });

  it("'always' runs both layers, the kernel rounding a sub-second time up", async () => {
    const { client, accepted } = await open();
    respond(accepted);
    const result = keepAlive(client, { idle: 500, interval: 1_000, count: 2, fallback: 'always', heartbeat: { framing: 'classic' } });
    expect(result.layers).toEqual(['kernel', 'heartbeat']);
    expect(result.kernel).toMatchObject({ enabled: true, idle: 1_000, interval: 1_000, count: 2 });
    result.heartbeat!.stop();
  });

  it("with the user's own ping(), watches bytes read without taking over the stream", async () => {
    const { client, accepted } = await open();
    // The user's protocol: a line "PING\n" answered by "PONG\n", read by the user.
    accepted.on('data', (d) => d.toString().includes('PING') && accepted.write('PONG\n'));
    const lines: string[] = [];
    client.setEncoding('utf8');
    client.on('data', (d: string) => lines.push(d));
    const result = keepAlive(client, {
      idle: 100,
      interval: 100,
      count: 2,
      heartbeat: { ping: () => client.write('PING\n') },
    });
    expect(result.layers).toEqual(['heartbeat']);
    expect(result.heartbeat).toBeInstanceOf(Monitor);
    expect(client.listenerCount('data')).toBe(1);
    let dead = false;
    result.heartbeat!.on('dead', () => (dead = true));
    await sleep(600);
    expect(dead).toBe(false);
    expect(lines.join('')).toMatch(/PONG/);
    client.destroy();
    await once(client, 'close');
    expect(result.heartbeat!.active).toBe(false);
  });

  it('rejects bad options by name', () => {
    const stream = new PassThrough();
    expect(() => keepAlive(stream, { idle: 1_000, interval: 1_000 } as never)).toThrow(/options\.count/);
    expect(() => keepAlive(stream, { idle: 1_000, interval: 1_000, count: 1, fallback: 'sometimes' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
    );
    expect(() => keepAlive(stream, { idle: 1_000, interval: 1_000, count: 1, heartbeat: { framing: 'classic', ping: () => {} } })).toThrow(/framing or ping, not both/);
  });
});
