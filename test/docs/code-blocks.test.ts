// Every fenced code block of README.md and docs/*.md runs, as a reader would
// run it, against the built package: or it says why it cannot, in a marker
// this test checks. The rules (docs/contributing.md, "Documentation"):
//
// - Every block names its language. `js`, `cjs` and `mjs` blocks run with
//   node (a block with `import … from` is ESM; a CommonJS block that uses
//   `await` runs inside an async function, as it would in an application).
//   `sh` blocks run as a shell script and must finish. `console` blocks are
//   transcripts: their `$ ` lines run as one script, and the first line of
//   output the page shows after each command must be among what it printed
//   (digits may differ). `text` is output, a table or a diagram: not code.
// - `<!-- not-runnable: reason -->` directly above a block skips it; the
//   reason is required.
// - `<!-- prelude: a, b -->` puts test/docs/preludes/a.cjs, b.cjs before the
//   block: the names the text around the block says the reader has (a
//   connected `socket`, a pg server's `host` and `port`).
// - `<!-- shared -->` above a block puts its code before every later
//   CommonJS block of the same page too (docs/recipes.md's KEEPALIVE).
// - Remote hosts: blocks run in a user, network and mount namespace of
//   their own, where /etc/hosts maps the names in REMOTE_HOSTS to loopback
//   and a local server listens on the ports listed for each. A block naming
//   a host not in the list fails. Blocks with the redis, pg or mysql2
//   prelude run outside it, against a real server from test/support/servers.ts.
//
// A js block has 6 s: it may be a server or a client that never ends, and
// still running then counts as running. An sh or console block must finish
// within 30 s. Blocks run five at a time.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceSupport } from '../../lib/harness';
import { codeBlocks, docFiles, type CodeBlock } from '../support/docs';
import { FIXTURES, ROOT } from '../support/paths';
import { serverSkipReason, startMariadb, startPostgres, startRedis, stopAllServers, type RunningServer, type ServerKind } from '../support/servers';

/** Remote host names the docs may use, and the ports a local server listens on for each. */
const REMOTE_HOSTS: Record<string, number[]> = {
  'broker.internal': [5672],
  'db.internal': [],
  'db.example.com': [5432],
};
/** A js block's time: still running then counts as running. */
const PROGRAM_LIMIT_MS = 6_000;
/** An sh or console block's time to finish (README's drill line takes about 12 s). */
const SCRIPT_LIMIT_MS = 30_000;
/** How long the stand-in server keeps a connection before ending it. */
const HOLD_MS = 1_000;
const RUNS = new Set(['js', 'cjs', 'mjs', 'sh', 'console']);
const KNOWN = new Set([...RUNS, 'text']);
/** What a driver prints when the server refused it (ioredis logs its unhandled errors). */
const REFUSED_BY_SERVER = /NOAUTH|WRONGPASS|ECONNREFUSED|password authentication failed|Access denied for user/;
const SERVER_PRELUDES: Record<string, ServerKind> = { redis: 'redis', pg: 'postgres', mysql2: 'mariadb' };

const blocks = docFiles().flatMap(codeBlocks);
const where = (block: CodeBlock) => `${block.file}:${block.line}`;
const preludesOf = (block: CodeBlock) => (block.markers.prelude ?? '').split(',').map((name) => name.trim()).filter(Boolean);
const serverOf = (block: CodeBlock): ServerKind | undefined => preludesOf(block).map((name) => SERVER_PRELUDES[name]).find(Boolean);

