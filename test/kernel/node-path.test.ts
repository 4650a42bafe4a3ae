// Without the addon, setKeepAlive goes through Node's own socket.setKeepAlive,
// which cannot read the kernel back. What it returns must still be what the
// kernel holds, and options left out must keep their values, on every Node
// the package supports (CI runs this file under Node 20, 22, 24 and 26).
// A copy of the package with no addon runs in a child process; the kernel's
// view of the same socket is read with this checkout's addon.
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageWithOnly } from '../support/foreign-node';
import { ROOT } from '../support/paths';

const ADDON = join(ROOT, 'build', 'Release', 'tcp_keepalive.node');
const nodeTakesIntervalAndCount = net.Socket.prototype.setKeepAlive.length >= 4;

// argv: [package dir, addon]. Prints one step per call: what the package
// returned (or its error) and what getsockopt then reads.
const STEPS = `
const net = require('node:net');
const [dir, addon] = process.argv.slice(1);
const pkg = require(dir);
const kernel = { exports: {} };
process.dlopen(kernel, addon);
const steps = [];
const server = net.createServer().listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => {
    const step = (name, options) => {
      let returned;
      try {
        returned = pkg.setKeepAlive(socket, options);
      } catch (error) {
        returned = { code: error.code, message: error.message };
      }
      const [enabled, idleS, intervalS, count] = kernel.exports.getKeepAlive(socket._handle.fd);
      steps.push({ name, returned, kernel: { enabled, idle: idleS * 1000, interval: intervalS * 1000, count, userTimeout: null } });
    };
    step('idle on a fresh socket', { idle: 20000 });
    step('interval and count', { interval: 5000, count: 4 });
    step('idle again', { idle: 30000 });
    step('count alone', { count: 3 });
    step('off', false);
    step('on again with idle', { idle: 40000 });
    console.log(JSON.stringify({ hasAddon: require(dir + '/dist/native.js').hasAddon(), steps }));
    socket.destroy();
    server.close();
  });
});
`;

interface Step {
  name: string;
  returned: Record<string, unknown>;
  kernel: Record<string, unknown>;
}

describe.skipIf(process.platform !== 'linux')(`setKeepAlive without the addon, through Node ${process.version}'s own API`, () => {
  let pkg: ReturnType<typeof packageWithOnly>;
  let steps: Record<string, Step>;

  beforeAll(() => {
    pkg = packageWithOnly(null);
    const child = spawnSync(process.execPath, ['-e', STEPS, pkg.dir, ADDON], { encoding: 'utf8', timeout: 20_000 });
    if (child.status !== 0) throw new Error(`child exited ${child.status}: ${child.stderr}`);
    const out = JSON.parse(child.stdout) as { hasAddon: boolean; steps: Step[] };
    expect(out.hasAddon).toBe(false);
    steps = Object.fromEntries(out.steps.map((step) => [step.name, step]));
  });

  afterAll(() => pkg?.remove());

  it('returns what the kernel holds after each call that succeeds', () => {
    for (const step of Object.values(steps)) {
      if ('code' in step.returned) continue;
      expect(step.returned, step.name).toEqual(step.kernel);
    }
  });

  it("reports libuv's interval and count after an idle-only call (1 s and 10 on Linux), not the system's", () => {
    expect(steps['idle on a fresh socket'].kernel).toMatchObject({ enabled: true, idle: 20_000 });
    expect(steps['idle on a fresh socket'].returned).toEqual(steps['idle on a fresh socket'].kernel);
    if (!nodeTakesIntervalAndCount) expect(steps['idle on a fresh socket'].kernel).toMatchObject({ interval: 1_000, count: 10 });
  });

  it.runIf(nodeTakesIntervalAndCount)('keeps options left out (Node 24.19+/26.4+ would reset interval and count to 1 s and 10)', () => {
    expect(steps['interval and count'].kernel).toEqual({ enabled: true, idle: 20_000, interval: 5_000, count: 4, userTimeout: null });
    expect(steps['idle again'].kernel).toEqual({ enabled: true, idle: 30_000, interval: 5_000, count: 4, userTimeout: null });
    expect(steps['count alone'].kernel).toEqual({ enabled: true, idle: 30_000, interval: 5_000, count: 3, userTimeout: null });
    expect(steps.off.kernel).toMatchObject({ enabled: false });
    expect(steps['on again with idle'].kernel).toEqual({ enabled: true, idle: 40_000, interval: 5_000, count: 3, userTimeout: null });
  });

  it.runIf(!nodeTakesIntervalAndCount)('says at once that this Node cannot set interval or count, and changes nothing', () => {
    for (const name of ['interval and count', 'count alone']) {
      expect(steps[name].returned, name).toMatchObject({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED', message: expect.stringMatching(/24\.19\+ or 26\.4\+/) });
    }
    expect(steps['interval and count'].kernel).toEqual(steps['idle on a fresh socket'].kernel);
    expect(steps['idle again'].kernel).toEqual({ enabled: true, idle: 30_000, interval: 1_000, count: 10, userTimeout: null });
    expect(steps['on again with idle'].returned).toEqual({ enabled: true, idle: 40_000, interval: 1_000, count: 10, userTimeout: null });
  });
});
