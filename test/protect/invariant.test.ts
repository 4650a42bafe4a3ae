// The invariant of protect() and the preload: a socket that sockets() lists
// and stats().protected counts holds the policy in the kernel, read back
// with getsockopt from the application's process, from the end of the
// first event-loop turn that sees it; one that cannot get it is counted
// under unprotected and not listed. Each case here once broke it.
import { once } from 'node:events';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isLinux } from '../support/sockets';
import { Child, fixture, OBSERVER, POLICY, POLICY_TEXT, REGISTER, type Report } from './support';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function start(app: string, env: Record<string, string>, preload = true, stdio?: Array<net.Socket>): Child {
  const execArgv = preload ? ['--require', REGISTER, '--require', OBSERVER] : ['--require', OBSERVER];
  const child = new Child(app, { TCP_KEEPALIVE: POLICY_TEXT, ...env }, execArgv, stdio);
  cleanup.push(() => child.stop());
  return child;
}

async function connectMany(port: number, count: number): Promise<net.Socket[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      cleanup.push(() => socket.destroy());
      await once(socket, 'connect');
      return socket;
    }),
  );
}

/** Every established TCP socket of the app holds the policy, and sockets() lists exactly those. */
function expectAllProtected(report: Report, count: number): void {
  expect(report.report).toHaveLength(count);
  expect(report.report.map((s) => s.keepalive)).toEqual(Array(count).fill(POLICY));
  expect(report.inventory).toHaveLength(count);
  expect(report.inventory.map((s) => s.keepalive)).toEqual(Array(count).fill(POLICY));
  expect(report.stats).toMatchObject({ protected: count, live: count });
}

describe.skipIf(!isLinux)(`accepted sockets${isLinux ? '' : ' (skipped: the observer reads /proc)'}`, { timeout: 60_000 }, () => {
  const BURST = 30;

  /** Connections complete their handshakes while the app's event loop is blocked: they wait in the accept queue. */
  async function burst(child: Child, port: number, acceptedBefore = 0): Promise<Report> {
    const busy = child.next((m) => m.busy);
    child.process.send({ busy: 1500 });
    await busy;
    await connectMany(port, BURST);
    for (;;) {
      const counted = child.next((m) => (m.acceptedCount !== undefined ? (m.acceptedCount as number) : undefined));
      child.process.send({ accepted: true });
      if ((await counted) === acceptedBefore + BURST) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return child.report();
  }

  it.each(['net', 'http', 'https', 'http2'])('a burst into the accept queue of a busy %s server: each of them holds the policy', async (kind) => {
    const child = start(fixture('busy-server-app.cjs'), { SERVER_KIND: kind });
    const { serverPort } = await child.next((m) => m.ready);
    expectAllProtected(await burst(child, serverPort), BURST);
  });

  it('a burst into a listener that listened before protect() was called (taken in at its first accept)', async () => {
    const child = start(fixture('busy-server-app.cjs'), { SERVER_KIND: 'net', PROTECT_AFTER_LISTEN: '1' }, false);
    const { serverPort } = await child.next((m) => m.ready);
    expectAllProtected(await burst(child, serverPort), BURST);
  });

  it.each(['net', 'http'])("a %s server made with Node's keepAlive: true, keepAliveInitialDelay: 30000: the policy takes precedence", async (kind) => {
    const child = start(fixture('busy-server-app.cjs'), { SERVER_KIND: kind, SERVER_KEEPALIVE: '1' });
    const { serverPort } = await child.next((m) => m.ready);
    // one at a time, then a burst
    for (let i = 0; i < 3; i++) await connectMany(serverPort, 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expectAllProtected(await burst(child, serverPort, 3), BURST + 3);
  });
});
