// The addon in worker threads: loaded by several at once, each with its own
// sockets and values, and gone with them when they exit or are terminated.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { getKeepAlive, setKeepAlive, systemDefaults } from '../../lib';
import { connectedPair, isLinux } from '../support/sockets';
import { ROOT } from '../support/paths';


// Each worker opens its own loopback pair, sets values of its own, checks
// them many times over (while the other workers do the same), hits the error
// path, and reports.
const WORKER = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { setKeepAlive, getKeepAlive, tcpInfo, systemDefaults } = require(workerData.root + '/dist/index.js');
const { id, rounds } = workerData;
const server = net.createServer().listen(0, '127.0.0.1', () => {
  const client = net.connect(server.address().port, '127.0.0.1', () => {
    const wanted = { idle: (id + 1) * 1000, interval: (id + 2) * 1000, count: id + 1, userTimeout: (id + 1) * 777 };
    let mismatches = 0, ebadf = 0;
    for (let i = 0; i < rounds; i++) {
      setKeepAlive(client, wanted);
      const got = getKeepAlive(client);
      if (got.idle !== wanted.idle || got.interval !== wanted.interval || got.count !== wanted.count || got.userTimeout !== wanted.userTimeout) mismatches++;
      try { getKeepAlive(2 ** 24); } catch (e) { if (e.code === 'EBADF') ebadf++; }
    }
    const result = { id, mismatches, ebadf, state: getKeepAlive(client), tcpState: tcpInfo(client).state, defaults: systemDefaults() };
    client.destroy();
    server.close(() => parentPort.postMessage(result));
  });
});
`;

// A process whose workers are terminated while inside the addon. A native
// call that meets a terminating thread must not take the process down, so
// this runs in a child of its own: a crash is a failed test, not a lost fork.
const TERMINATE = String.raw`
const { Worker } = require('node:worker_threads');
const ROOT = process.argv[1];
const BUSY = "const { parentPort, workerData } = require('node:worker_threads');" +
  "const { systemDefaults, getKeepAlive } = require(workerData.root + '/dist/index.js');" +
  "parentPort.postMessage('loaded');" +
  "for (;;) { systemDefaults(); try { getKeepAlive(2 ** 24); } catch {} }";
(async () => {
  const codes = [];
  for (let i = 0; i < 10; i++) {
    const worker = new Worker(BUSY, { eval: true, workerData: { root: ROOT } });
    await new Promise((resolve) => worker.once('message', resolve));
    codes.push(await worker.terminate());
  }
  const { systemDefaults } = require(ROOT + '/dist/index.js');
  console.log(JSON.stringify({ codes, defaults: systemDefaults() }));
})();
`;

const threads = () => readdirSync('/proc/self/task').length;
const fds = () => readdirSync('/proc/self/fd').length;

async function run(code: string, workerData: object): Promise<{ result: unknown; exitCode: number }> {
  const worker = new Worker(code, { eval: true, workerData: { root: ROOT, ...workerData } });
  // 'exit' may come before the 'message' handler's continuation runs: listen first.
  const exit = once(worker, 'exit');
  const [result] = await once(worker, 'message');
  const [exitCode] = await exit;
  return { result, exitCode };
}

describe.skipIf(!isLinux)('worker threads (Linux: counts threads and fds in /proc/self)', () => {
  beforeAll(() => {
    expect(existsSync(join(ROOT, 'dist/index.js')), 'dist/ is built by npm test (pretest); run npx tsc -p . first').toBe(true);
  });

  it('8 workers at once each set and read back their own values 5 000 times, then exit cleanly', async () => {
    const before = { threads: threads(), fds: fds() };
    const runs = await Promise.all(Array.from({ length: 8 }, (_, id) => run(WORKER, { id, rounds: 5_000 })));
    for (const [id, { result, exitCode }] of runs.entries()) {
      expect(exitCode).toBe(0);
      expect(result).toEqual({
        id,
        mismatches: 0,
        ebadf: 5_000,
        state: { enabled: true, idle: (id + 1) * 1000, interval: (id + 2) * 1000, count: id + 1, userTimeout: (id + 1) * 777 },
        tcpState: 1,
        defaults: systemDefaults(),
      });
    }
    // Threads and their sockets are gone.
    await expect.poll(threads).toBe(before.threads);
    expect(fds()).toBe(before.fds);
  });

  it('40 workers loaded and unloaded one after another: the main thread still works', async () => {
    const before = { threads: threads(), fds: fds() };
    for (let id = 0; id < 40; id++) {
      const { exitCode } = await run(WORKER, { id: id % 8, rounds: 10 });
      expect(exitCode).toBe(0);
    }
    await expect.poll(threads).toBe(before.threads);
    expect(fds()).toBe(before.fds);

    const pair = await connectedPair();
    try {
      expect(setKeepAlive(pair.client, { idle: 9_000, count: 2 })).toMatchObject({ enabled: true, idle: 9_000, count: 2 });
      expect(getKeepAlive(pair.client)).toMatchObject({ enabled: true, idle: 9_000, count: 2 });
    } finally {
      await pair.close();
    }
  });

  it('10 workers terminated while calling the addon (success and error paths): the process lives on', () => {
    const child = spawnSync(process.execPath, ['-e', TERMINATE, ROOT], { encoding: 'utf8', timeout: 60_000 });
    expect({ status: child.status, signal: child.signal, stderr: child.stderr.trim() }).toEqual({ status: 0, signal: null, stderr: '' });
    // terminate() resolves with 1 for a thread stopped from outside.
    expect(JSON.parse(child.stdout)).toEqual({ codes: Array(10).fill(1), defaults: systemDefaults() });
  });
});
