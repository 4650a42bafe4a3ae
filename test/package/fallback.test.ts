// Installs where no addon can be had must still succeed, and the package must
// then work through Node's own API: a tarball without prebuilds installed with
// no compiler, make or python on the PATH, and a tarball whose prebuild is a
// corrupt file. Both are installed with only node, npm and sh on the PATH.
import { readFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SpawnSyncReturns } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/paths';
import { bareBin, copyTree, newProject, npm, ok, run } from '../support/tarball';

const PACKAGE = 'tcp-keepalive';
const ADDON = join(ROOT, 'build', 'Release', 'tcp_keepalive.node');
const nodeTakesIntervalAndCount = net.Socket.prototype.setKeepAlive.length >= 4;
const proc = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/tcp_keepalive_${name}`, 'utf8'));

// Run in the consumer project. The kernel's view of the socket is read with
// this checkout's own addon (argv[1]), which the installed package lacks.
const CHECK = `
const net = require('node:net');
const pkg = require('${PACKAGE}');
const coded = (fn) => { try { return fn(); } catch (e) { return { code: e.code, message: e.message }; } };
const kernel = { exports: {} };
process.dlopen(kernel, process.argv[1]);
const server = net.createServer((peer) => pkg.respond(peer)).listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => {
    const fd = socket._handle.fd;
    const out = { defaults: pkg.systemDefaults() };
    out.idleOnly = pkg.setKeepAlive(socket, { idle: 7000 });
    out.kernelAfterIdle = kernel.exports.getKeepAlive(fd);
    out.allThree = coded(() => pkg.setKeepAlive(socket, { idle: 9000, interval: 2000, count: 4 }));
    out.kernelAfterAll = kernel.exports.getKeepAlive(fd);
    out.getKeepAlive = coded(() => pkg.getKeepAlive(socket));
    out.userTimeout = coded(() => pkg.setKeepAlive(socket, { userTimeout: 5000 }));
    out.tcpInfo = coded(() => pkg.tcpInfo(socket));
    const beat = pkg.heartbeat(socket, { idle: 200, interval: 200, count: 3 });
    beat.once('pong', (info) => {
      out.pong = info;
      beat.stop();
      socket.destroy();
      server.close();
      console.log(JSON.stringify(out));
    });
  });
});
`;

interface Coded {
  code: string;
  message: string;
}

describe.skipIf(process.platform !== 'linux')('installs and works without the addon (Linux: reads /proc)', () => {
  let work: string;
  let bare: NodeJS.ProcessEnv;
  const setups: Record<string, { install: SpawnSyncReturns<string>; consumer: string }> = {};

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tcp-keepalive-fallback-'));
    bare = { HOME: process.env.HOME, PATH: bareBin(join(work, 'bin')), npm_config_update_notifier: 'false' };
    const trees = {
      // What a platform with no prebuild gets (Alpine, FreeBSD, another CPU).
      'no prebuild': () => {},
      // A prebuild that exists and cannot be loaded.
      'corrupt prebuild': (tree: string) => {
        mkdirSync(join(tree, 'prebuilds', `linux-${process.arch}`), { recursive: true });
        writeFileSync(join(tree, 'prebuilds', `linux-${process.arch}`, `${PACKAGE}.glibc.node`), 'not an ELF file\n'.repeat(300));
      },
    };
    for (const [name, prepare] of Object.entries(trees)) {
      const tree = join(work, `tree-${name.replace(/ /g, '-')}`);
      copyTree(tree);
      prepare(tree);
      const packed = join(work, `packed-${name.replace(/ /g, '-')}`);
      mkdirSync(packed);
      ok(npm(['pack', '--pack-destination', packed], tree), 'npm pack');
      const tarball = join(packed, readdirSync(packed)[0]);
      const consumer = newProject(join(work, `consumer-${name.replace(/ /g, '-')}`));
      // --foreground-scripts: npm shows an install script's output only so.
      const install = npm(['install', '--foreground-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball], consumer, bare);
      setups[name] = { install, consumer };
    }
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const cases = [
    ['no prebuild', /no build of the native addon for linux-\w+ .*cannot be compiled here: no python3, make, a C\+\+ compiler/],
    ['corrupt prebuild', /tcp-keepalive\.glibc\.node cannot be loaded: .*invalid ELF header/],
  ] as const;

  for (const [name, reason] of cases) {
    describe(name, () => {
      let out: Record<string, unknown>;
      const check = () => (out ??= JSON.parse(ok(run(process.execPath, ['-e', CHECK, ADDON], setups[name].consumer, bare), 'check script')));

      it('npm install succeeds and says in one line what is missing and how to get it', () => {
        const { install } = setups[name];
        expect(install.status, install.stderr).toBe(0);
        const lines = (install.stdout + install.stderr).split('\n').filter((line) => line.startsWith('tcp-keepalive:'));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(reason);
        expect(lines[0]).toMatch(/install python3, make and a C\+\+ compiler, then run "npm rebuild tcp-keepalive"/);
      });

      it("sets the idle delay through Node's setKeepAlive, and interval and count where Node takes them", () => {
        const defaults = { idle: proc('time') * 1000, interval: proc('intvl') * 1000, count: proc('probes') };
        expect(check().defaults).toEqual({ ...defaults, detectAfter: defaults.idle + defaults.interval * defaults.count });
        // What is returned is what the kernel holds: Node's idle-only call also sets
        // libuv's 1 s and 10 probes on Linux; Node 24/26 are given the system's.
        const [interval, count] = nodeTakesIntervalAndCount ? [defaults.interval, defaults.count] : [1000, 10];
        expect(out.idleOnly).toEqual({ enabled: true, idle: 7000, interval, count, userTimeout: null });
        // [enabled, idleS, intervalS, count, userTimeoutMs]
        expect((out.kernelAfterIdle as unknown[]).slice(0, 4)).toEqual([true, 7, interval / 1000, count]);
        if (nodeTakesIntervalAndCount) {
          expect(out.allThree).toEqual({ enabled: true, idle: 9000, interval: 2000, count: 4, userTimeout: null });
          expect((out.kernelAfterAll as unknown[]).slice(0, 4)).toEqual([true, 9, 2, 4]);
        } else {
          expect(out.allThree).toMatchObject({ code: 'ERR_TCP_KEEPALIVE_UNSUPPORTED', message: expect.stringMatching(/24\.19.*native addon/) });
        }
      });

      it('throws ERR_TCP_KEEPALIVE_UNSUPPORTED naming the reason and the remedy for what only the addon does', () => {
        for (const what of ['getKeepAlive', 'userTimeout', 'tcpInfo'] as const) {
          const error = check()[what] as Coded;
          expect(error.code, what).toBe('ERR_TCP_KEEPALIVE_UNSUPPORTED');
          expect(error.message, what).toMatch(reason.source.includes('corrupt') ? /cannot be loaded/ : /cannot be loaded|no build of the native addon/);
          expect(error.message, what).toMatch(/npm rebuild tcp-keepalive/);
        }
      });

      it('runs the heartbeat in full: a PING answered with a PONG', () => {
        expect(check().pong).toMatchObject({ rtt: expect.any(Number) });
      });

      it('runs the CLI', () => {
        const result = run(join(setups[name].consumer, 'node_modules', '.bin', PACKAGE), ['sysctl', '--json'], setups[name].consumer, bare);
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        expect(result.stdout).toContain(String(proc('time')));
      });
    });
  }
});
