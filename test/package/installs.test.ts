// The packed tarball installed with pnpm and Yarn (1, and 4 with Plug'n'Play),
// each taken from the npm registry into a cache folder, in the ways
// docs/install.md gives. Whether or not the package manager runs the install
// script, the install exits 0 and the prebuild is what loads.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDir, npmCli } from '../support/foreign-node';
import { newProject, ok, packWithPrebuilds, runAsync } from '../support/tarball';

const PACKAGE = 'tcp-keepalive';
// Pinned: what docs/install.md was measured with.
const TOOLS = { pnpm: 'pnpm@12.23.0', yarn1: 'yarn@1.22.22', yarn4: '@yarnpkg/cli-dist@4.18.1' };
const toolsDir = join(cacheDir, 'package-managers');
const bin = {
  pnpm: join(toolsDir, 'node_modules', 'pnpm', 'bin', 'pnpm.mjs'),
  yarn1: join(toolsDir, 'node_modules', 'yarn', 'bin', 'yarn.js'),
  yarn4: join(toolsDir, 'node_modules', '@yarnpkg', 'cli-dist', 'bin', 'yarn.js'),
};

// Sets keepalive on a loopback connection, reads it back (needs the addon)
// and prints which file was loaded.
const CHECK = `
const net = require('node:net');
const { dirname } = require('node:path');
const { setKeepAlive, getKeepAlive } = require('${PACKAGE}');
const server = net.createServer().listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => {
    setKeepAlive(socket, { idle: 7000, interval: 3000, count: 4 });
    const native = require(dirname(require.resolve('${PACKAGE}/package.json')) + '/dist/native.js');
    console.log(JSON.stringify({ state: getKeepAlive(socket), binary: native.loadAddon().path }));
    socket.destroy();
    server.close();
  });
});
`;

describe.skipIf(process.platform !== 'linux')('pnpm and Yarn install the packed tarball', () => {
  let work: string;
  let tarball: string;
  const env = { ...process.env, npm_config_update_notifier: 'false', COREPACK_ENABLE_STRICT: '0', YARN_ENABLE_TELEMETRY: '0' };

  beforeAll(async () => {
    if (!Object.values(bin).every((file) => existsSync(file))) {
      mkdirSync(toolsDir, { recursive: true });
      const args = [npmCli, 'install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--prefix', toolsDir, ...Object.values(TOOLS)];
      ok(await runAsync(process.execPath, args, toolsDir), `npm install ${Object.values(TOOLS).join(' ')}`);
    }
    work = mkdtempSync(join(tmpdir(), 'tcp-keepalive-installs-'));
    tarball = await packWithPrebuilds(work);
  }, 240_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function project(name: string, extra: object = {}): string {
    return newProject(join(work, name), extra);
  }

  async function check(dir: string, runner: string[] = []): Promise<{ state: object; binary: string }> {
    writeFileSync(join(dir, 'check.cjs'), CHECK);
    return JSON.parse(ok(await runAsync(process.execPath, [...runner, 'check.cjs'], dir, env), 'check'));
  }

  const loadsThePrebuild = (out: { state: object; binary: string }) => {
    expect(out.state).toEqual({ enabled: true, idle: 7000, interval: 3000, count: 4, userTimeout: 0 });
    expect(out.binary).toMatch(/prebuilds\/linux-x64\/tcp-keepalive\.glibc\.node$/);
  };

  const pnpm = (dir: string, args: string[]) => runAsync(process.execPath, [bin.pnpm, ...args, '--store-dir', join(work, 'pnpm-store')], dir, env);

  it('pnpm with allowBuilds false (the script is not needed where a prebuild fits): exits 0, the prebuild loads', async () => {
    const dir = project('pnpm-deny');
    writeFileSync(join(dir, 'pnpm-workspace.yaml'), `allowBuilds:\n  ${PACKAGE}: false\n`);
    const added = await pnpm(dir, ['add', tarball]);
    expect(added.status, added.stdout + added.stderr).toBe(0);
    expect(added.stdout).not.toMatch(/install\$ node scripts\/install\.js/);
    loadsThePrebuild(await check(dir));
  });

  it('pnpm with allowBuilds true: exits 0, the install script runs, the prebuild loads', async () => {
    const dir = project('pnpm-allow');
    // A tarball is allowed by its specifier, relative to the project; from the registry the name alone does.
    writeFileSync(join(dir, 'pnpm-workspace.yaml'), `allowBuilds:\n  "${PACKAGE}@file:${relative(dir, tarball)}": true\n`);
    const added = await pnpm(dir, ['add', `file:${tarball}`]);
    expect(added.status, added.stdout + added.stderr).toBe(0);
    expect(added.stdout).toMatch(/install\$ node scripts\/install\.js/);
    loadsThePrebuild(await check(dir));
  });

  it('pnpm with no decision: exits 1 with ERR_PNPM_IGNORED_BUILDS (pnpm 11+ for any install script), and the prebuild still loads', async () => {
    const dir = project('pnpm-undecided');
    const added = await pnpm(dir, ['add', tarball]);
    expect(added.status).toBe(1);
    expect(added.stdout + added.stderr).toMatch(/ERR_PNPM_IGNORED_BUILDS/);
    loadsThePrebuild(await check(dir));
  });

  it('Yarn 1: runs the install script, exits 0, the prebuild loads', async () => {
    const dir = project('yarn1');
    const added = await runAsync(process.execPath, [bin.yarn1, 'add', `file:${tarball}`, '--cache-folder', join(work, 'yarn1-cache'), '--no-progress'], dir, env);
    expect(added.status, added.stdout + added.stderr).toBe(0);
    loadsThePrebuild(await check(dir));
  });

  for (const linker of ['pnp', 'node-modules'] as const) {
    it(`Yarn 4 (${linker}): leaves the script unrun by default, exits 0, the prebuild loads`, async () => {
      const dir = project(`yarn4-${linker}`);
      writeFileSync(join(dir, 'yarn.lock'), '');
      writeFileSync(join(dir, '.yarnrc.yml'), `nodeLinker: ${linker}\nenableGlobalCache: false\n`);
      const added = await runAsync(process.execPath, [bin.yarn4, 'add', `${PACKAGE}@file:${tarball}`], dir, env);
      expect(added.status, added.stdout + added.stderr).toBe(0);
      expect(added.stdout).toMatch(/YN0004.*lists build scripts, but all build scripts have been disabled/);
      // Plug'n'Play resolves through yarn's loader: `yarn node`.
      loadsThePrebuild(await check(dir, [bin.yarn4, 'node']));
    });
  }

  it('Yarn 4 with dependenciesMeta built: true runs the install script, exits 0', async () => {
    const dir = project('yarn4-built', { dependenciesMeta: { [PACKAGE]: { built: true } } });
    writeFileSync(join(dir, 'yarn.lock'), '');
    writeFileSync(join(dir, '.yarnrc.yml'), 'nodeLinker: node-modules\nenableGlobalCache: false\nenableScripts: true\n');
    const added = await runAsync(process.execPath, [bin.yarn4, 'add', `${PACKAGE}@file:${tarball}`], dir, env);
    expect(added.status, added.stdout + added.stderr).toBe(0);
    expect(added.stdout).not.toMatch(/YN0004/);
    loadsThePrebuild(await check(dir, [bin.yarn4, 'node']));
  });
});
