'use strict';
// Start-up cost: require('tcp-keepalive') against require('net-keepalive'),
// each in a fresh process that has already loaded net, tls and http (what a
// program using either has loaded anyway), alternating, median of 15. Our
// exports load on first use, so the cost of reaching setKeepAlive (the
// kernel modules; the addon itself loads at the first call) is shown too, and
// the first native call's own cost: node-gyp-build finding the addon and
// loading it, against dlopen of the same file by its known path.
// Then the CLI's start (whole process) against a bare `node -e 0` in the same
// rounds. Target: require('tcp-keepalive') <= 1/3 of net-keepalive's.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const ROUNDS = Number(process.env.BENCH_LOAD_ROUNDS || 15);
const root = path.join(__dirname, '..');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function requireMs(expression) {
  const script =
    `require('node:net');require('node:tls');require('node:http');` +
    `const t=process.hrtime.bigint();${expression};` +
    `process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
  return Number(execFileSync(process.execPath, ['-e', script], { cwd: root }));
}

function processMs(args) {
  const start = process.hrtime.bigint();
  execFileSync(process.execPath, args, { cwd: root, stdio: 'ignore' });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const LOADS = {
  ours: "require('./dist/index.js')",
  theirs: "require('net-keepalive')",
  oursSetKeepAlive: "require('./dist/index.js').setKeepAlive",
  addonFound: "require('./dist/native.js').loadAddon()",
  addonKnownPath: `require('./dist/native.js');process.dlopen({ exports: {} }, ${JSON.stringify(require(path.join(root, 'dist', 'native.js')).loadAddon().path)})`,
};
const bin = path.join(root, 'bin', 'tcp-keepalive.js');
const samples = { ours: [], theirs: [], oursSetKeepAlive: [], addonFound: [], addonKnownPath: [], cliHelp: [], cliSysctl: [], bare: [] };
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order, so no contender always meets a warm or cold cache.
  const order = Object.keys(LOADS);
  if (round % 2 === 1) order.reverse();
  for (const who of order) samples[who].push(requireMs(LOADS[who]));
  samples.cliHelp.push(processMs([bin, '--help']));
  samples.cliSysctl.push(processMs([bin, 'sysctl', '--json']));
  samples.bare.push(processMs(['-e', '0']));
}
const m = Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs)]));
console.log(`\nmodule load (Node ${process.version}, fresh processes with net, tls and http loaded, alternating, median of ${ROUNDS}):`);
console.log(`  require('tcp-keepalive')               ${m.ours.toFixed(2)} ms  (${(m.ours / m.theirs).toFixed(2)} x net-keepalive; target <= 0.33)`);
console.log(`  require('tcp-keepalive').setKeepAlive  ${m.oursSetKeepAlive.toFixed(2)} ms  (${(m.oursSetKeepAlive / m.theirs).toFixed(2)} x)`);
console.log(`  require('net-keepalive')               ${m.theirs.toFixed(2)} ms`);
console.log(`first native call: node-gyp-build finds and loads the addon in ${m.addonFound.toFixed(2)} ms; the same module and a dlopen by the known path ${m.addonKnownPath.toFixed(2)} ms (+${(m.addonFound - m.addonKnownPath).toFixed(2)} ms for node-gyp-build, once per process)`);
console.log(`CLI start (whole process, median of ${ROUNDS}): node -e 0 ${m.bare.toFixed(1)} ms; tcp-keepalive sysctl --json ${m.cliSysctl.toFixed(1)} ms (+${(m.cliSysctl - m.bare).toFixed(1)}); tcp-keepalive --help ${m.cliHelp.toFixed(1)} ms (+${(m.cliHelp - m.bare).toFixed(1)}, loads every command for its summary)`);
