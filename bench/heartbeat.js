'use strict';
// The heartbeat at scale: heap bytes per monitored connection and CPU per
// second of monitoring, at 10 000 and 100 000 loopback connections, for
//   heartbeat()          this package: one shared scheduler, a timestamp per connection
//   monitor({ progress }) this package with the user's own ping, watching
//                        bytes read (as keepAlive() does): polled every 1/20
//                        of the budget, so it is never late by more than 10%
//   ws README pattern    one setInterval over all sockets and an isAlive flag
//   timer per connection a setTimeout per socket, refreshed on every packet
// All three promise the same: a connection silent for 5 s is dead
// (heartbeat and timers: 2 s idle, then 3 PINGs 1 s apart; ws pattern: a
// 2.5 s sweep, dead at the second sweep without an answer). BENCH_IDLE
// changes the idle time, and the sweep with it.
//
// Monitoring processes hold the server side of the connections, peer
// processes the client side, answering PINGs (compact framing). Where
// `ulimit -n` is below the connection count, the connections are split over
// several monitoring processes run side by side, and their figures summed.
//
// Each process first runs CPU windows without monitoring (the baseline,
// subtracted), then attaches the pattern and runs them again; each phase
// keeps the median of its windows.
// Traffic in both: 90% of the connections receive a packet every 250 ms,
// injected as a 'data' event on the socket (every pattern's packet path,
// without the syscalls of 360 000 real packets a second; for the progress
// pattern, which does not listen, the packet adds to the bytes it reads);
// the other 10% are silent and get real PINGs and PONGs over loopback.
// Run: npm run bench:heartbeat (raises ulimit -n where it can). BENCH_DIST, BENCH_SIZES,
// BENCH_WINDOW_MS, BENCH_ROUNDS, BENCH_IDLE (ms) and BENCH_SILENT_PERCENT
// tune it; BENCH_PROF=<dir> writes CPU profiles of the monitoring processes.
const { execFileSync, fork } = require('node:child_process');
const { once } = require('node:events');
const net = require('node:net');
const path = require('node:path');

