// sockets() and stats().live for a client socket reused for reconnects (as
// pg and ioredis reuse theirs): listed once while connected, not while it
// reconnects, and counted live once.
import * as net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { getKeepAlive, protect, sockets, stats } from '../../lib';
import { listen } from '../support/sockets';

describe('sockets() with a client socket reused for reconnects', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('lists it once while connected, not while reconnecting, and counts it live once', async () => {
    const accepted: net.Socket[] = [];
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      accepted.push(socket);
    });
    const port = await listen(server);
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const unprotect = protect({ idle: 7000, interval: 2000, count: 2 });
    cleanup.push(unprotect);
    const liveBefore = stats().live;
    const socket = new net.Socket();
    cleanup.push(() => socket.destroy());
    for (let attempt = 0; attempt < 3; attempt++) {
      socket.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      const mine = sockets().filter((s) => s.socket === socket);
      expect(mine).toHaveLength(1);
      expect(getKeepAlive(socket)).toMatchObject({ enabled: true, idle: 7000, interval: 2000, count: 2 });

      while (accepted.length <= attempt) await new Promise((resolve) => setImmediate(resolve));
      const serverEnd = accepted[attempt];
      // this client and the server's end of it
      expect(stats().live - liveBefore).toBe(2);
      const closed = Promise.all([once(socket, 'close'), serverEnd.closed ? null : once(serverEnd, 'close')]);
      socket.destroy();
      await closed;
      expect(sockets().filter((s) => s.socket === socket)).toHaveLength(0);
      expect(stats().live).toBe(liveBefore);
    }
  });
});
