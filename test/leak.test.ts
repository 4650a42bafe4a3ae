// One million setKeepAlive/getKeepAlive calls leave heap, RSS and open fds
// where they were. Measured in a child process started with --expose-gc, so
// that a full collection can run before each sample; the child prints its
// figures and this test prints them too.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLinux } from './support';

const root = join(__dirname, '..');
const MiB = 1024 * 1024;
/**
 * Stated margins, from the start of the measured loop (after a warm-up) to
 * its end. `native` is RSS minus the V8 heap's resident size: V8 keeps heap
 * pages it grew into (tens of MiB on Node 24, in steps) while the used heap
 * stays flat, and that says nothing about the addon. A native leak of even
 * one smallest malloc chunk (16-32 bytes) per call would be 16 MiB or more
 * over the million calls.
 */
export const MARGIN = { heapBytes: 1 * MiB, nativeBytes: 8 * MiB, fds: 0 };
/** ASan keeps freed memory in quarantine, so resident memory says nothing there; heap and fds still do. */
const sanitized = /libasan/.test(process.env.LD_PRELOAD ?? '');

// Runs in the child: a loopback pair, then rounds of calls with a sample
// after each. A tenth of the calls fail (EBADF on a closed fd) so the error
// path is measured too. Prints one JSON line.
const CHILD = String.raw`
const net = require('node:net');
const fs = require('node:fs');
const { setKeepAlive, getKeepAlive } = require(process.argv[1] + '/dist/index.js');
const ROUNDS = 10, PER_ROUND = 50000;
function sample() {
  for (let i = 0; i < 4; i++) global.gc();
  const m = process.memoryUsage();
  // native: the resident memory outside V8's heap, where an addon's allocations live.
  const native = m.rss - require('node:v8').getHeapStatistics().total_physical_size;
  return { heap: m.heapUsed, rss: m.rss, native, fds: fs.readdirSync('/proc/self/fd').length };
}
const server = net.createServer().listen(0, '127.0.0.1', () => {
  const client = net.connect(server.address().port, '127.0.0.1', () => {
    const closed = fs.openSync('/dev/null', 'r');
    fs.closeSync(closed);
    let calls = 0, failures = 0;
    const round = () => {
      for (let i = 0; i < PER_ROUND; i++) {
        const k = i % 100;
        if (k < 10) {
          try { setKeepAlive(closed, { idle: 1000 }); } catch (e) { if (e.code === 'EBADF') failures++; }
          try { getKeepAlive(closed); } catch (e) { if (e.code === 'EBADF') failures++; }
        } else {
          const state = setKeepAlive(client, { idle: (k + 1) * 1000, interval: 1000 + k, count: 1 + (k % 9), userTimeout: k % 2 ? 'auto' : 0 });
          if (getKeepAlive(client).idle !== state.idle) throw new Error('read back differs');
        }
        calls += 2;
      }
    };
    round(); // warm-up: code paths compiled, pools filled
    calls = failures = 0;
    const before = sample();
    const samples = [];
    for (let r = 0; r < ROUNDS; r++) { round(); samples.push(sample()); }
    client.destroy(); server.close();
    console.log(JSON.stringify({ calls, failures, before, after: samples[samples.length - 1], samples }));
  });
});
`;

describe.skipIf(!isLinux)('leaks (Linux: counts open fds in /proc/self/fd)', () => {
  it('1 000 000 setKeepAlive/getKeepAlive calls, a tenth failing: heap, native memory and fds flat', () => {
    expect(existsSync(join(root, 'dist/index.js')), 'dist/ is built by npm test (pretest); run npx tsc -p . first').toBe(true);
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', CHILD, root], { encoding: 'utf8', timeout: 120_000 });
    const figures = JSON.parse(out.trim().split('\n').pop()!);
    const growth = {
      heapBytes: figures.after.heap - figures.before.heap,
      nativeBytes: figures.after.native - figures.before.native,
      fds: figures.after.fds - figures.before.fds,
    };
    console.log(
      `leak check: ${figures.calls} calls (${figures.failures} failed as intended): ` +
        `heap ${(figures.before.heap / MiB).toFixed(2)} -> ${(figures.after.heap / MiB).toFixed(2)} MiB (${growth.heapBytes} B), ` +
        `native ${(figures.before.native / MiB).toFixed(1)} -> ${(figures.after.native / MiB).toFixed(1)} MiB (RSS ${(figures.before.rss / MiB).toFixed(1)} -> ${(figures.after.rss / MiB).toFixed(1)}), ` +
        `fds ${figures.before.fds} -> ${figures.after.fds}; margins: heap ${MARGIN.heapBytes / MiB} MiB, native ${MARGIN.nativeBytes / MiB} MiB, fds ${MARGIN.fds}` +
        (sanitized ? ' (native not judged under ASan)' : ''),
    );
    expect(figures.calls).toBe(1_000_000);
    expect(figures.failures).toBe(100_000);
    expect(growth.heapBytes).toBeLessThanOrEqual(MARGIN.heapBytes);
    expect(growth.fds).toBeLessThanOrEqual(MARGIN.fds);
    if (!sanitized) expect(growth.nativeBytes).toBeLessThanOrEqual(MARGIN.nativeBytes);
  });
});
