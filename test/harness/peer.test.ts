// Each death of the harness peer happens as described: checked from the
// outside (process state, the client's socket and its TCP_INFO), not by
// trusting the harness's own report.
import { setTimeout as sleep } from 'node:timers/promises';
import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { heartbeat, setKeepAlive, tcpInfo } from '../../lib';
import { killAll, liveChildren, startPeer, type Peer } from '../../lib/harness';
import { processGone } from '../support/harness';
import { isLinux, isRoot } from '../support/sockets';

const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await killAll();
  expect(liveChildren()).toEqual([]);
});

async function connect(peer: Peer): Promise<net.Socket> {
  const accepted = peer.accepted.length;
  const socket = net.connect(peer.port, peer.host);
  sockets.push(socket);
  await once(socket, 'connect');
  await peer.waitForConnections(accepted + 1);
  return socket;
}

/** The first error code, or 'end', the socket reports. */
function outcome(socket: net.Socket): Promise<string> {
  socket.resume();
  return new Promise((resolve) => {
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.once('end', () => resolve('end'));
  });
}


describe.skipIf(!isLinux)('harness peer deaths (Linux)', () => {
  it('crash: the peer process is gone and the client gets FIN', async () => {
    const peer = await startPeer();
    const client = await connect(peer);
    const seen = outcome(client);
    const death = await peer.kill('crash');
    expect(await seen).toBe('end');
    expect(processGone(peer.pid)).toBe(true);
    expect(death.at).toBeLessThanOrEqual(Date.now());
  });

  it('reset: the client gets ECONNRESET at once, the peer process lives on', async () => {
    const peer = await startPeer();
    const client = await connect(peer);
    const seen = outcome(client);
    await peer.kill('reset');
    expect(await seen).toBe('ECONNRESET');
    expect(peer.running).toBe(true);
  });

  it.skipIf(!isRoot)('restart: the peer sent nothing, and the next segment from the client meets a RST (ECONNRESET)', async () => {
    const peer = await startPeer();
    const client = await connect(peer);
    const seen = outcome(client);
    await peer.kill('restart');
    // A FIN or RST from the peer would have ended the client by now.
    await sleep(200);
    expect(client.destroyed).toBe(false);
    expect(tcpInfo(client).state).toBe(1); // TCP_ESTABLISHED: the client knows nothing yet
    client.write('anyone there?');
    expect(await seen).toBe('ECONNRESET');
    expect(peer.running).toBe(true);
  });

  it.skipIf(!isRoot)('blackhole: the peer receives nothing and acknowledges nothing, its socket still open', async () => {
    const peer = await startPeer();
    const client = await connect(peer);
    const [before] = await peer.stats();
    await peer.kill('blackhole');
    client.write(Buffer.alloc(1000, 1));
    await sleep(1000);
    const [after] = await peer.stats();
    expect(after.open).toBe(true);
    expect(after.bytesRead).toBe(before.bytesRead);
    const info = tcpInfo(client);
    expect(info.unacked).toBeGreaterThan(0);
    expect(info.retransmits).toBeGreaterThan(0);
    expect(client.destroyed).toBe(false);
  });

  it('hang: the peer process is frozen, yet its kernel answers every keepalive probe', async () => {
    const peer = await startPeer({ timeout: 1000 });
    const client = await connect(peer);
    let failed: Error | null = null;
    client.on('error', (error) => (failed = error));
    setKeepAlive(client, { idle: 1000, interval: 1000, count: 2 });
    await peer.kill('hang');
    expect(peer.frozen).toBe(true);
    // Past idle + interval x count: unanswered probes would have killed it.
    await sleep(4000);
    const info = tcpInfo(client);
    expect(failed).toBeNull();
    expect(info.state).toBe(1);
    expect(info.probes).toBe(0); // every probe answered
    expect(info.lastDataRecvMs).toBeGreaterThanOrEqual(3500); // no data: the application is frozen
    expect(info.lastAckRecvMs).toBeLessThan(1500); // but the kernel ACKed a probe within the last interval
    await expect(peer.stats()).rejects.toThrow(/did not answer/);
  }, 15_000);

  it('slow: heartbeat answers come after the delay asked for, and stop coming when it exceeds the budget', async () => {
    const peer = await startPeer({ delay: 300 });
    const client = await connect(peer);
    const closed = new Promise((resolve) => client.once('close', resolve));
    client.on('error', () => {}); // the heartbeat destroys the socket with its error
    const hb = heartbeat(client, { idle: 100, interval: 1000, count: 1, framing: 'classic' });
    const [{ rtt }] = (await once(hb, 'pong')) as [{ rtt: number }];
    expect(rtt).toBeGreaterThanOrEqual(290);
    await peer.setDelay(5000);
    const [error] = (await once(hb, 'dead')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ERR_HEARTBEAT_TIMEOUT');
    await closed;
    expect(peer.running).toBe(true);
  });

  it('refuses to kill a peer that is no longer running', async () => {
    const peer = await startPeer();
    await connect(peer);
    await peer.kill('crash');
    await expect(peer.kill('hang')).rejects.toThrow(/not running/);
  });
});
