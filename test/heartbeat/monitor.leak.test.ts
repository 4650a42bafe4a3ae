// 100 000 heartbeat monitors attached and detached leave heap, RSS and open
// fds where they were. Measured in a child process started with --expose-gc;
// the child prints its figures and this test prints them too.
import { describe, expect, it } from 'vitest';
import { expectFlatInChild } from '../support/leak';
import { isLinux } from '../support/sockets';

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

interface Figures {
  attached: number;
  maxRunning: number;
  listenersLeft: number;
}

describe.skipIf(!isLinux)('heartbeat leaks (Linux: counts open fds in /proc/self/fd)', () => {
  it('100 000 monitors and heartbeats attached and stopped, 10 000 running at a time: heap, native memory, fds and listeners flat', () => {
    const figures = expectFlatInChild<Figures>(
      CHILD,
      (f) => `heartbeat leak check: ${f.attached} attached and stopped (${f.maxRunning} running at once), ${f.listenersLeft} socket listeners left`,
    );
    expect(figures.attached).toBe(100_000);
    expect(figures.maxRunning).toBe(10_000);
    expect(figures.listenersLeft).toBe(0);
  }, 120_000); // as the child's own timeout
});
