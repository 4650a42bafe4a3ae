'use strict';
// The cost of the preload (docs/protect.md, "Cost"):
// - connection churn: connections per CPU second through a loopback echo
//   server with a new connection per request (both ends in the process, so
//   each connection is two protected sockets), in three processes per round:
//   no preload, the floor (bench/floor-preload.js: the same five options set
//   through the addon's raw call at each connect and accept, nothing else)
//   and `--require tcp-keepalive/register`. The order is rotated through all
//   six permutations, each round's ratios are paired, and rounds are added
//   until the 95% confidence interval of the median package/floor ratio is
//   narrower than 1 point (or BENCH_MAX_ROUNDS). CPU time, not wall time:
//   the machine is shared. Each process warms up first (WARM_UP): the steady
//   state of a long-running process, not V8 compiling. Beside it, V8's
//   collections during each run (full ones mean closed connections were kept
//   reachable long enough to reach the old generation), and the same churn
//   in C (bench/churn.c).
// - memory kept per protected socket: JS heap after GC, with minus without.
// `node bench/preload.js --profile` instead writes a --cpu-prof profile of
// the preloaded churn and prints where its time goes.
// `node bench/preload.js --instructions` counts instead the instructions each
// connection costs in user space (valgrind --tool=callgrind; system calls
// count only as the instructions that make them, not the kernel's work):
// each variant churns SMALL and LARGE connections after the same warm-up as
// the churn, and the difference over LARGE - SMALL is the cost of one
// connection. Node runs with --predictable: V8 then compiles and collects
// garbage on the main thread, in the same order every run, so the count is
// the same on every run of the same code whatever the machine's load (to
// 0.1%), and is the figure to compare variants by where CPU time is too
// noisy; only the main thread is counted.
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 16);
// Connections each process makes before it measures: V8 compiles the churn's
// code over the first few thousand (with 500, some 140 functions were still
// being optimized during the 3 000 measured, and that compiler work is most
// of what a preload with more code to compile seemed to cost; with 8 000,
// about 15, as many without a preload).
const WARM_UP = Number(process.env.BENCH_WARM_UP || 8000);
const MIN_ROUNDS = Number(process.env.BENCH_MIN_ROUNDS || 18);
const MAX_ROUNDS = Number(process.env.BENCH_MAX_ROUNDS || 240);
const TARGET_WIDTH = 0.01; // 1 point
const PAIRS = Number(process.env.BENCH_PAIRS || 2000);
const ROOT = path.join(__dirname, '..');
const CHILD = path.join(__dirname, 'preload-child.js');
const POLICY = 'idle=10s,interval=2s,count=3,userTimeout=auto';
const VARIANTS = {
  none: [],
  floor: ['--require', path.join(__dirname, 'floor-preload.js')],
  package: ['--require', 'tcp-keepalive/register'],
};
const NAMES = Object.keys(VARIANTS);
const PERMUTATIONS = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
  [1, 0, 2],
  [0, 2, 1],
];

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];

/** The median with a distribution-free 95% confidence interval (order statistics, normal approximation). */
function medianInterval(xs) {
  const s = sorted(xs);
  const n = s.length;
  const half = (1.96 * Math.sqrt(n)) / 2;
  const low = Math.max(0, Math.floor(n / 2 - half));
  const high = Math.min(n - 1, Math.ceil(n / 2 + half) - 1);
  return { median: s[Math.floor(n / 2)], low: s[low], high: s[high] };
}
const show = ({ median: m, low, high }) => `${m.toFixed(3)} (95% CI ${low.toFixed(3)}-${high.toFixed(3)}, ${((high - low) * 100).toFixed(1)} points)`;

