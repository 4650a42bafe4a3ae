'use strict';
// A process of monitors for the stall tests: it connects to the servers the
// test runs, watches every connection with each flavour of the heartbeat,
// and counts deaths. The test stops it (SIGSTOP) or has it block its own
// event loop, while the servers, in the test's process, stay healthy.
// argv[2]: JSON { ports: { framed, ws, http2, silent }, counts: { flavour: n }, timing }
const http2 = require('node:http2');
const net = require('node:net');
const { once } = require('node:events');
const WebSocket = require('ws');
const { heartbeat, monitor, keepAlive, wsHeartbeat, http2Heartbeat, encodePing } = require('../../dist/index.js');

const { ports, counts, timing } = JSON.parse(process.argv[2]);
const deaths = {};
const opened = {};
const PING = encodePing('compact', 0);

async function tcp(port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

const flavours = {
  // the built-in framing, against respond()
  async heartbeat() {
    return heartbeat(await tcp(ports.framed), { ...timing, framing: 'compact' });
  },
  // keepAlive() with the protocol's own ping: bytes read are the sign of life
  async keepAlive() {
    const socket = await tcp(ports.framed);
    socket.resume();
    return keepAlive(socket, { ...timing, fallback: 'always', heartbeat: { ping: () => socket.write(PING) } }).heartbeat;
  },
  // monitor() whose ping() returns a promise: the answer is the next data
  async monitor() {
    const socket = await tcp(ports.framed);
    const m = monitor({ ...timing, ping: () => (socket.write(PING), once(socket, 'data')), destroy: (error) => socket.destroy(error) });
    socket.on('close', () => m.stop());
    return m;
  },
  async ws() {
    const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}`);
    ws.on('error', () => {});
    await once(ws, 'open');
    return wsHeartbeat(ws, timing);
  },
  async http2() {
    const session = http2.connect(`http://127.0.0.1:${ports.http2}`);
    session.on('error', () => {});
    await once(session, 'connect');
    return http2Heartbeat(session, timing);
  },
  // the control group: a server that never answers, so these must die
  async silent() {
    return heartbeat(await tcp(ports.silent), { ...timing, framing: 'compact' });
  },
};

async function main() {
  for (const [flavour, n] of Object.entries(counts)) {
    deaths[flavour] = 0;
    opened[flavour] = 0;
    for (let i = 0; i < n; i++) {
      const m = await flavours[flavour]();
      m.on('dead', () => deaths[flavour]++);
      opened[flavour]++;
    }
  }
  process.send({ ready: opened });
}

process.on('message', (message) => {
  if (message === 'deaths') process.send({ deaths });
  if (message.block) {
    // A long synchronous task: the event loop runs nothing meanwhile.
    const end = performance.now() + message.block;
    while (performance.now() < end);
    process.send({ blocked: message.block });
  }
});
process.on('disconnect', () => process.exit(0));
main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
