// 100 000 heartbeat monitors attached and detached leave heap, RSS and open
// fds where they were. Measured in a child process started with --expose-gc;
// the child prints its figures and this test prints them too.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLinux } from './support';

const root = join(__dirname, '..');
const MiB = 1024 * 1024;
/**
 * Stated margins from after the warm-up rounds to the end; `native` is RSS
 * minus the V8 heap's resident size. A monitor that outlived its stop()
 * would hold its object and closures (hundreds of bytes): 100 000 of them
 * are tens of MiB of heap.
 */
const MARGIN = { heapBytes: 1 * MiB, nativeBytes: 8 * MiB, fds: 0 };
/** ASan keeps freed memory in quarantine, so resident memory says nothing there; heap and fds still do. */
const sanitized = /libasan/.test(process.env.LD_PRELOAD ?? '');

// Rounds of 10 000 monitors all running at once, then all stopped: half
// generic monitor()s with listeners on them, half heartbeat()s attached to
// and detached from the same 5 000 streams (a stream takes one heartbeat at
// a time): 10 live TCP sockets and 4 990 in-memory duplex streams.
const CHILD = String.raw`
const net = require('node:net');
const fs = require('node:fs');
const { PassThrough } = require('node:stream');
const { monitor, heartbeat } = require(process.argv[1] + '/dist/index.js');
const ROUNDS = 10, PER_ROUND = 10000, SOCKETS = 10;
function sample() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  // native: the resident memory outside V8's heap, where an addon's allocations live.
  const native = m.rss - require('node:v8').getHeapStatistics().total_physical_size;
  return { heap: m.heapUsed, rss: m.rss, native, fds: fs.readdirSync('/proc/self/fd').length };
}
const listeners = (s) => s.eventNames().reduce((n, e) => n + s.listenerCount(e), 0);
const server = net.createServer((s) => s.on('error', () => {})).listen(0, '127.0.0.1', async () => {
  const sockets = [];
  for (let i = 0; i < SOCKETS; i++) {
    const s = net.connect(server.address().port, '127.0.0.1');
    await new Promise((resolve) => s.once('connect', resolve));
    sockets.push(s);
  }
  const streams = [...sockets, ...Array.from({ length: PER_ROUND / 2 - SOCKETS }, () => new PassThrough())];
  const baseline = streams.map(listeners);
  let attached = 0, maxRunning = 0;
  const round = () => {
    const running = [];
    for (let i = 0; i < PER_ROUND; i++) {
      const m = i % 2
        ? monitor({ idle: 60000 + i, interval: 1000, count: 3, ping: () => {} })
        : heartbeat(streams[i / 2], { idle: 60000 + i, interval: 1000, count: 3, framing: i % 4 ? 'compact' : 'classic' });
      m.on('dead', () => {});
      m.on('ping', () => {});
      running.push(m);
    }
    maxRunning = Math.max(maxRunning, running.filter((m) => m.active).length);
    for (const m of running) m.stop();
    attached += running.length;
  };
  // Warm-up: the first rounds grow RSS to the peak of 10 000 live monitors,
  // pages that V8 and malloc keep for reuse; it is flat from then on.
  for (let w = 0; w < 3; w++) round();
  attached = 0;
  const before = sample();
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) { round(); samples.push(sample()); }
  const listenersLeft = streams.map(listeners).reduce((n, c, i) => n + c - baseline[i], 0);
  for (const s of sockets) s.destroy();
  server.close();
  console.log(JSON.stringify({ attached, maxRunning, listenersLeft, before, after: samples[samples.length - 1], samples }));
});
`;

describe.skipIf(!isLinux)('heartbeat leaks (Linux: counts open fds in /proc/self/fd)', () => {
  it('100 000 monitors and heartbeats attached and stopped, 10 000 running at a time: heap, native memory, fds and listeners flat', () => {
    expect(existsSync(join(root, 'dist/index.js')), 'dist/ is built by npm test (pretest); run npx tsc -p . first').toBe(true);
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', CHILD, root], { encoding: 'utf8', timeout: 120_000 });
    const figures = JSON.parse(out.trim().split('\n').pop()!);
    const growth = {
      heapBytes: figures.after.heap - figures.before.heap,
      nativeBytes: figures.after.native - figures.before.native,
      fds: figures.after.fds - figures.before.fds,
    };
    console.log(
      `heartbeat leak check: ${figures.attached} attached and stopped (${figures.maxRunning} running at once), ${figures.listenersLeft} socket listeners left: ` +
        `heap ${(figures.before.heap / MiB).toFixed(2)} -> ${(figures.after.heap / MiB).toFixed(2)} MiB (${growth.heapBytes} B), ` +
        `native ${(figures.before.native / MiB).toFixed(1)} -> ${(figures.after.native / MiB).toFixed(1)} MiB (RSS ${(figures.before.rss / MiB).toFixed(1)} -> ${(figures.after.rss / MiB).toFixed(1)}), ` +
        `fds ${figures.before.fds} -> ${figures.after.fds}; margins: heap ${MARGIN.heapBytes / MiB} MiB, native ${MARGIN.nativeBytes / MiB} MiB, fds ${MARGIN.fds}` +
        (sanitized ? ' (native not judged under ASan)' : ''),
    );
    expect(figures.attached).toBe(100_000);
    expect(figures.maxRunning).toBe(10_000);
    expect(figures.listenersLeft).toBe(0);
    expect(growth.heapBytes).toBeLessThanOrEqual(MARGIN.heapBytes);
    expect(growth.fds).toBeLessThanOrEqual(MARGIN.fds);
    if (!sanitized) expect(growth.nativeBytes).toBeLessThanOrEqual(MARGIN.nativeBytes);
  });
});
