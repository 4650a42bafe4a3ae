// The package bundled into an application with esbuild, as docs/platforms.md
// ("Bundlers") tells users to: CommonJS and ES module output, with the
// package marked external, and with prebuilds/ copied next to the bundle.
// The tarball is installed into an empty project; each bundle then runs from
// a folder of its own, so only what the recipe put there can be loaded.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSync, type BuildOptions } from 'esbuild';
import { newProject, npmAsync, ok, packWithPrebuilds, run } from '../support/tarball';

const PACKAGE = 'tcp-keepalive';

// The application: sets all three options on a loopback connection and reads
// them back (getKeepAlive needs the addon), or prints the error's code and message.
const BODY = `
const server = net.createServer().listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => {
    let out;
    try {
      const set = setKeepAlive(socket, { idle: 7000, interval: 3000, count: 4 });
      out = { set, get: getKeepAlive(socket) };
    } catch (error) {
      out = { code: error.code, message: error.message };
    }
    try {
      out.idleOnly = setKeepAlive(socket, { idle: 9000 });
    } catch (error) {
      out.idleOnly = { code: error.code };
    }
    console.log(JSON.stringify(out));
    socket.destroy();
    server.close();
  });
});
`;
const APP = {
  cjs: `const net = require('node:net');\nconst { setKeepAlive, getKeepAlive } = require('${PACKAGE}');\n${BODY}`,
  esm: `import * as net from 'node:net';\nimport { setKeepAlive, getKeepAlive } from '${PACKAGE}';\n${BODY}`,
};
// What docs/platforms.md gives esbuild for ES module output that carries the package inside.
const ESM_BANNER =
  "import { createRequire } from 'node:module'; import { fileURLToPath } from 'node:url'; " +
  'const require = createRequire(import.meta.url); const __filename = fileURLToPath(import.meta.url); ' +
  "const __dirname = fileURLToPath(new URL('.', import.meta.url));";

const WORKING = { enabled: true, idle: 7000, interval: 3000, count: 4 };

describe.skipIf(process.platform === 'win32')('bundled with esbuild (from the packed tarball)', () => {
  let work: string;
  let consumer: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'tcp-keepalive-bundle-'));
    const tarball = await packWithPrebuilds(work);
    consumer = newProject(join(work, 'consumer'));
    ok(await npmAsync(['install', '--no-audit', '--no-fund', tarball], consumer), 'npm install');
    writeFileSync(join(consumer, 'app.cjs'), APP.cjs);
    writeFileSync(join(consumer, 'app.mjs'), APP.esm);
  }, 240_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Bundles app.<format> into `outDir` with more esbuild options; the bundle's path. */
  function bundle(format: 'cjs' | 'esm', outDir: string, options: BuildOptions = {}): string {
    const outfile = join(outDir, format === 'cjs' ? 'app.cjs' : 'app.mjs');
    const entry = join(consumer, format === 'cjs' ? 'app.cjs' : 'app.mjs');
    buildSync({ entryPoints: [entry], absWorkingDir: consumer, bundle: true, platform: 'node', format, outfile, logLevel: 'warning', ...options });
    return outfile;
  }

  function runBundle(file: string, env: NodeJS.ProcessEnv = {}): Record<string, any> {
    return JSON.parse(ok(run(process.execPath, [file], work, { ...process.env, ...env }), `node ${file}`));
  }

  /** A deploy folder holding the bundle and, when `withPrebuilds`, a copy of the package's prebuilds/. */
  function deploy(name: string, withPrebuilds: boolean): string {
    const dir = join(work, 'deploy', name);
    mkdirSync(dir, { recursive: true });
    if (withPrebuilds) cpSync(join(consumer, 'node_modules', PACKAGE, 'prebuilds'), join(dir, 'prebuilds'), { recursive: true });
    return dir;
  }

  for (const format of ['cjs', 'esm'] as const) {
    it(`${format}: the package marked external loads from node_modules, addon included`, () => {
      const out = runBundle(bundle(format, join(consumer, 'dist-external'), { external: [PACKAGE] }));
      expect(out.get).toMatchObject(WORKING);
      expect(out.set).toMatchObject(WORKING);
    });
  }

  it('cjs: with prebuilds/ copied next to the bundle, the addon loads from there', () => {
    const out = runBundle(bundle('cjs', deploy('cjs-copied', true)));
    expect(out.get).toMatchObject(WORKING);
  });

  it('esm with the banner: with prebuilds/ copied next to the bundle, the addon loads from there', () => {
    const out = runBundle(bundle('esm', deploy('esm-copied', true), { banner: { js: ESM_BANNER } }));
    expect(out.get).toMatchObject(WORKING);
  });

  it('cjs: TCP_KEEPALIVE_PREBUILD names the folder that holds prebuilds/', () => {
    const file = bundle('cjs', deploy('cjs-env', false));
    const out = runBundle(file, { TCP_KEEPALIVE_PREBUILD: join(consumer, 'node_modules', PACKAGE) });
    expect(out.get).toMatchObject(WORKING);
  });

  it('cjs without the prebuilds: works through Node, and what needs the addon says it is bundled and how to fix it', () => {
    const out = runBundle(bundle('cjs', deploy('cjs-bare', false)));
    expect(out.idleOnly).toMatchObject({ enabled: true, idle: 9000 });
    // Node 24.19+/26.4+ set all three through Node; getKeepAlive still needs the addon.
    expect(out.code).toBe('ERR_TCP_KEEPALIVE_UNSUPPORTED');
    expect(out.message).toMatch(/inside a bundle: copy node_modules\/tcp-keepalive\/prebuilds\/ next to the bundle/);
    expect(out.message).toMatch(/TCP_KEEPALIVE_PREBUILD/);
    expect(out.message).not.toMatch(/compiler/);
  });

  it('esm without the banner: the first use throws ERR_TCP_KEEPALIVE_BUNDLE naming the fix, and so does every later use', () => {
    const out = runBundle(bundle('esm', deploy('esm-bare', true)));
    expect(out.code).toBe('ERR_TCP_KEEPALIVE_BUNDLE');
    expect(out.message).toMatch(/Dynamic require of "node:net" is not supported/);
    expect(out.message).toMatch(/esbuild --external:tcp-keepalive/);
    expect(out.message).toMatch(/banner/);
    expect(out.idleOnly).toEqual({ code: 'ERR_TCP_KEEPALIVE_BUNDLE' });
  });
});
