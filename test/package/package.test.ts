// The published tarball, installed the way a user installs it: a scratch copy
// of this tree with the prebuilds `npm run prebuild` made (pretest runs it),
// packed with npm pack, installed into empty projects, used from there. One
// install has only node, npm and sh on the PATH (no compiler, make or
// python), so it must load a prebuild. The prebuilds for other platforms are
// run in test/package/prebuild-*.test.ts.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmCli } from '../support/foreign-node';
import { bareBin, copyTree, newProject, npm, npmAsync, ok, run, type Finished } from '../support/tarball';
import { ROOT } from '../support/paths';

const PACKAGE = 'tcp-keepalive';
const host = `${process.platform}-${process.arch}`;

// What npm run prebuild makes on a Linux x64 host, by prebuilds/ path.
const SHIPPED = ['linux-x64/tcp-keepalive.glibc.node', 'linux-arm64/tcp-keepalive.glibc.node', 'win32-x64/tcp-keepalive.node'];
const missingPrebuilds = SHIPPED.filter((file) => !existsSync(join(ROOT, 'prebuilds', file)));
// npm 11's allowScripts policy (npm install-scripts): advisory by default,
// enforced with --strict-allow-scripts.
const npmHasAllowScripts = spawnSync(process.execPath, [npmCli, 'install-scripts', '--help'], { stdio: 'ignore' }).status === 0;

// A script run in a consumer project: connects to a loopback server, sets
// keepalive and prints what the kernel holds and which binary was loaded.
const CJS_CHECK = `
const net = require('node:net');
const { dirname } = require('node:path');
const { setKeepAlive, getKeepAlive } = require('${PACKAGE}');
const server = net.createServer().listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => {
    setKeepAlive(socket, { idle: 7000, interval: 3000, count: 4 });
    const binary = require(dirname(require.resolve('${PACKAGE}/package.json')) + '/dist/native.js').loadAddon().path;
    console.log(JSON.stringify({ state: getKeepAlive(socket), binary }));
    socket.destroy();
    server.close();
  });
});
`;

const ESM_CHECK = `
import * as net from 'node:net';
import { once } from 'node:events';
import { setKeepAlive, getKeepAlive } from '${PACKAGE}';
const server = net.createServer().listen(0, '127.0.0.1');
await once(server, 'listening');
const socket = net.connect(server.address().port, '127.0.0.1');
await once(socket, 'connect');
setKeepAlive(socket, { idle: 9000, interval: 2000, count: 5 });
console.log(JSON.stringify({ state: getKeepAlive(socket) }));
socket.destroy();
server.close();
`;

// Type-checks, not run: wrong types must be errors, so the package's types
// cannot silently degrade to any.
const TS_CONSUMER = `
import * as http from 'node:http';
import * as net from 'node:net';
import { setKeepAlive, getKeepAlive, applyToAgent, type KeepAliveOptions, type KeepAliveState } from '${PACKAGE}';
import type * as harness from '${PACKAGE}/harness';
export type Harness = typeof harness;
const options: KeepAliveOptions = { idle: 10_000, interval: 5_000, count: 3, userTimeout: 'auto' };
export const state: KeepAliveState | null = setKeepAlive(new net.Socket(), options);
export const idle: number = getKeepAlive(new net.Socket()).idle;
export const restore: () => void = applyToAgent(new http.Agent(), true);
// @ts-expect-error idle is a number of milliseconds
setKeepAlive(new net.Socket(), { idle: '10s' });
// @ts-expect-error the result may be null while connecting
export const bad: KeepAliveState = setKeepAlive(new net.Socket(), options);
`;

const TS_SETUPS = {
  'node16, CommonJS consumer': { type: 'commonjs', module: 'node16', moduleResolution: 'node16' },
  'node16, ESM consumer': { type: 'module', module: 'node16', moduleResolution: 'node16' },
  bundler: { type: 'module', module: 'esnext', moduleResolution: 'bundler' },
} as const;