describe('documentation code blocks: markers', () => {
  it('finds the blocks of README.md and docs/', () => {
    expect(blocks.filter((block) => block.file === 'README.md').length).toBeGreaterThanOrEqual(4);
    expect(new Set(blocks.map((block) => block.file)).size).toBeGreaterThan(5);
  });

  it('every block names a language this test knows (js, cjs, mjs, sh, console, or text for output)', () => {
    expect(blocks.filter((block) => !KNOWN.has(block.lang)).map(where)).toEqual([]);
  });

  it('every not-runnable marker gives its reason', () => {
    const bare = blocks.filter((block) => 'not-runnable' in block.markers && block.markers['not-runnable'].length < 10);
    expect(bare.map(where)).toEqual([]);
  });

  it('every prelude named exists', () => {
    const missing = blocks.flatMap((block) => preludesOf(block).filter((name) => !existsSync(join(__dirname, 'preludes', `${name}.cjs`))).map((name) => `${where(block)}: ${name}`));
    expect(missing).toEqual([]);
  });

  it('every remote host a runnable block names is one the test maps to loopback', () => {
    const named = blocks
      .filter((block) => RUNS.has(block.lang) && !('not-runnable' in block.markers))
      .flatMap((block) => [...block.code.matchAll(/['"`]([a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:internal|example\.com|example\.org|example|local|lan))['"`]/g)].map((m) => ({ block, host: m[1] })));
    expect(named.filter(({ host }) => !(host in REMOTE_HOSTS)).map(({ block, host }) => `${where(block)}: ${host}`)).toEqual([]);
  });
});

// ------------------------------------------------------------------ running

let scratch: string;
let hostsFile: string;
const namespaces = namespaceSupport();
const servers = new Map<ServerKind, Promise<RunningServer>>();

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), `tcp-keepalive-docs-${process.pid}-`));
  // A project that has installed the package (the checkout, built) and the
  // libraries the recipes use; tcp-keepalive's bin is on its PATH.
  const modules = join(scratch, 'node_modules');
  mkdirSync(join(modules, '.bin'), { recursive: true });
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (!name.startsWith('.') && name !== 'tcp-keepalive') symlinkSync(join(ROOT, 'node_modules', name), join(modules, name));
  }
  symlinkSync(ROOT, join(modules, 'tcp-keepalive'));
  symlinkSync(join(ROOT, 'bin', 'tcp-keepalive.js'), join(modules, '.bin', 'tcp-keepalive'));
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'docs-reader', version: '1.0.0', private: true }));
  // The `app.js` the preload examples start: a client and a server of its own, one exchange, then exit.
  writeFileSync(
    join(scratch, 'app.js'),
    "const net = require('node:net');\n" +
      "const server = net.createServer((s) => s.end('hello')).listen(0, '127.0.0.1', () => {\n" +
      "  net.connect(server.address().port, '127.0.0.1').on('data', (d) => console.log(String(d))).on('end', () => server.close());\n" +
      '});\n',
  );
  hostsFile = join(scratch, 'hosts');
  writeFileSync(hostsFile, ['127.0.0.1 localhost', '::1 localhost', ...Object.keys(REMOTE_HOSTS).map((host) => `127.0.0.1 ${host}`)].join('\n') + '\n');
});

afterAll(async () => {
  await stopAllServers();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** The page's `<!-- shared -->` blocks that come before this one. */
function sharedBefore(block: CodeBlock): string {
  return blocks
    .filter((other) => other.file === block.file && other.line < block.line && 'shared' in other.markers)
    .map((other) => other.code)
    .join('');
}

/** The file to run with node: preludes, shared blocks, then the block. */
function program(block: CodeBlock, index: number): string {
  const esm = block.lang === 'mjs' || (block.lang !== 'cjs' && /^\s*(import\s[^(]|export\s)/m.test(block.code));
  if (esm) {
    const file = join(scratch, `block-${index}.mjs`);
    writeFileSync(file, block.code);
    return file;
  }
  const preludes = preludesOf(block).map((name) => readFileSync(join(__dirname, 'preludes', `${name}.cjs`), 'utf8'));
  const code = [...preludes, sharedBefore(block), block.code].join('\n');
  const file = join(scratch, `block-${index}.cjs`);
  writeFileSync(file, /\bawait\b/.test(code) ? `(async () => {\n${code}\n})().catch((error) => {\n  console.error(error);\n  process.exit(1);\n});\n` : code);
  return file;
}

/** A console block: the commands of its `$ ` lines, and the first output line shown after each. */
function transcript(code: string): { script: string; expected: string[] } {
  const commands: string[] = [];
  const expected: string[] = [];
  let awaitingOutput = false;
  for (const line of code.split('\n')) {
    if (line.startsWith('$ ')) {
      commands.push(line.slice(2));
      // A reader types the next command after a background one has started.
      if (line.trimEnd().endsWith('&')) commands.push('sleep 1');
      awaitingOutput = true;
    } else if (awaitingOutput && line.trim()) {
      expected.push(line.trim());
      awaitingOutput = false;
    }
  }
  return { script: commands.join('\n'), expected };
}

const digitless = (text: string) => text.replace(/\d+(\.\d+)?/g, '#').replace(/\s+/g, ' ').trim();

interface Outcome {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  output: string;
}

function run(command: string[], env: NodeJS.ProcessEnv, sandboxed: boolean, ports: number[], limitMs: number): Promise<Outcome> {
  const config = JSON.stringify({ ports, holdMs: HOLD_MS, limitMs });
  const inner = [process.execPath, join(__dirname, 'support', 'sandbox.cjs'), config, ...command];
  const argv =
    sandboxed && namespaces.ok
      ? [namespaces.unshare, '-U', '-r', '-n', '-m', '/bin/sh', '-c', `"${namespaces.ip}" link set lo up && mount --bind "${hostsFile}" /etc/hosts && exec "$0" "$@"`, ...inner]
      : inner;
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: scratch, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', () => {
      const report = /\[sandbox\] (\{.*\})\s*$/.exec(output);
      const parsed = report ? JSON.parse(report[1]) : { code: null, signal: null, timedOut: false };
      resolve({ ...parsed, output: report ? output.slice(0, report.index) : output });
    });
  });
}

