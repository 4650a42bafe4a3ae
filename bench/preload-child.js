'use strict';
// One measurement, in a process of its own, started with or without the
// preload by bench/preload.js.
//   churn <connections> <concurrency>: a loopback echo server and clients that
//     open a new connection per request; prints connections per second of wall
//     time and of this process's CPU time.
//   memory <pairs>: holds <pairs> loopback connections (both ends in this
//     process); prints the JS heap and RSS kept per socket.
const net = require('node:net');
const { once } = require('node:events');
const { PerformanceObserver, constants, performance } = require('node:perf_hooks');

const WARM_UP = Number(process.env.BENCH_WARM_UP || 500);

async function listen() {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.on('data', (data) => socket.end(data));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

function request(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write('x'));
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

async function churn(connections, concurrency) {
  const server = await listen();
  const { port } = server.address();
  // Warm-up: until V8 has compiled what the churn runs (most of it within
  // the first few thousand connections), its optimizing compiler's work
  // would be counted per connection, and a preload with more code to
  // compile would look dearer than it runs (bench/preload.js sets WARM_UP).
  for (let i = 0; i < WARM_UP; i++) await request(port);
  let started = 0;
  const done = connections;
  const collections = observeCollections();
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started++ < connections) await request(port);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  server.close();
  // Per CPU second too: on a shared machine the wall clock measures the neighbours as well.
  return { perSecond: done / seconds, perCpuSecond: done / ((cpu.user + cpu.system) / 1e6), gc: await collections.stop() };
}

/**
 * V8's collections from now to stop(): young-generation ones (scavenges),
 * full ones (mark-compacts) and their time in ms. Full collections during a
 * churn whose connections all close within milliseconds mean that closed
 * connections were kept alive long enough to reach the old generation.
 */
function observeCollections() {
  const from = performance.now();
  const counts = { young: 0, full: 0, ms: 0 };
  const entries = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    async stop() {
      const to = performance.now();
      // Entries arrive after the collection, in a later turn of the loop.
      await new Promise((resolve) => setTimeout(resolve, 10));
      observer.disconnect();
      for (const entry of entries) {
        if (entry.startTime < from || entry.startTime > to) continue;
        if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.young++;
        if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.full++;
        counts.ms += entry.duration;
      }
      return counts;
    },
  };
}

async function memory(pairs) {
  const server = await listen();
  const { port } = server.address();
  const sockets = [];
  const sample = () => {
    global.gc();
    global.gc();
    return { heap: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
  };
  // Warm up code paths so that compiled code does not count as per-socket memory.
  for (let i = 0; i < 200; i++) await request(port);
  const before = sample();
  for (let i = 0; i < pairs; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, pairs - i) }, async () => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => {});
        await once(socket, 'connect');
        sockets.push(socket);
      }),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  const after = sample();
  const count = pairs * 2; // each connection: the client socket and the accepted one
  for (const socket of sockets) socket.destroy();
  server.close();
  return { heapPerSocket: (after.heap - before.heap) / count, rssPerSocket: (after.rss - before.rss) / count };
}

const [mode, a, b] = process.argv.slice(2);
(mode === 'churn' ? churn(Number(a), Number(b)) : memory(Number(a))).then((result) => {
  process.stdout.write(JSON.stringify(result));
});