describe.skipIf(process.platform === 'win32')('the npm tarball (skipped on Windows: the bare PATH is built from symlinks)', () => {
  let work: string;
  let tarball: string;
  let sourceOnlyTarball: string;
  let files: string[];
  let bare: NodeJS.ProcessEnv;
  let consumer: string;
  let install: Finished;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tcp-keepalive-package-'));
    const tree = join(work, 'tree');
    copyTree(tree);
    // The same package without prebuilds: what a platform without a matching one gets.
    const sourceOnly = join(work, 'source-only');
    mkdirSync(sourceOnly);
    ok(await npmAsync(['pack', '--pack-destination', sourceOnly], tree), 'npm pack');
    sourceOnlyTarball = join(sourceOnly, readdirSync(sourceOnly)[0]);
    if (existsSync(join(ROOT, 'prebuilds'))) cpSync(join(ROOT, 'prebuilds'), join(tree, 'prebuilds'), { recursive: true });
    else ok(await npmAsync(['run', 'prebuild', '--', process.arch], tree), 'npm run prebuild');
    const packed = ok(await npmAsync(['pack', '--json', '--pack-destination', work], tree), 'npm pack');
    const [info] = JSON.parse(packed.slice(packed.indexOf('[')));
    tarball = join(work, info.filename);
    files = info.files.map((f: { path: string }) => f.path);

    bare = { HOME: process.env.HOME, PATH: bareBin(join(work, 'bin')), npm_config_update_notifier: 'false' };
    consumer = newProject(join(work, 'consumer'));
    install = await npmAsync(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], consumer, bare);
  }, 240_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds compiled JS and types, prebuilds, sources, binding.gyp, bin, README, docs, LICENSE, CHANGELOG and nothing else', () => {
    const allowed = [/^scripts\/install\.js$/, /^dist\/.+\.(js|d\.ts|js\.map)$/, /^lib\/.+\.ts$/, /^prebuilds\/[^/]+\/[^/]+\.node$/, /^src\/[^/]+\.(cc|h)$/, /^bin\/[^/]+\.js$/, /^docs\/[^/]+\.(md|svg)$/];
    const named = ['package.json', 'binding.gyp', 'README.md', 'LICENSE', 'CHANGELOG.md'];
    const stray = files.filter((f) => !named.includes(f) && !allowed.some((pattern) => pattern.test(f)));
    expect(stray).toEqual([]);
    expect(files).toEqual(expect.arrayContaining([...named, 'dist/index.js', 'dist/index.d.ts', 'bin/tcp-keepalive.js', 'src/addon.cc', 'docs/api.md', 'docs/recipes.md', 'docs/drill.svg']));
    expect(files).toContain(`prebuilds/${host}/${PACKAGE}${process.platform === 'linux' ? '.glibc' : ''}.node`);
    expect(files.some((f) => /^(test|build|bench|\.ci)\//.test(f) || (f.startsWith('scripts/') && f !== 'scripts/install.js') || f.includes('node_modules'))).toBe(false);
  });

  it('ships typings without internal members, and with the Heartbeat class documented', () => {
    const typings = files.filter((f) => f.endsWith('.d.ts'));
    const extracted = join(work, 'typings');
    mkdirSync(extracted);
    ok(run('tar', ['-xzf', tarball, '-C', extracted, ...typings.map((f) => `package/${f}`)], work), 'tar');
    const read = (f: string) => readFileSync(join(extracted, 'package', f), 'utf8');
    expect(typings.filter((f) => read(f).includes('@internal'))).toEqual([]);
    // The doc comment sits right above the class, where editors show it.
    expect(read('dist/heartbeat/framed.d.ts')).toMatch(/\*\/\s*export declare class Heartbeat /);
    // TypeScript's own Partial<T> is not shadowed by one of ours.
    expect(typings.filter((f) => /export (interface|type) Partial\b/.test(read(f)))).toEqual([]);
  });

  it.skipIf(host !== 'linux-x64' || missingPrebuilds.length > 0)(
    `carries the linux-x64, linux-arm64 and win32-x64 prebuilds${missingPrebuilds.length ? ` (skipped: npm run prebuild did not make ${missingPrebuilds.join(', ')})` : ''}`,
    () => {
      expect(files).toEqual(expect.arrayContaining(SHIPPED.map((file) => `prebuilds/${file}`)));
    },
  );

  it('installs with no compiler, make or python on the PATH, and loads the prebuild', () => {
    expect(readdirSync(bare.PATH!).sort()).toEqual(['node', 'npm', 'sh']);
    expect(install.status, install.stderr).toBe(0);
    expect(existsSync(join(consumer, 'node_modules', PACKAGE, 'build'))).toBe(false);
    const out = JSON.parse(ok(run(process.execPath, ['-e', CJS_CHECK], consumer, bare), 'require check'));
    expect(out.binary).toBe(join(consumer, 'node_modules', PACKAGE, 'prebuilds', host, `${PACKAGE}${process.platform === 'linux' ? '.glibc' : ''}.node`));
    expect(out.state).toMatchObject({ enabled: true, idle: 7000, interval: 3000, count: 4 });
  });

  it("works through import { setKeepAlive } from 'tcp-keepalive'", () => {
    const out = JSON.parse(ok(run(process.execPath, ['--input-type=module', '-e', ESM_CHECK], consumer, bare), 'import check'));
    expect(out.state).toMatchObject({ enabled: true, idle: 9000, interval: 2000, count: 5 });
  });

  it('serves every export, loaded on first use, to require and to ESM named imports alike', () => {
    // require() reads only the entry; each export loads its module when read.
    const lazy = `const before = Object.keys(require.cache).length; const pkg = require('${PACKAGE}');
      const entryOnly = Object.keys(require.cache).length - before;
      const names = Object.keys(pkg).filter((n) => n !== '__esModule');
      const undefinedOnes = names.filter((n) => pkg[n] === undefined);
      const dist = require('node:path').dirname(require.resolve('${PACKAGE}/package.json')) + '/dist/';
      const grouped = ['heartbeat/index.js', 'protect/index.js'].flatMap((file) => Object.keys(require(dist + file)));
      const missing = grouped.filter((n) => n !== '__esModule' && !names.includes(n));
      console.log(JSON.stringify({ entryOnly, names, undefinedOnes, missing }));`;
    const cjs = JSON.parse(ok(run(process.execPath, ['-e', lazy], consumer, bare), 'require check'));
    expect(cjs.entryOnly).toBe(1);
    expect(cjs.undefinedOnes).toEqual([]);
    // A value added to lib/heartbeat/index.ts or lib/protect/index.ts must get its lazy export in lib/index.ts.
    expect(cjs.missing).toEqual([]);
    expect(cjs.names).toEqual(expect.arrayContaining(['setKeepAlive', 'heartbeat', 'Monitor', 'keepAlive', 'Decoder', 'PING']));
    // Node's ESM loader learns CommonJS export names by static analysis (cjs-module-lexer).
    const esm = `import * as all from '${PACKAGE}'; import { heartbeat, Monitor, Heartbeat, keepAlive, PING } from '${PACKAGE}';
      // 'module.exports': Node 23+ also exports the whole object under that name.
      console.log(JSON.stringify({ names: Object.keys(all).filter((n) => !['default', '__esModule', 'module.exports'].includes(n)),
        named: [typeof heartbeat, typeof Monitor, Heartbeat.prototype instanceof Monitor, typeof keepAlive, PING] }));`;
    const out = JSON.parse(ok(run(process.execPath, ['--input-type=module', '-e', esm], consumer, bare), 'import check'));
    expect(out.names.sort()).toEqual(cjs.names.sort());
    expect(out.named).toEqual(['function', 'function', true, 'function', 1]);
  });

  it('runs the bin', () => {
    const result = run(join(consumer, 'node_modules', '.bin', PACKAGE), ['--help'], consumer, bare);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: tcp-keepalive/);
  });

  it('loads the subpath tcp-keepalive/harness', () => {
    const script = `import('${PACKAGE}/harness').then((m) => console.log(JSON.stringify(Object.keys(m).concat(Object.keys(require('${PACKAGE}/harness'))))))`;
    const names: string[] = JSON.parse(ok(run(process.execPath, ['-e', script], consumer, bare), 'harness check'));
    expect(names.filter((name) => name !== 'default' && name !== '__esModule').length).toBeGreaterThan(0);
  });

  for (const [name, setup] of Object.entries(TS_SETUPS)) {
    it(`type-checks a TypeScript consumer: ${name}`, () => {
      const dir = join(consumer, `ts-${setup.module}-${setup.type}`);
      newProject(dir, { type: setup.type });
      writeFileSync(join(dir, 'index.ts'), TS_CONSUMER);
      const compilerOptions = {
        module: setup.module,
        moduleResolution: setup.moduleResolution,
        target: 'ES2022',
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['index.ts'] }));
      const tsc = run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir);
      expect(tsc.stdout + tsc.stderr).toBe('');
      expect(tsc.status).toBe(0);
    });
  }

  it.skipIf(!npmHasAllowScripts)(
    "loads the prebuild when the consumer denies tcp-keepalive's install script (skipped: this npm has no allowScripts)",
    () => {
      const project = newProject(join(work, 'denied'), { allowScripts: { [`file:${tarball}`]: false } });
      const result = npm(['install', '--strict-allow-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], project, bare);
      expect(result.status, result.stderr).toBe(0);
      const out = JSON.parse(ok(run(process.execPath, ['-e', CJS_CHECK], project, bare), 'require check'));
      expect(out.state).toMatchObject({ enabled: true, idle: 7000, interval: 3000, count: 4 });
    },
  );

  it('compiles from src/ at install where no prebuild matches (compiler on the PATH)', () => {
    // Under npm's allowScripts policy the consumer approves the install script.
    const policy = npmHasAllowScripts ? { allowScripts: { [`file:${sourceOnlyTarball}`]: true } } : {};
    const project = newProject(join(work, 'from-source'), policy);
    const strict = npmHasAllowScripts ? ['--strict-allow-scripts'] : [];
    const result = npm(['install', ...strict, '--prefer-offline', '--no-audit', '--no-fund', sourceOnlyTarball], project);
    expect(result.status, result.stderr).toBe(0);
    const out = JSON.parse(ok(run(process.execPath, ['-e', CJS_CHECK], project), 'require check'));
    expect(out.binary).toBe(join(project, 'node_modules', PACKAGE, 'build', 'Release', 'tcp_keepalive.node'));
    expect(out.state).toMatchObject({ enabled: true, idle: 7000, interval: 3000, count: 4 });
  });
});
