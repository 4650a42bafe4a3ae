// 10 000 loopback connections opened and closed while heartbeats run on
// them: every monitor stops, every listener it added is removed, and no timer
// keeps the event loop alive. Runs in a child process, which must exit by
// itself once its last connection and its server are closed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLinux } from '../support/sockets';
import { ROOT } from '../support/paths';

const CONNECTIONS = 10_000;

// Each connection gets one of four ways of being watched and one of four
// ways of ending; a quarter talk to a silent peer and are declared dead.
const CHILD = String.raw`
const net = require('node:net');
const { heartbeat, respond, keepAlive, encodePing } = require(process.argv[1] + '/dist/index.js');
const TOTAL = Number(process.argv[2]), AT_ONCE = 100;
const fast = { idle: 20, interval: 20, count: 2 };
const figures = { connections: 0, dead: 0, pings: 0, pongs: 0, stillActive: 0, listenersLeft: 0, errors: {} };
const watched = []; // [monitor or null (respond), socket, its listeners before]
const snapshot = (s) => JSON.stringify(s.eventNames().map((e) => [String(e), s.listenerCount(e)]));
const started = Date.now();

// Both ends must have closed before the listeners are counted: a server
// socket whose client went first is still open for a turn or two.
let accepted = 0, serverClosed = 0;
const server = net.createServer((socket) => {
  accepted++;
  socket.on('error', () => {});
  socket.on('close', () => {
    serverClosed++;
    finishIfDone();
  });
  const silent = socket.remotePort % 4 === 0; // never answers: the client's heartbeat must declare it dead
  const before = snapshot(socket);
  // A silent end still reads (and drops) what comes, so that it sees the
  // client's FIN and closes; unread data would hold its 'end' back forever.
  if (silent) socket.resume();
  else {
    if (socket.remotePort % 3 === 0) watched.push([heartbeat(socket, { framing: 'compact', ...fast }), socket, before]);
    else {
      respond(socket, { framing: 'compact' });
      watched.push([null, socket, before]);
    }
  }
  const end = socket.remotePort % 5;
  if (end === 0) setTimeout(() => socket.destroy(), 5 + (socket.remotePort % 40));
  if (end === 1) setTimeout(() => socket.end(), 5 + (socket.remotePort % 40));
});

function watch(client, i) {
  const mode = i % 3;
  if (mode === 0) return heartbeat(client, { framing: 'compact', ...fast });
  if (mode === 1) return keepAlive(client, { idle: 1000, interval: 1000, count: 2, fallback: 'always', heartbeat: { framing: 'compact' } }).heartbeat;
  // The protocol's own ping: here a compact PING written by hand, which respond() answers.
  return keepAlive(client, { ...fast, fallback: 'always', heartbeat: { ping: () => client.writable && client.write(encodePing('compact', 1)) } }).heartbeat;
}

let opened = 0, closed = 0;
function open() {
  if (opened >= TOTAL) return;
  const i = opened++;
  const client = net.connect(server.address().port, '127.0.0.1', () => {
    client.on('error', (e) => (figures.errors[e.code] = (figures.errors[e.code] ?? 0) + 1));
    const before = snapshot(client);
    const monitor = watch(client, i);
    monitor.on('ping', () => figures.pings++);
    monitor.on('pong', () => figures.pongs++);
    monitor.on('dead', () => figures.dead++);
    watched.push([monitor, client, before]);
    const end = Math.floor(i / 3) % 4;
    const after = 5 + (i % 60);
    if (end === 0) setTimeout(() => client.end(), after);
    if (end === 1) setTimeout(() => client.destroy(), after);
    if (end === 2) setTimeout(() => client.resetAndDestroy(), after);
    // end === 3: left to the server or the heartbeat, within 300 ms.
    if (end === 3) setTimeout(() => client.destroy(), 300);
  });
  client.on('error', () => {});
  client.on('close', () => {
    figures.connections++;
    if (++closed < TOTAL) open();
    finishIfDone();
  });
}

let finished = false;
function finishIfDone() {
  if (finished || closed < TOTAL || serverClosed < accepted) return;
  finished = true;
  // Every 'close' has been emitted; give each socket's own close handlers their turn.
  setImmediate(() => {
    for (const [monitor, socket, before] of watched) {
      if (monitor?.active) figures.stillActive++;
      if (snapshot(socket) !== before) {
        figures.listenersLeft++;
        figures.example ??= { before: JSON.parse(before), after: JSON.parse(snapshot(socket)) };
      }
    }
    figures.monitors = watched.filter(([m]) => m).length;
    figures.responders = watched.length - figures.monitors;
    figures.ms = Date.now() - started;
    server.close();
    console.log(JSON.stringify(figures));
    // No process.exit(): the parent checks that nothing keeps this process alive.
  });
}

server.listen(0, '127.0.0.1', () => {
  for (let k = 0; k < AT_ONCE; k++) open();
});
`;

describe.skipIf(!isLinux)('concurrency (Linux: loopback port numbers pick the cases)', () => {
  it(`${CONNECTIONS.toLocaleString('en')} connections opened and closed under running heartbeats: all stop, no listener left, the process exits by itself`, () => {
    expect(existsSync(join(ROOT, 'dist/index.js')), 'dist/ is built by npm test (pretest); run npx tsc -p . first').toBe(true);
    const child = spawnSync(process.execPath, ['-e', CHILD, ROOT, String(CONNECTIONS)], { encoding: 'utf8', timeout: 120_000 });
    // A timer or listener left behind would keep the child running until the timeout kills it.
    expect({ status: child.status, signal: child.signal, stderr: child.stderr.trim() }).toEqual({ status: 0, signal: null, stderr: '' });
    const figures = JSON.parse(child.stdout.trim().split('\n').pop()!);
    console.log(`concurrency: ${JSON.stringify(figures)}`);
    expect(figures.connections).toBe(CONNECTIONS);
    // Every client has a monitor, and a third of the answering servers run one too.
    expect(figures.monitors).toBeGreaterThan(CONNECTIONS);
    expect(figures.stillActive).toBe(0);
    expect(figures.listenersLeft).toBe(0);
    // The heartbeats really ran: PINGs went out and were answered, and silent peers were found.
    expect(figures.pings).toBeGreaterThan(0);
    expect(figures.pongs).toBeGreaterThan(0);
    expect(figures.dead).toBeGreaterThan(0);
  });
});