// BENCH_DIST: another build's dist/index.js, to compare versions in one session.
const dist = process.env.BENCH_DIST || path.join(__dirname, '..', 'dist', 'index.js');
const SIZES = (process.env.BENCH_SIZES || '10000,100000').split(',').map(Number);
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS || 2000);
/** CPU windows per phase; the median is kept, so one noisy window does not decide */
const ROUNDS = Number(process.env.BENCH_ROUNDS || 3);
const PATTERNS = ['heartbeat()', 'monitor({ progress })', 'ws README pattern', 'timer per connection'];
const IDLE = Number(process.env.BENCH_IDLE || 2000);
/** share of connections that stay silent and get PINGs (the rest get traffic) */
const SILENT_PERCENT = Number(process.env.BENCH_SILENT_PERCENT ?? 10);
const INTERVAL = 1000;
const COUNT = 3;
const SWEEP = (IDLE + INTERVAL * COUNT) / 2;
const TRAFFIC_EVERY = 250;
const TICK = 25;
const FD_SPARE = 500;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- peer side
async function peer(port, n) {
  const { respond } = require(dist);
  let pings = 0;
  const options = { framing: 'compact', onFrame: (type) => type === 1 && pings++ };
  const sockets = [];
  const connectOne = () =>
    new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.once('connect', () => {
        respond(socket, options);
        sockets.push(socket);
        resolve();
      });
      socket.once('error', reject);
    });
  const BATCH = 500;
  for (let i = 0; i < n; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) batch.push(connectOne());
    await Promise.all(batch);
  }
  process.send({ ready: sockets.length });
  process.on('message', (message) => {
    if (message === 'pings') return process.send({ pings });
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
}

// ---------------------------------------------------------- monitoring side
function heap() {
  for (let i = 0; i < 3; i++) global.gc();
  return process.memoryUsage().heapUsed;
}

const patterns = {
  'heartbeat()': () => {
    const { heartbeat } = require(dist);
    const options = { idle: IDLE, interval: INTERVAL, count: COUNT, framing: 'compact' };
    return (socket) => void heartbeat(socket, options);
  },
  'monitor({ progress })': (sockets, ping) => {
    const { monitor } = require(dist);
    const options = { idle: IDLE, interval: INTERVAL, count: COUNT };
    return (socket) => {
      // Nobody else reads in this benchmark: the PONGs must be read to count.
      socket.resume();
      const m = monitor({ ...options, ping: () => socket.write(ping()), progress: () => socket.bytesRead + socket.injectedBytes, destroy: (error) => socket.destroy(error) });
      socket.once('close', () => m.stop());
    };
  },
  'ws README pattern': (sockets, ping) => {
    // As in the ws README: mark alive on every packet, sweep on an interval.
    function heartbeat() {
      this.isAlive = true;
    }
    setInterval(() => {
      for (const socket of sockets) {
        if (socket.destroyed) continue;
        if (socket.isAlive === false) {
          socket.destroy();
          continue;
        }
        socket.isAlive = false;
        socket.write(ping());
      }
    }, SWEEP).unref();
    return (socket) => {
      socket.isAlive = true;
      socket.on('data', heartbeat);
    };
  },
  'timer per connection': (sockets, ping) => (socket) => {
    // idle, then PINGs every interval: a new timer when the period changes,
    // a refresh on every packet otherwise.
    let probes = 0;
    let timer = setTimeout(check, IDLE);
    function check() {
      if (probes >= COUNT) return socket.destroy(new Error('heartbeat timeout'));
      probes++;
      socket.write(ping());
      timer = setTimeout(check, INTERVAL);
    }
    socket.on('data', () => {
      if (probes === 0) return timer.refresh();
      probes = 0;
      clearTimeout(timer);
      timer = setTimeout(check, IDLE);
    });
    socket.once('close', () => clearTimeout(timer));
  },
};

async function monitorProcess(pattern, n) {
  const { encodePing, encode } = require(dist);
  let seq = 0;
  const ping = () => encodePing('compact', ++seq);
  const sockets = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.injectedBytes = 0;
    sockets.push(socket);
  });
  server.listen(0, '127.0.0.1', 4096);
  await once(server, 'listening');
  const child = fork(__filename, ['peer', String(server.address().port), String(n)], { stdio: 'inherit' });
  child.on('exit', (code, signal) => {
    if (code !== 0) {
      console.error(`peer process exited with ${signal ?? `code ${code}`}`);
      process.exit(1);
    }
  });
  const setupStart = Date.now();
  const [ready] = await once(child, 'message');
  while (sockets.length < ready.ready) await sleep(10);
  const setupMs = Date.now() - setupStart;
  const peerPings = async () => {
    child.send('pings');
    const [{ pings }] = await once(child, 'message');
    return pings;
  };

  // 90% of the connections get a packet every TRAFFIC_EVERY ms, in slices every TICK ms.
  const packet = encode('compact', 11);
  const slices = TRAFFIC_EVERY / TICK;
  let slice = 0;
  let injected = 0;
  const inject = () => {
    for (let i = slice; i < sockets.length; i += slices) {
      if (i % 100 < SILENT_PERCENT) continue;
      const socket = sockets[i];
      socket.injectedBytes += packet.length;
      if (!socket.destroyed) socket.emit('data', packet);
      injected++;
    }
    slice = (slice + 1) % slices;
  };
  let traffic = setInterval(inject, TICK);

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const windows = async () => {
    const runs = [];
    for (let i = 0; i < ROUNDS; i++) runs.push(await window());
    const middle = median(runs.map((r) => r.cpuMsPerSecond));
    return runs.find((r) => r.cpuMsPerSecond === middle);
  };
  const window = async () => {
    const pings0 = await peerPings();
    const injected0 = injected;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(WINDOW_MS);
    const cpu = process.cpuUsage(cpu0);
    const seconds = (performance.now() - t0) / 1000;
    return {
      cpuMsPerSecond: (cpu.user + cpu.system) / 1000 / seconds,
      pingsPerSecond: ((await peerPings()) - pings0) / seconds,
      injectedPerSecond: (injected - injected0) / seconds,
    };
  };

  const report = (value) => process.send(value);
  const next = async () => (await once(process, 'message'))[0];
  report({ setupMs, n: sockets.length });
  await next();
  const baseline = await windows();
  report({ baseline });
  await next();

  // Let every socket settle first (a new 'data' listener resumes its socket
  // on the next tick): only what monitoring keeps is measured.
  const attach = patterns[pattern](sockets, ping);
  // No traffic while the heap is measured, so the difference is what monitoring keeps.
  clearInterval(traffic);
  await sleep(200);
  const before = heap();
  for (const socket of sockets) attach(socket);
  await sleep(200);
  const after = heap();
  traffic = setInterval(inject, TICK);
  report({ heapBytes: after - before });
  await next();
  await sleep(IDLE / 2);
  const monitored = await windows();
  clearInterval(traffic);
  const destroyed = sockets.filter((s) => s.destroyed).length;
  report({ monitored, destroyed });
  child.send('stop');
  await once(child, 'exit');
  process.exit(0);
}

// ------------------------------------------------------------- orchestrator
function fdLimit() {
  return Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim());
}

