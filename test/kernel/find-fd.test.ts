// Finding a connection's fd by its endpoints, as Bun and Deno need it
// (test/runtimes/ runs it there); here under Node, where each socket's own
// fd shows whether the right one was found. The edge cases of
// src/find_fd_posix.h, each with the socket it could be confused with
// present in the same process.
import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { getKeepAlive, setKeepAlive } from '../../lib';
import { binding } from '../../lib/native';
import { handleFd } from '../../lib/kernel/socket';
import { connectedPair, listen, type Pair } from '../support/sockets';

const canFind = process.platform === 'linux' || process.platform === 'darwin';
const ownFd = (socket: net.Socket | net.Server) => (socket as unknown as { _handle: { fd: number } })._handle.fd;
const find = (local: string, localPort: number, remote: string, remotePort: number, hint = -1) =>
  binding.findConnectionFd(hint, local, localPort, remote, remotePort);

/** Makes the socket look as it does in Deno: a handle without an fd. */
function hideFd(socket: net.Socket): () => void {
  const handle = (socket as unknown as { _handle: object })._handle;
  Object.defineProperty(handle, 'fd', { value: undefined, configurable: true });
  return () => void delete (handle as { fd?: unknown }).fd;
}

let pair: Pair | undefined;
const cleanup: Array<() => void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0)) step();
  await pair?.close();
  pair = undefined;
});

describe.skipIf(!canFind)('finding the fd of a connection by its endpoints', () => {
  it('tells a client from the server socket it connected to (same endpoints, swapped)', async () => {
    pair = await connectedPair();
    const { client, accepted } = pair;
    expect(find('127.0.0.1', client.localPort!, '127.0.0.1', client.remotePort!)).toBe(ownFd(client));
    expect(find('127.0.0.1', accepted.localPort!, '127.0.0.1', accepted.remotePort!)).toBe(ownFd(accepted));
    expect(ownFd(client)).not.toBe(ownFd(accepted));
  });

  it('never takes the listener, which has the accepted socket\'s local address but no peer', async () => {
    pair = await connectedPair();
    const port = (pair.server.address() as net.AddressInfo).port;
    // A peer port nobody connected from: only the listener has this local endpoint and no peer.
    expect(find('127.0.0.1', port, '127.0.0.1', 1)).toBe(-1);
    expect(find('127.0.0.1', port, '127.0.0.1', pair.client.localPort!)).toBe(ownFd(pair.accepted));
  });

  it('matches an IPv4-mapped IPv6 address with its IPv4 form, either way round', async () => {
    const server = net.createServer();
    const port = await listen(server, '::');
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    const client = net.connect(port, '127.0.0.1');
    await once(client, 'connect');
    const [socket] = await accepted;
    cleanup.push(() => {
      client.destroy();
      socket.destroy();
      server.close();
    });
    // The dual-stack server socket's own view is ::ffff:127.0.0.1.
    expect(socket.localAddress).toBe('::ffff:127.0.0.1');
    expect(find('::ffff:127.0.0.1', port, '::ffff:127.0.0.1', client.localPort!)).toBe(ownFd(socket));
    expect(find('127.0.0.1', port, '127.0.0.1', client.localPort!)).toBe(ownFd(socket));
    expect(find('::ffff:127.0.0.1', client.localPort!, '127.0.0.1', port)).toBe(ownFd(client));
  });

  it('checks the cached fd and searches again when it is no longer that connection', async () => {
    pair = await connectedPair();
    const { client, accepted } = pair;
    // A hint that is another socket's fd (as after the first fd was closed and reused)
    expect(find('127.0.0.1', client.localPort!, '127.0.0.1', client.remotePort!, ownFd(accepted))).toBe(ownFd(client));
    // and one that is no fd at all.
    expect(find('127.0.0.1', client.localPort!, '127.0.0.1', client.remotePort!, 999_999)).toBe(ownFd(client));
  });

  it('gives -1 for an address that is none', () => {
    expect(find('not-an-address', 1, '127.0.0.1', 2)).toBe(-1);
  });

  it('gives a socket whose handle shows no fd the full API (as in Deno)', async () => {
    pair = await connectedPair();
    const fd = ownFd(pair.accepted);
    cleanup.push(hideFd(pair.accepted));
    expect((pair.accepted as unknown as { _handle: { fd?: number } })._handle.fd).toBeUndefined();
    expect(handleFd(pair.accepted)).toBe(fd);
    expect(setKeepAlive(pair.accepted, { idle: 33_000, interval: 3_000, count: 3 })).toMatchObject({ enabled: true, idle: 33_000, interval: 3_000, count: 3 });
    expect(getKeepAlive(pair.accepted)).toMatchObject({ idle: 33_000, interval: 3_000, count: 3 });
    // On the accepted socket, not on its client in the same process.
    expect(getKeepAlive(pair.client).idle).not.toBe(33_000);
  });

  it('a socket not yet connected is held until it connects, not searched for', async () => {
    const server = net.createServer();
    const port = await listen(server);
    const socket = new net.Socket();
    cleanup.push(() => {
      socket.destroy();
      server.close();
    });
    expect(handleFd(socket)).toBe(-1);
    expect(setKeepAlive(socket, { idle: 31_000 })).toBeNull();
    socket.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    expect(getKeepAlive(socket).idle).toBe(31_000);
  });
});
