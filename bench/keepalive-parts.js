'use strict';
// Where one setKeepAlive call's time goes, part by part (validation, finding the
// socket's fd, the N-API call with its five system calls, the whole call):
// interleaved rounds, the median of 5, in ns per call. Run after npm run compile.
const net = require('node:net');
const { toRequest, setKeepAlive } = require('../dist/kernel/keepalive.js');
const { resolveSocket } = require('../dist/kernel/socket.js');
const { binding } = require('../dist/native.js');
const N = 200000;
const t = (fn) => { const s = process.hrtime.bigint(); for (let i = 0; i < N; i++) fn(i); return Number(process.hrtime.bigint() - s) / N; };
const srv = net.createServer().listen(0, '127.0.0.1', () => {
  const c = net.connect(srv.address().port, '127.0.0.1', () => {
    const fd = c._handle.fd;
    const parts = {
      'toRequest (validation)': (i) => toRequest({ idle: 30000 + (i & 1) * 1000, interval: 5000, count: 4, userTimeout: 50000 }),
      'resolveSocket': () => resolveSocket(c),
      'binding.setKeepAlive (N-API + 5 syscalls)': (i) => binding.setKeepAlive(fd, true, 30 + (i & 1), 5, 4, 50000),
      'setKeepAlive (whole)': (i) => setKeepAlive(c, { idle: 30000 + (i & 1) * 1000, interval: 5000, count: 4, userTimeout: 50000 }),
    };
    const res = {};
    for (let r = 0; r < 5; r++) for (const [k, f] of Object.entries(parts)) (res[k] ??= []).push(t(f));
    for (const [k, xs] of Object.entries(res)) console.log(k.padEnd(44), xs.sort((a, b) => a - b)[2].toFixed(0), 'ns');
    process.exit(0);
  });
});
