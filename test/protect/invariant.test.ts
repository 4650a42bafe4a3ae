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

function start(app: string, env: Record<string, string>, preload = true, passed: net.Socket[] = []): Child {
  const execArgv = preload ? ['--require', REGISTER, '--require', OBSERVER] : ['--require', OBSERVER];
  const child = new Child(app, { TCP_KEEPALIVE: POLICY_TEXT, ...env }, execArgv, passed);
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

describe.skipIf(!isLinux)(`cluster${isLinux ? '' : ' (skipped: the observer reads /proc)'}`, { timeout: 90_000 }, () => {
  it.each(['rr', 'none'])('CLUSTER_SCHED=%s: after one worker calls unprotect(), the other still lists only sockets that hold the policy', async (sched) => {
    const child = start(fixture('cluster-app.cjs'), { CLUSTER_SCHED: sched }, false);
    const fromWorker = <T>(index: number, pick: (message: any) => T | undefined) =>
      child.next((m) => (m.worker === index ? pick(m.message) : undefined));
    const [{ serverPort }] = await Promise.all([fromWorker(0, (m) => m.ready), fromWorker(1, (m) => m.ready)]);
    const count = async (index: number) => {
      const answer = fromWorker(index, (m) => m.acceptedCount as number | undefined);
      child.process.send({ to: index, command: 'count' });
      return answer;
    };
    const report = async (index: number) => {
      const answer = fromWorker(index, (m) => (m.report ? (m as Report) : undefined));
      const accepted = fromWorker(index, (m) => m.acceptedAtReport as number | undefined);
      child.process.send({ to: index, command: 'report' });
      return { ...(await answer), accepted: await accepted };
    };
    /** Connects in batches until worker `index` has accepted at least `atLeast`. */
    const until = async (index: number, atLeast: number) => {
      for (let batch = 0; (await count(index)) < atLeast; batch++) {
        if (batch === 60) throw new Error(`worker ${index} accepted fewer than ${atLeast} connections`);
        await connectMany(serverPort, 4);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    // both workers have accepted (and, before the fix, given their listener the policy)
    await until(0, 1);
    await until(1, 1);
    const unprotected = fromWorker(0, (m) => m.unprotected);
    child.process.send({ to: 0, command: 'unprotect' });
    await unprotected;
    const before = await count(1);
    await until(1, before + 8);
    const stillProtected = await report(1);
    expect(stillProtected.accepted).toBeGreaterThanOrEqual(before + 8);
    // With SCHED_RR a handle the primary sent may be in this process before its 'connection' runs: all the kernel holds has the policy,
    // and sockets() lists each socket the app has accepted.
    expect(stillProtected.report.map((s) => s.keepalive)).toEqual(Array(stillProtected.report.length).fill(POLICY));
    expect(stillProtected.inventory.map((s) => s.keepalive)).toEqual(Array(stillProtected.accepted).fill(POLICY));
    expect(stillProtected.stats).toMatchObject({ protected: stillProtected.accepted, live: stillProtected.accepted });
    const left = await report(0);
    expect(left.inventory).toHaveLength(0);
    expect(left.stats.live).toBe(0);
  });
});

describe.skipIf(!isLinux)(`sockets that move between processes${isLinux ? '' : ' (skipped: the observer reads /proc)'}`, { timeout: 90_000 }, () => {
  it('hand-off with child.send("socket", s): the sender lets each go, the receiver protects and lists each', async () => {
    const preload = ['--require', REGISTER, '--require', OBSERVER];
    const child = start(fixture('handoff-app.cjs'), { HANDOFF_EXEC_ARGV: JSON.stringify(preload) });
    const { serverPort } = await child.next((m) => m.ready);
    const HANDOFFS = 60;
    for (let i = 0; i < HANDOFFS; i += 10) await connectMany(serverPort, 10);
    for (;;) {
      const received = child.next((m) => (m.child?.receivedCount !== undefined ? (m.child.receivedCount as number) : undefined));
      child.process.send({ toChild: 'count' });
      if ((await received) === HANDOFFS) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const sender = await child.report();
    expect(sender.inventory).toHaveLength(0);
    expect(sender.stats.live).toBe(0);
    const receiverReport = child.next((m) => (m.child?.report ? (m.child as Report) : undefined));
    child.process.send({ toChild: 'report' });
    expectAllProtected(await receiverReport, HANDOFFS);
  });

  it('a socket made with new net.Socket({ fd }) and one received over IPC are protected and listed', async () => {
    const server = net.createServer((socket) => socket.on('error', () => {}));
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const [forFd, forIpc] = await connectMany(port, 2);
    const child = start(fixture('fd-app.cjs'), {}, true, [forFd]);
    await child.next((m) => m.ready);
    const received = child.next((m) => m.receivedCount);
    child.process.send('socket', forIpc);
    await received;
    expectAllProtected(await child.report(), 2);
  });
});
