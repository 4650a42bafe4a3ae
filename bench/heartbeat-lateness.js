'use strict';
// How late each flavour of the heartbeat notices a peer that fell silent:
// the time from the last byte received to the death, minus the budget
// (2 s: 1 s idle, then 2 PINGs 500 ms apart), over 20 loopback connections
// each, the last byte at a random moment. Also how far err.sinceLastReceived
// is from the real silence (it must never claim more).
// Run: npm run compile && node bench/heartbeat-lateness.js [path to a dist/index.js]
const net = require('node:net');
const path = require('node:path');
const { once } = require('node:events');

const { heartbeat, monitor, keepAlive } = require(process.argv[2] ?? path.join(__dirname, '..', 'dist', 'index.js'));
const TIMING = { idle: 1000, interval: 500, count: 2 };
const BUDGET = TIMING.idle + TIMING.interval * TIMING.count;
const RUNS = 20;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function connectedPair() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const client = net.connect(server.address().port, '127.0.0.1');
  const [accepted] = await once(server, 'connection');
  client.on('error', () => {});
  accepted.on('error', () => {});
  return { client, accepted, server };
}

const flavours = {
  'heartbeat()': (client) => heartbeat(client, { ...TIMING, framing: 'compact' }),
  'monitor() with alive()': (client) => {
    const m = monitor({ ...TIMING, ping: () => {}, destroy: () => {} });
    client.on('data', () => m.alive());
    return m;
  },
  'keepAlive() with ping (progress)': (client) => {
    client.resume();
    return keepAlive(client, { ...TIMING, fallback: 'always', heartbeat: { ping: () => {} } }).heartbeat;
  },
};

async function trial(start) {
  const { client, accepted, server } = await connectedPair();
  const m = start(client);
  let last = 0;
  client.on('data', () => (last = performance.now()));
  // A compact application frame (type 3, empty) now and then; the peer never answers a PING.
  for (let i = 0; i < 3; i++) {
    await sleep(200 + Math.random() * 700);
    accepted.write(Buffer.from([3, 0, 0]));
  }
  const [error] = await once(m, 'dead');
  const silence = performance.now() - last;
  client.destroy();
  accepted.destroy();
  server.close();
  return { late: silence - BUDGET, overclaim: error.sinceLastReceived - silence };
}

(async () => {
  console.log(`budget ${BUDGET} ms (idle ${TIMING.idle}, interval ${TIMING.interval}, count ${TIMING.count}); ${RUNS} connections per flavour`);
  for (const [name, start] of Object.entries(flavours)) {
    const runs = await Promise.all(Array.from({ length: RUNS }, () => trial(start)));
    const late = runs.map((r) => r.late).sort((a, b) => a - b);
    const overclaim = Math.max(...runs.map((r) => r.overclaim));
    console.log(
      `${name.padEnd(34)} late ms: min ${late[0].toFixed(0)}, median ${late[RUNS >> 1].toFixed(0)}, max ${late[RUNS - 1].toFixed(0)}; ` +
        `sinceLastReceived above the real silence by at most ${Math.max(0, overclaim).toFixed(0)} ms`,
    );
  }
})();
