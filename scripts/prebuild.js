#!/usr/bin/env node
'use strict';
// Makes the N-API prebuilds that ship in the tarball: prebuilds/<platform>-<arch>/
// tcp-keepalive.<glibc|musl>.node (Linux) or tcp-keepalive.node, loaded by
// node-gyp-build at require time.
//
// The build runs in a scratch copy of the package so the developer's build/
// (what the test suite loads) is never rebuilt or overwritten.
//
// Usage: npm run prebuild [-- arch ...]   (the TypeScript build is called
// "compile", so no "build" script exists for npm to run this as a pre-hook of)
//   default: the host's arch; on linux-x64 also arm64, cross-compiled with
//   Debian's g++-aarch64-linux-gnu (apt-get install -y g++-aarch64-linux-gnu).
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
// What node-gyp needs to compile the addon; nothing else is copied.
const BUILD_INPUTS = ['package.json', 'binding.gyp', 'src'];

// Cross toolchains by "host platform-arch -> target arch": compiler prefix as
// Debian names it.
const CROSS = { 'linux-x64->arm64': 'aarch64-linux-gnu-' };

function defaultArchs() {
  const archs = [process.arch];
  if (process.platform === 'linux' && process.arch === 'x64') archs.push('arm64');
  return archs;
}

function onPath(command) {
  const dirs = (process.env.PATH || '').split(path.delimiter);
  return dirs.some((dir) => fs.existsSync(path.join(dir, command)));
}

/** Environment and prebuildify flags for building `arch` on this host. */
function toolchainFor(arch) {
  if (arch === process.arch) return { env: {}, flags: [] };
  const prefix = CROSS[`${process.platform}-${process.arch}->${arch}`];
  if (prefix === undefined) {
    // macOS clang and MSVC cross-compile through node-gyp's own --arch.
    if (process.platform === 'darwin' || process.platform === 'win32') return { env: {}, flags: [] };
    throw new Error(`no cross toolchain known for ${process.platform}-${process.arch} -> ${arch}`);
  }
  if (!onPath(`${prefix}g++`)) {
    throw new Error(
      `${prefix}g++ is not on the PATH: on Debian/Ubuntu run ` +
        `"apt-get install -y g++-aarch64-linux-gnu", or build only the host arch: npm run prebuild -- ${process.arch}`,
    );
  }
  return {
    env: { CC: `${prefix}gcc`, CXX: `${prefix}g++`, LINK: `${prefix}g++`, AR: `${prefix}ar` },
    flags: [`--strip-bin=${prefix}strip`],
  };
}

function build(arch, scratch) {
  const { env, flags } = toolchainFor(arch);
  const prebuildify = require.resolve('prebuildify/bin.js', { paths: [root] });
  // N-API: one binary per platform-arch serves every Node; the running Node's
  // headers (npm run passes the user's nodedir, if set) are as good as any.
  // Only Linux has two libcs; prebuildify would tag macOS and Windows "glibc" too.
  const libc = process.platform === 'linux' ? ['--tag-libc'] : [];
  const args = [prebuildify, '--napi', '--strip', ...libc, `--target=${process.versions.node}`, `--arch=${arch}`, ...flags];
  args.push(`--cwd=${scratch}`);
  console.log(`prebuild: ${process.platform}-${arch}`);
  const result = spawnSync(process.execPath, args, { cwd: scratch, stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.status !== 0) throw new Error(`prebuildify failed for ${process.platform}-${arch} (exit ${result.status})`);
}

function main(archs) {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-keepalive-prebuild-'));
  try {
    for (const entry of BUILD_INPUTS) fs.cpSync(path.join(root, entry), path.join(scratch, entry), { recursive: true });
    // node-addon-api and prebuildify resolve from here; a junction needs no admin rights on Windows.
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'), 'junction');
    for (const arch of archs) build(arch, scratch);
    fs.cpSync(path.join(scratch, 'prebuilds'), path.join(root, 'prebuilds'), { recursive: true });
    for (const dir of fs.readdirSync(path.join(root, 'prebuilds'))) {
      for (const file of fs.readdirSync(path.join(root, 'prebuilds', dir))) console.log(`  prebuilds/${dir}/${file}`);
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

try {
  main(process.argv.length > 2 ? process.argv.slice(2) : defaultArchs());
} catch (error) {
  console.error(`prebuild: ${error.message}`);
  process.exit(1);
}
