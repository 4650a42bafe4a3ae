// The preload as a user starts it: --require, --import, NODE_OPTIONS; a bad
// TCP_KEEPALIVE; sockets that must be left alone; deaths by reset and on
// the server side; an app that uses the package's API too.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { harnessBinding } from '../../lib/harness/native';
import { handleFd } from '../../lib/kernel/socket';
import { isLinux, isRoot, listen } from '../support/sockets';
import { BUDGET_MS, Child, fixture, OBSERVER, POLICY, POLICY_TEXT, ROOT } from './support';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function acceptingServer(): Promise<{ port: number; accepted: Promise<net.Socket> }> {
  const server = net.createServer();
  const port = await listen(server);
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  const accepted = once(server, 'connection').then(([socket]) => {
    socket.on('error', () => {});
    cleanup.push(() => socket.destroy());
    return socket as net.Socket;
  });
  return { port, accepted };
}

function start(app: string, env: Record<string, string>, load = ['--require', 'tcp-keepalive/register']): Child {
  const child = new Child(app, { TCP_KEEPALIVE: POLICY_TEXT, ...env }, [...load, '--require', OBSERVER]);
  cleanup.push(() => child.stop());
  return child;
}

function runPreloaded(env: Record<string, string | undefined>, flag = '--require') {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const key of Object.keys(childEnv)) if (childEnv[key] === undefined) delete childEnv[key];
  return spawnSync(process.execPath, [flag, 'tcp-keepalive/register', '-e', 'console.log("the app ran")'], {
    cwd: ROOT,
    env: childEnv as NodeJS.ProcessEnv,
    encoding: 'utf8',
  });
}

describe('a bad TCP_KEEPALIVE', () => {
  it.each([
    ['idle=0s', /idle.*0s/],
    ['idel=2s', /unknown key "idel"; keys: idle, interval, count, userTimeout/],
    ['idle=2', /idle.*["']2["']/],
    ['count=three', /count must be a whole number/],
    ['count=500', /count.*out of range.*from 1 to 127/],
    ['interval=40000s', /interval.*out of range/],
    ['userTimeout=soon', /userTimeout.*soon/],
    ['within=1s', /within.*at least 2000 ms/],
    ['within=30s,idle=2s', /within sets idle, interval, count and userTimeout itself/],
    ['idle=2s,idle=3s', /idle is given twice/],
    ['idle', /"idle" is not key=value/],
    ['', /is not set/],
    [undefined, /is not set/],
  ])('%j exits 9 before the app runs, with one line naming it', (text, message) => {
    const result = runPreloaded({ TCP_KEEPALIVE: text });
    expect(result.status).toBe(9);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('also with --import', () => {
    const result = runPreloaded({ TCP_KEEPALIVE: 'idle=0s' }, '--import');
    expect(result.status).toBe(9);
    expect(result.stderr).toMatch(/idle.*0s/);
  });
});

describe.skipIf(!isLinux)(`reaching the sockets${isLinux ? '' : ' (skipped: reads /proc)'}`, { timeout: 90_000 }, () => {
  it.each([
    ['--require', ['--require', 'tcp-keepalive/register']],
    ['--import', ['--import', 'tcp-keepalive/register']],
  ])("%s: new net.Socket().connect() (pg's path) and an accepted socket hold the policy", async (_name, load) => {
    const { port, accepted } = await acceptingServer();
    const child = start(fixture('plain-app.cjs'), { TARGET_PORT: String(port) }, load);
    const { serverPort } = await child.next((m) => m.ready);
    const incoming = net.connect(serverPort, '127.0.0.1');
    incoming.on('error', () => {});
    cleanup.push(() => incoming.destroy());
    await once(incoming, 'connect');
    await accepted;
    const { report, stats } = await child.report();
    expect(report.map((s) => s.remotePort === port || s.localPort === serverPort)).toEqual([true, true]);
    for (const socket of report) expect(socket.keepalive).toEqual(POLICY);
    expect(stats).toMatchObject({ protected: 2, live: 2 });
  });

  it('NODE_OPTIONS works the same', async () => {
    const { port, accepted } = await acceptingServer();
    const child = start(fixture('plain-app.cjs'), { TARGET_PORT: String(port), NODE_OPTIONS: '--require tcp-keepalive/register' }, []);
    await child.next((m) => m.ready);
    await accepted;
    const { report } = await child.report();
    expect(report).toHaveLength(1);
    expect(report[0].keepalive).toEqual(POLICY);
  });

  it('leaves Unix-domain sockets alone and counts them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'preload-unix-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'app.sock');
    const server = net.createServer((socket) => socket.on('error', () => {}));
    server.listen(path);
    await once(server, 'listening');
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const child = start(fixture('plain-app.cjs'), { UNIX_PATH: path });
    await child.next((m) => m.ready);
    const { stats, inventory } = await child.report();
    expect(stats.unprotected.unix).toBe(1);
    expect(stats.unprotected.error).toBe(0);
    expect(inventory).toHaveLength(0);
  });

  it("values the app sets with this package's API stay on top of the policy, also after a driver's setKeepAlive()", async () => {
    const { port } = await acceptingServer();
    const child = start(fixture('api-app.cjs'), { TARGET_PORT: String(port) }, ['--require', 'tcp-keepalive/register']);
    const { state } = await child.next((m) => m.ready);
    expect(state).toEqual({ ...POLICY, idle: 9000 });
  });
});

describe.skipIf(!isRoot)(`deaths${isRoot ? '' : ' (skipped: silencing a peer needs CAP_NET_ADMIN for TCP_REPAIR and socket filters)'}`, () => {
  it("a peer that vanished while the connection idled answers the probe with RST: cause 'reset'", async () => {
    const { port, accepted } = await acceptingServer();
    const child = start(fixture('plain-app.cjs'), { TARGET_PORT: String(port) });
    const { clientPort } = await child.next((m) => m.ready);
    const peer = await accepted;
    // In repair mode close() sends nothing: the kernel forgets the connection silently.
    harnessBinding.setRepairMode(handleFd(peer), true);
    peer.destroy();
    const dead = await child.death((d) => d.localPort === clientPort, BUDGET_MS + 10_000);
    expect(dead).toMatchObject({ cause: 'reset', code: 'ECONNRESET', remotePort: port, budgetMs: BUDGET_MS });
    expect(dead.silentMs).toBeGreaterThanOrEqual(POLICY.idle);
  }, 90_000);

  it("an accepted socket whose client went silent is reported as a timeout within budget + 1 s", async () => {
    const child = start(fixture('plain-app.cjs'), {});
    const { serverPort } = await child.next((m) => m.ready);
    const incoming = net.connect(serverPort, '127.0.0.1');
    incoming.on('error', () => {});
    cleanup.push(() => incoming.destroy());
    await once(incoming, 'connect');
    await child.report(); // the app has accepted it
    const start_ = Date.now();
    // Drops every segment for this socket: the app's probes go unanswered.
    harnessBinding.attachDropFilter(handleFd(incoming));
    const dead = await child.death((d) => d.localPort === serverPort, BUDGET_MS + 10_000);
    expect(dead).toMatchObject({ cause: 'timeout', code: 'ETIMEDOUT', remotePort: incoming.localPort });
    expect(dead.at - start_).toBeLessThanOrEqual(BUDGET_MS + 1000);
  }, 90_000);
});