function serverFor(kind: ServerKind): Promise<RunningServer> {
  if (!servers.has(kind)) servers.set(kind, { redis: startRedis, postgres: startPostgres, mariadb: startMariadb }[kind]());
  return servers.get(kind)!;
}

describe.concurrent('documentation code blocks: each runs', () => {
  blocks.forEach((block, index) => {
    if (!RUNS.has(block.lang) || 'not-runnable' in block.markers) return;
    const server = serverOf(block);
    const remote = Object.entries(REMOTE_HOSTS).filter(([host]) => block.code.includes(host));
    const skip =
      (server && serverSkipReason(server)) ||
      (remote.length > 0 && !namespaces.ok ? `it names ${remote.map(([host]) => host).join(', ')}, which needs a namespace of its own: ${namespaces.reason}` : undefined);
    const firstLine = block.code.trim().split('\n')[0].slice(0, 60);
    it.skipIf(Boolean(skip))(`${where(block)} (${block.lang}) ${firstLine}${skip ? ` (skipped: ${skip})` : ''}`, { timeout: 120_000 }, async () => {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: `${join(scratch, 'node_modules', '.bin')}:${process.env.PATH}`,
        DOCS_FIXTURES: FIXTURES,
        NO_COLOR: '1',
        NODE_OPTIONS: '',
      };
      if (server) {
        const running = await serverFor(server);
        env.DOCS_SERVER = JSON.stringify({ host: running.host, port: running.port, user: running.user, password: running.password, database: running.database });
      }
      const ports = remote.flatMap(([, hostPorts]) => hostPorts);
      if (block.lang === 'sh' || block.lang === 'console') {
        const { script, expected } = block.lang === 'console' ? transcript(block.code) : { script: block.code, expected: [] };
        const outcome = await run(['/bin/sh', '-c', script], env, true, ports, SCRIPT_LIMIT_MS);
        expect(outcome.timedOut, `${where(block)} did not finish within ${SCRIPT_LIMIT_MS} ms:\n${outcome.output}`).toBe(false);
        expect(outcome.code, `${where(block)} failed:\n${outcome.output}`).toBe(0);
        const printed = digitless(outcome.output);
        for (const line of expected) expect(printed, `${where(block)}: the page shows "${line}"`).toContain(digitless(line));
        return;
      }
      const outcome = await run([process.execPath, program(block, index)], env, !server, ports, PROGRAM_LIMIT_MS);
      const ran = outcome.timedOut || (outcome.code === 0 && outcome.signal === null);
      expect(ran, `${where(block)} failed (exit ${outcome.code}, ${outcome.signal ?? 'no signal'}):\n${outcome.output}`).toBe(true);
      // A client that keeps retrying a server it cannot log in to is still running: that is not a recipe that works.
      if (server) expect(outcome.output, `${where(block)} never reached its server`).not.toMatch(REFUSED_BY_SERVER);
    });
  });
});
