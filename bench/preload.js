'use strict';
// The cost of the preload (docs/protect.md, "Cost"):
// - connection churn: connections per second through a loopback server with
//   a new connection per request, with and without
//   `--require tcp-keepalive/register` (both ends in the process, so each
//   connection is two protected sockets); rounds interleaved, medians;
// - memory kept per protected socket: JS heap after GC, with minus without.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const ROUNDS = Number(process.env.BENCH_ROUNDS || 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 16);
const PAIRS = Number(process.env.BENCH_PAIRS || 2000);
const ROOT = path.join(__dirname, '..');
const CHILD = path.join(__dirname, 'preload-child.js');
const POLICY = 'idle=10s,interval=2s,count=3,userTimeout=auto';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function measure(preloaded, args, extra = []) {
  const execArgv = [...extra, ...(preloaded ? ['--require', 'tcp-keepalive/register'] : [])];
  const out = execFileSync(process.execPath, [...execArgv, CHILD, ...args], {
    cwd: ROOT,
    env: { ...process.env, TCP_KEEPALIVE: POLICY },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out);
}

function main() {
  const { clientMechanism } = require('..');
  console.log(`preload cost, Node ${process.version}, client sockets reached by: ${clientMechanism()}, policy ${POLICY}`);
  const plain = [];
  const preloaded = [];
  const ratios = [];
  const wallRatios = [];
  for (let round = 0; round < ROUNDS; round++) {
    // alternate which goes first, so drift hurts both alike
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const result = {};
    for (const withPreload of order) result[withPreload] = measure(withPreload, ['churn', String(CONNECTIONS), String(CONCURRENCY)]);
    plain.push(result.false);
    preloaded.push(result.true);
    ratios.push(result.true.perCpuSecond / result.false.perCpuSecond);
    wallRatios.push(result.true.perSecond / result.false.perSecond);
  }
  const pct = (ratio) => `${((1 - ratio) * 100).toFixed(1)}% fewer`;
  console.log(
    `connection churn (${CONNECTIONS} connections, ${CONCURRENCY} clients, ${ROUNDS} paired rounds), connections per CPU second: ` +
      `${median(plain.map((r) => r.perCpuSecond)).toFixed(0)} without, ${median(preloaded.map((r) => r.perCpuSecond)).toFixed(0)} with the preload; ` +
      `median paired ratio ${median(ratios).toFixed(3)} (${pct(median(ratios))}; target: at most 3% fewer)`,
  );
  console.log(
    `  per wall second (includes the neighbours' load): ${median(plain.map((r) => r.perSecond)).toFixed(0)} without, ` +
      `${median(preloaded.map((r) => r.perSecond)).toFixed(0)} with; median paired ratio ${median(wallRatios).toFixed(3)} (${pct(median(wallRatios))})`,
  );

  const memory = (withPreload) => {
    const samples = Array.from({ length: 3 }, () => measure(withPreload, ['memory', String(PAIRS)], ['--expose-gc']));
    return { heap: median(samples.map((s) => s.heapPerSocket)), rss: median(samples.map((s) => s.rssPerSocket)) };
  };
  const without = memory(false);
  const withIt = memory(true);
  console.log(
    `memory per socket (${PAIRS} connections, both ends held): JS heap ${without.heap.toFixed(0)} B without, ` +
      `${withIt.heap.toFixed(0)} B with: ${(withIt.heap - without.heap).toFixed(0)} B kept per protected socket ` +
      `(RSS ${(withIt.rss - without.rss).toFixed(0)} B, noisier)`,
  );
}

main();
