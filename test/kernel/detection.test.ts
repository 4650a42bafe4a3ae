// End to end: a peer that goes silent is dropped after idle + interval x
// count. The peer is made silent with a drop-all BPF filter on its end of a
// loopback connection (SO_ATTACH_FILTER needs CAP_NET_ADMIN on TCP sockets).
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { setKeepAlive } from '../../lib';
import { harnessBinding } from '../../lib/harness/native';
import { handleFd } from '../../lib/kernel/socket';
import { connectedPair, isLinux, isRoot, type Pair } from '../support/sockets';

const pairs: Pair[] = [];
afterEach(async () => {
  // Lift the filter first, or the peer's end lingers in FIN_WAIT with nobody to answer it.
  for (const { accepted } of pairs) if (!accepted.destroyed) harnessBinding.detachFilter(handleFd(accepted));
  await Promise.all(pairs.splice(0).map((p) => p.close()));
});

async function silencedPeer(): Promise<Pair> {
  const pair = await connectedPair();
  pairs.push(pair);
  harnessBinding.attachDropFilter(handleFd(pair.accepted));
  return pair;
}

/** Resolves with the error that ends the socket and when it came, or null if it is still open after `bound` ms. */
function outcome(socket: net.Socket, bound: number): Promise<{ code: string | undefined; afterMs: number } | null> {
  const start = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), bound);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: error.code, afterMs: performance.now() - start });
    });
  });
}

describe.skipIf(!isLinux || !isRoot)('detecting a silent peer (needs CAP_NET_ADMIN for the drop filter: run as root)', () => {
  it('an idle connection with idle 1 s, interval 1 s, count 2 ends in ETIMEDOUT after about 3 s', async () => {
    const { client } = await silencedPeer();
    expect(setKeepAlive(client, { idle: 1_000, interval: 1_000, count: 2 })).toMatchObject({ idle: 1_000, interval: 1_000, count: 2 });
    const result = await outcome(client, 10_000);
    expect(result?.code).toBe('ETIMEDOUT');
    expect(result!.afterMs).toBeGreaterThanOrEqual(2_500);
    expect(result!.afterMs).toBeLessThan(6_000);
  });

  it('with data in flight keepalive stays silent, and userTimeout auto drops the connection on time', async () => {
    const keepaliveOnly = (await silencedPeer()).client;
    const withUserTimeout = (await silencedPeer()).client;
    setKeepAlive(keepaliveOnly, { idle: 1_000, interval: 1_000, count: 2 });
    expect(setKeepAlive(withUserTimeout, { idle: 1_000, interval: 1_000, count: 2, userTimeout: 'auto' })?.userTimeout).toBe(3_000);
    // The peer drops these segments, so they stay unacknowledged and are retransmitted.
    keepaliveOnly.write('x'.repeat(1000));
    withUserTimeout.write('x'.repeat(1000));
    const [survivor, dropped] = await Promise.all([outcome(keepaliveOnly, 7_000), outcome(withUserTimeout, 10_000)]);
    expect(survivor).toBeNull(); // still open well past idle + interval x count
    expect(dropped?.code).toBe('ETIMEDOUT');
    expect(dropped!.afterMs).toBeGreaterThanOrEqual(2_500);
    expect(dropped!.afterMs).toBeLessThan(6_000);
  });

  it('without keepalive an idle connection to a silent peer is never noticed', async () => {
    const { client } = await silencedPeer();
    expect(await outcome(client, 4_000)).toBeNull();
  });
});
