// The preload where the native addon is missing (no prebuild fits, nothing
// to compile with): it applies what Node's own setKeepAlive() can, says
// in one line at start what it cannot, exits 9 instead with addon=required,
// and a death is reported without keeping the socket from closing.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { harnessBinding } from '../../lib/harness/native';
import { handleFd } from '../../lib/kernel/socket';
import { isLinux, isRoot, listen } from '../support/sockets';
import { Child, fixture, OBSERVER, ROOT } from './support';

const nodeTakesIntervalAndCount = net.Socket.prototype.setKeepAlive.length >= 4;
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** This package's compiled code and manifest, without build/ and prebuilds/: what an install with no addon has. */
let copy: string;
beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), `tcp-keepalive-no-addon-${process.pid}-`));
  cpSync(join(ROOT, 'dist'), join(copy, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));
const register = () => join(copy, 'dist', 'protect', 'register.js');

function runPreloaded(policy: string) {
  return spawnSync(process.execPath, ['--require', register(), '-e', 'console.log("the app ran")'], {
    env: { ...process.env, TCP_KEEPALIVE: policy },
    encoding: 'utf8',
  });
}

describe.skipIf(!isLinux)(`without the addon${isLinux ? '' : ' (skipped: the copy without an addon is made for Linux)'}`, { timeout: 60_000 }, () => {
  it('the app runs, and one line at start says what is not applied, why, and how to exit instead', () => {
    const result = runPreloaded('idle=2s,interval=1s,count=3,userTimeout=auto');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('the app ran\n');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const lost = nodeTakesIntervalAndCount ? 'userTimeout' : 'interval, count, userTimeout';
    expect(lines[0]).toMatch(new RegExp(`^tcp-keepalive/register: .*applied through Node's setKeepAlive.*not ${lost}: .*needs the native addon`));
    expect(lines[0]).toMatch(/no build of the native addon for linux-/);
    expect(lines[0]).toMatch(/addon=required/);
  });

  it('addon=required exits 9 before the app runs, in one line', () => {
    const result = runPreloaded('within=30s,addon=required');
    expect(result.status).toBe(9);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/addon=required: .*needs the native addon/);
  });

  it('a policy of nothing Node can set exits 9', () => {
    const result = runPreloaded('userTimeout=10s');
    expect(result.status).toBe(9);
    expect(result.stderr).toMatch(/none of the policy can be applied/);
  });

  async function started(policy: string) {
    const server = net.createServer();
    const port = await listen(server);
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const accepted = once(server, 'connection').then(([socket]) => (socket as net.Socket).on('error', () => {}));
    const child = new Child(fixture('no-addon-app.cjs'), { TCP_KEEPALIVE: policy, TARGET_PORT: String(port), PACKAGE_DIR: copy }, [
      '--require',
      register(),
      '--require',
      OBSERVER,
    ]);
    cleanup.push(() => child.stop());
    const ready = await child.next((m) => m.ready);
    const peer = await accepted;
    cleanup.push(() => peer.destroy());
    return { child, ready, peer };
  }

  it("each socket holds what Node's setKeepAlive() set, and is counted and listed", async () => {
    const { child, ready } = await started('idle=2s,interval=1s,count=3,userTimeout=auto');
    const { report } = await child.report();
    expect(report).toHaveLength(1);
    const nodeSets = nodeTakesIntervalAndCount ? { interval: 1000, count: 3 } : { interval: 1000, count: 10 }; // libuv's 1 s x 10
    expect(report[0].keepalive).toEqual({ enabled: true, idle: 2000, ...nodeSets, userTimeout: 0 });
    expect(ready.stats).toMatchObject({ protected: 1, live: 1, unprotected: { error: 0 } });
    expect(ready.listed).toBe(1);
  });

  it.skipIf(!isRoot)("a socket that times out closes with ETIMEDOUT and its death is reported (as root: the peer's filter)", async () => {
    const { child, peer } = await started('idle=1s,interval=1s,count=2');
    const closed = child.next((m) => m.closed, 40_000);
    // The peer drops every segment: the app's probes go unanswered.
    harnessBinding.attachDropFilter(handleFd(peer));
    const { error, stats } = await closed;
    expect(error).toBe('ETIMEDOUT');
    expect(stats).toMatchObject({ live: 0, deaths: { timeout: 1 } });
    const dead = await child.death(() => true);
    expect(dead).toMatchObject({ cause: 'timeout', code: 'ETIMEDOUT', remotePort: peer.localPort, silentMs: null });
  });
});
