// One million setKeepAlive/getKeepAlive calls leave heap, RSS and open fds
// where they were. Measured in a child process started with --expose-gc, so
// that a full collection can run before each sample; the child prints its
// figures and this test prints them too.
import { describe, expect, it } from 'vitest';
import { expectFlatInChild } from '../support/leak';
import { isLinux } from '../support/sockets';

// Runs in the child: a loopback pair, then rounds of calls with a sample
// after each. A tenth of the calls fail (EBADF on a closed fd) so the error
// path is measured too. Prints one JSON line.
const CHILD = String.raw`
const net = require('node:net');
const fs = require('node:fs');
const { setKeepAlive, getKeepAlive } = require(process.argv[1] + '/dist/index.js');
const ROUNDS = 10, PER_ROUND = 50000;
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

interface Figures {
  calls: number;
  failures: number;
}

describe.skipIf(!isLinux)('leaks (Linux: counts open fds in /proc/self/fd)', () => {
  it('1 000 000 setKeepAlive/getKeepAlive calls, a tenth failing: heap, native memory and fds flat', () => {
    const figures = expectFlatInChild<Figures>(CHILD, (f) => `leak check: ${f.calls} calls (${f.failures} failed as intended)`);
    expect(figures.calls).toBe(1_000_000);
    expect(figures.failures).toBe(100_000);
  }, 120_000); // the child runs up to 120 s on a loaded machine (its own timeout)
});