/** Runs one pattern over n connections split across `shards` processes, phase by phase in step. */
async function runPattern(pattern, n, shards) {
  const sizes = Array.from({ length: shards }, (_, i) => Math.floor(n / shards) + (i < n % shards ? 1 : 0));
  const children = sizes.map((size) => fork(__filename, ['monitor', pattern, String(size)], { execArgv: ['--expose-gc', ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-interval=200', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [])], stdio: 'inherit' }));
  // Watched from the start: a child that exits before we wait for it must not leave the run waiting forever.
  const exited = children.map((child) => once(child, 'exit'));
  // A child that dies before answering fails the run instead of leaving it waiting.
  const died = children.map(
    (child) =>
      new Promise((_, reject) =>
        child.on('exit', (code, signal) => {
          if (code !== 0) reject(new Error(`monitoring process for ${pattern} exited with ${signal ?? `code ${code}`}`));
        }),
      ),
  );
  const step = async (command) => {
    const replies = children.map((child, i) => Promise.race([once(child, 'message').then(([m]) => m), died[i]]));
    if (command) children.forEach((child) => child.send(command));
    return Promise.all(replies);
  };
  const setup = await step(null);
  const baseline = (await step('baseline')).map((r) => r.baseline);
  const heapBytes = (await step('attach')).map((r) => r.heapBytes);
  const final = await step('monitor');
  await Promise.all(exited);
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const connections = sum(setup.map((s) => s.n));
  return {
    pattern,
    connections,
    setupMs: Math.max(...setup.map((s) => s.setupMs)),
    bytesPerConnection: sum(heapBytes) / connections,
    baselineCpu: sum(baseline.map((b) => b.cpuMsPerSecond)),
    cpu: sum(final.map((f) => f.monitored.cpuMsPerSecond)) - sum(baseline.map((b) => b.cpuMsPerSecond)),
    pingsPerSecond: sum(final.map((f) => f.monitored.pingsPerSecond)),
    injectedPerSecond: sum(final.map((f) => f.monitored.injectedPerSecond)),
    destroyed: sum(final.map((f) => f.destroyed)),
  };
}

const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main() {
  const limit = fdLimit();
  const perProcess = limit - FD_SPARE;
  console.log(
    `heartbeat at scale: Node ${process.version}, ulimit -n ${limit}, median of ${ROUNDS} CPU windows of ${WINDOW_MS / 1000} s; ` +
      `dead after ${(IDLE + INTERVAL * COUNT) / 1000} s of silence; ${100 - SILENT_PERCENT}% of connections get a packet every ${TRAFFIC_EVERY} ms`,
  );
  for (const n of SIZES) {
    const shards = Math.ceil(n / perProcess);
    const rows = [];
    for (const pattern of PATTERNS) rows.push(await runPattern(pattern, n, shards));
    const [ours, progress, ws, timer] = rows;
    const split = shards > 1 ? `, split over ${shards} processes of ${fmt(Math.ceil(n / shards))} (ulimit -n ${limit})` : '';
    console.log(`\n${fmt(n)} loopback connections${split}; setup ${fmt(ours.setupMs / 1000, 1)} s`);
    console.log(
      ['pattern'.padEnd(21), 'heap B/conn'.padStart(11), 'CPU ms/s'.padStart(9), 'PINGs/s'.padStart(8), 'memory vs ours'.padStart(14), 'CPU vs ours'.padStart(11)].join('  '),
    );
    for (const row of rows) {
      console.log(
        [
          row.pattern.padEnd(21),
          fmt(row.bytesPerConnection, 1).padStart(11),
          fmt(row.cpu, 1).padStart(9),
          fmt(row.pingsPerSecond).padStart(8),
          (row === ours ? '1' : `${fmt(row.bytesPerConnection / ours.bytesPerConnection, 2)}x`).padStart(14),
          (row === ours ? '1' : `${fmt(row.cpu / ours.cpu, 2)}x`).padStart(11),
        ].join('  '),
      );
      if (row.destroyed > 0) console.log(`  ! ${fmt(row.destroyed)} connections closed during the run (false alarms)`);
    }
    console.log(
      `CPU is above a no-monitoring baseline of ${fmt(ours.baselineCpu, 1)} ms/s (${fmt(ours.injectedPerSecond)} packets/s injected). ` +
        `targets: memory <= 1/4 of timer per connection: ${fmt(ours.bytesPerConnection / timer.bytesPerConnection, 3)} ` +
        `(${ours.bytesPerConnection <= timer.bytesPerConnection / 4 ? 'met' : 'NOT met'}); ` +
        `CPU below both: ${ours.cpu < timer.cpu && ours.cpu < ws.cpu ? 'met' : 'NOT met'}; ` +
        `monitor({ progress }): memory ${fmt(progress.bytesPerConnection / timer.bytesPerConnection, 3)} of a timer's, CPU ${fmt(progress.cpu / timer.cpu, 2)}x a timer's`,
    );
  }
}

const fail = (error) => {
  console.error(error);
  process.exit(1);
};
const [mode, ...args] = process.argv.slice(2);
if (mode === 'peer') peer(Number(args[0]), Number(args[1])).catch(fail);
else if (mode === 'monitor') monitorProcess(args[0], Number(args[1])).catch(fail);
else main().catch(fail);
