'use strict';
// Start-up cost: require('tcp-keepalive') against require('net-keepalive'),
// each in a fresh process that has already loaded net, tls and http (what a
// program using either has loaded anyway), alternating, median of 15; then
// the CLI's start (`tcp-keepalive --help`, whole process) against a bare
// `node -e 0` in the same rounds. Target: ours <= 1/3 of net-keepalive's.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const ROUNDS = Number(process.env.BENCH_LOAD_ROUNDS || 15);
const root = path.join(__dirname, '..');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function requireMs(moduleName) {
  const script =
    `require('node:net');require('node:tls');require('node:http');` +
    `const t=process.hrtime.bigint();require(${JSON.stringify(moduleName)});` +
    `process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  return Number(execFileSync(process.execPath, ['-e', script], { cwd: root }));
}

function processMs(args) {
  const start = process.hrtime.bigint();
  execFileSync(process.execPath, args, { cwd: root, stdio: 'ignore' });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const samples = { ours: [], theirs: [], cli: [], bare: [] };
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so neither always meets a warm or cold cache.
  const order = round % 2 === 0 ? ['ours', 'theirs'] : ['theirs', 'ours'];
  for (const who of order) samples[who].push(requireMs(who === 'ours' ? './dist/index.js' : 'net-keepalive'));
  samples.cli.push(processMs([path.join(root, 'bin', 'tcp-keepalive.js'), '--help']));
  samples.bare.push(processMs(['-e', '0']));
}
const m = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs)]));
console.log(`\nmodule load (Node ${process.version}, fresh processes with net, tls and http loaded, alternating, median of ${ROUNDS}):`);
console.log(`  require('tcp-keepalive')  ${m.ours.toFixed(2)} ms`);
console.log(`  require('net-keepalive')  ${m.theirs.toFixed(2)} ms`);
console.log(`  ratio                     ${(m.ours / m.theirs).toFixed(2)} (target <= 0.33)`);
console.log(`CLI start (whole process, median of ${ROUNDS}): tcp-keepalive --help ${m.cli.toFixed(1)} ms, node -e 0 ${m.bare.toFixed(1)} ms (+${(m.cli - m.bare).toFixed(1)} ms)`);
