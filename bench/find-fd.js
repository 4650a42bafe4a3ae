'use strict';
// The cost of finding a connection's fd by its endpoints (Bun's http server
// sockets, Deno's sockets): a scan of the process's descriptors the first
// time, then the cached fd checked with two system calls. Measured here under
// Node on loopback pairs (each connection is two fds in this process: its
// client and its server socket), in CPU time per lookup, against one
// getKeepAlive() on a known fd (three getsockopt calls) in the same run.
// Run: node bench/find-fd.js (npm run bench runs it).
const net = require('node:net');
const { once } = require('node:events');
const { binding } = require('../dist/native');

const SIZES = (process.env.BENCH_FIND_FD_SIZES || '10,1000,5000').split(',').map(Number);
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
function perCall(fn, calls) {
  const start = cpuUs();
  for (let i = 0; i < calls; i++) fn(i);
  return (cpuUs() - start) / calls;
}

(async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = server.address().port;
  const clients = [];
  console.log('connections  fds   scan (µs/lookup)  cached (µs/lookup)  getKeepAlive (µs)  scan/getKeepAlive  cached/getKeepAlive');
  for (const size of SIZES) {
    while (clients.length < size) {
      const batch = [];
      for (let i = clients.length; i < Math.min(size, clients.length + 200); i++) {
        const socket = net.connect(port, '127.0.0.1');
        batch.push(once(socket, 'connect').then(() => socket));
      }
      clients.push(...(await Promise.all(batch)));
    }
    // The last client opened holds the highest fd: the worst case of a scan in fd order.
    const target = clients[clients.length - 1];
    const args = ['127.0.0.1', target.localPort, '127.0.0.1', port];
    const fd = target._handle.fd;
    if (binding.findConnectionFd(-1, ...args) !== fd) throw new Error('the lookup found another fd');
    const calls = Math.max(20, Math.floor(200_000 / size));
    const scan = perCall(() => binding.findConnectionFd(-1, ...args), calls);
    const cached = perCall(() => binding.findConnectionFd(fd, ...args), 100_000);
    const get = perCall(() => binding.getKeepAlive(fd), 100_000);
    const fds = require('node:fs').readdirSync('/proc/self/fd').length;
    console.log(
      `${String(size).padStart(11)}  ${String(fds).padStart(5)}  ${scan.toFixed(1).padStart(16)}  ${cached.toFixed(2).padStart(18)}  ${get.toFixed(2).padStart(17)}  ${(scan / get).toFixed(0).padStart(17)}  ${(cached / get).toFixed(2).padStart(19)}`,
    );
  }
  for (const c of clients) c.destroy();
  server.close();
})();