function measure(execArgv, args) {
  const out = execFileSync(process.execPath, [...execArgv, CHILD, ...args], {
    cwd: ROOT,
    env: { ...process.env, TCP_KEEPALIVE: POLICY, BENCH_WARM_UP: String(WARM_UP) },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out);
}

function cFigure() {
  const binary = path.join(os.tmpdir(), `tcp-keepalive-churn-${process.pid}`);
  try {
    execFileSync('cc', ['-O2', '-o', binary, path.join(__dirname, 'churn.c')]);
    const [, both, , client] = execFileSync(binary, ['2000', '15'], { encoding: 'utf8' }).trim().split(' ');
    return { both: Number(both), client: Number(client) };
  } catch (error) {
    return { error: error.message.split('\n')[0] };
  } finally {
    rmSync(binary, { force: true });
  }
}

function churn() {
  const perCpu = Object.fromEntries(NAMES.map((name) => [name, []]));
  const collections = Object.fromEntries(NAMES.map((name) => [name, []]));
  const ratios = { 'floor / none': [], 'package / none': [], 'package / floor': [] };
  let rounds = 0;
  for (; rounds < MAX_ROUNDS; rounds++) {
    const result = {};
    for (const index of PERMUTATIONS[rounds % PERMUTATIONS.length]) {
      const name = NAMES[index];
      const run = measure(VARIANTS[name], ['churn', String(CONNECTIONS), String(CONCURRENCY)]);
      result[name] = run.perCpuSecond;
      perCpu[name].push(result[name]);
      collections[name].push(run.gc);
    }
    ratios['floor / none'].push(result.floor / result.none);
    ratios['package / none'].push(result.package / result.none);
    ratios['package / floor'].push(result.package / result.floor);
    if ((rounds + 1) % 6 === 0) process.stderr.write(`  after ${rounds + 1} rounds: package / floor ${show(medianInterval(ratios['package / floor']))}\n`);
    if (rounds + 1 >= MIN_ROUNDS) {
      const { low, high } = medianInterval(ratios['package / floor']);
      if (high - low < TARGET_WIDTH) {
        rounds++;
        break;
      }
    }
  }
  console.log(
    `connection churn (${CONNECTIONS} connections a run after ${WARM_UP} of warm-up, ${CONCURRENCY} clients, ${rounds} rounds of three processes, order rotated), ` +
      `connections per CPU second (medians): ${NAMES.map((name) => `${name} ${median(perCpu[name]).toFixed(0)}`).join(', ')}`,
  );
  for (const [name, values] of Object.entries(ratios)) console.log(`  ${name.padEnd(16)} ${show(medianInterval(values))}`);
  // A preload that keeps closed connections reachable for a while shows here first (docs/protect.md, "Cost").
  const gc = (name, field) => median(collections[name].map((c) => c[field]));
  console.log(
    `  V8's collections during each run's ${CONNECTIONS} connections (medians): ` +
      NAMES.map((name) => `${name} ${gc(name, 'young')} young, ${gc(name, 'full')} full, ${gc(name, 'ms').toFixed(1)} ms`).join('; '),
  );
  const packageToFloor = medianInterval(ratios['package / floor']).median;
  console.log(`  target: the package within 2 points of the floor (package / floor >= 0.980): ${packageToFloor >= 0.98 ? 'met' : 'not met'}`);
  const c = cFigure();
  console.log(
    c.error
      ? `  C (bench/churn.c): not measured: ${c.error}`
      : `  C (bench/churn.c, the same churn without Node, 15 rounds of 2000): with the five options on both ends ${(1 / c.both).toFixed(3)} of the connections per CPU second without them, on the client only ${(1 / c.client).toFixed(3)}`,
  );
}

function memory() {
  const sample = (execArgv) => {
    const samples = Array.from({ length: 3 }, () => measure(['--expose-gc', ...execArgv], ['memory', String(PAIRS)]));
    return { heap: median(samples.map((s) => s.heapPerSocket)), rss: median(samples.map((s) => s.rssPerSocket)) };
  };
  const without = sample(VARIANTS.none);
  const withIt = sample(VARIANTS.package);
  console.log(
    `memory per socket (${PAIRS} connections, both ends held): JS heap ${without.heap.toFixed(0)} B without, ` +
      `${withIt.heap.toFixed(0)} B with: ${(withIt.heap - without.heap).toFixed(0)} B kept per protected socket ` +
      `(RSS ${(withIt.rss - without.rss).toFixed(0)} B, noisier)`,
  );
}

function instructions() {
  const small = Number(process.env.BENCH_SMALL || 500);
  const large = Number(process.env.BENCH_LARGE || 2500);
  const repeats = Number(process.env.BENCH_REPEATS || 2);
  const dir = mkdtempSync(path.join(os.tmpdir(), `tcp-keepalive-callgrind-${process.pid}-`));
  // The main thread only (with --predictable it does all of V8's work; libuv's threads are left out).
  const count = (execArgv, connections) => {
    const out = path.join(dir, 'callgrind.out');
    execFileSync(
      'valgrind',
      ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${out}`, process.execPath, '--predictable', ...execArgv, CHILD, 'churn', String(connections), String(CONCURRENCY)],
      { cwd: ROOT, env: { ...process.env, TCP_KEEPALIVE: POLICY, BENCH_WARM_UP: String(WARM_UP) }, stdio: 'ignore' },
    );
    const main = `${out}-01`;
    const total = Number(/^totals: (\d+)/m.exec(readFileSync(main, 'utf8'))[1]);
    for (const name of readdirSync(dir)) rmSync(path.join(dir, name));
    return total;
  };
  const perConnection = Object.fromEntries(NAMES.map((name) => [name, []]));
  for (let r = 0; r < repeats; r++) {
    for (const index of PERMUTATIONS[r % PERMUTATIONS.length]) {
      const name = NAMES[index];
      perConnection[name].push((count(VARIANTS[name], large) - count(VARIANTS[name], small)) / (large - small));
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const spread = (xs) => `${((Math.max(...xs) / Math.min(...xs) - 1) * 100).toFixed(2)}%`;
  console.log(`user-space instructions per connection on the main thread (valgrind callgrind, node --predictable, ${large} - ${small} connections after ${WARM_UP} of warm-up, ${repeats} runs each; median, spread max/min):`);
  for (const name of NAMES) console.log(`  ${name.padEnd(8)} ${median(perConnection[name]).toFixed(0).padStart(8)}  (spread ${spread(perConnection[name])})`);
  const m = Object.fromEntries(NAMES.map((name) => [name, median(perConnection[name])]));
  console.log(`  above no preload: floor +${(m.floor - m.none).toFixed(0)}, package +${(m.package - m.none).toFixed(0)}; package above the floor: +${(m.package - m.floor).toFixed(0)} = ${(((m.package - m.floor) / m.floor) * 100).toFixed(2)}% of the floor's user-space instructions`);
}

/** Self time by function, from a --cpu-prof profile of the preloaded churn. */
function profile() {
  const dir = mkdtempSync(path.join(os.tmpdir(), `tcp-keepalive-prof-${process.pid}-`));
  const connections = String(CONNECTIONS * 5);
  measure(['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '50', ...VARIANTS.package], ['churn', connections, String(CONCURRENCY)]);
  const file = path.join(dir, readdirSync(dir).find((name) => name.endsWith('.cpuprofile')));
  const { nodes, samples, timeDeltas } = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const self = new Map();
  let total = 0;
  samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    if (functionName === '(idle)') return; // waiting, not CPU
    const key = url.includes('/dist/') ? `${functionName || '(anonymous)'} ${path.relative(ROOT, url.replace('file://', ''))}:${lineNumber + 1}` : `other: ${functionName || '(anonymous)'}`;
    self.set(key, (self.get(key) || 0) + timeDeltas[i]);
    total += timeDeltas[i];
  });
  const ours = [...self].filter(([key]) => !key.startsWith('other: '));
  const oursTotal = ours.reduce((sum, [, us]) => sum + us, 0);
  console.log(`profile: ${file} (${connections} connections, Node ${process.version})`);
  console.log(`self time in the package's code (its system calls included): ${((oursTotal / total) * 100).toFixed(2)}% of ${(total / 1e6).toFixed(2)} s sampled on the CPU`);
  for (const [key, us] of ours.sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${((us / total) * 100).toFixed(2).padStart(6)}%  ${key}`);
  console.log('largest outside it:');
  for (const [key, us] of [...self].filter(([k]) => k.startsWith('other: ')).sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    console.log(`  ${((us / total) * 100).toFixed(2).padStart(6)}%  ${key.slice(7)}`);
  }
}

const { clientMechanism } = require('..');
console.log(`preload cost, Node ${process.version}, client sockets reached by: ${clientMechanism()}, policy ${POLICY}`);
if (process.argv.includes('--profile')) profile();
else if (process.argv.includes('--instructions')) instructions();
else {
  churn();
  memory();
}
