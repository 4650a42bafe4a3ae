#!/usr/bin/env node
'use strict';
// Makes the N-API prebuilds that ship in the tarball, found by node-gyp-build
// (lib/native.ts) at the first native call, by the names prebuildify writes:
//   prebuilds/linux-<arch>/tcp-keepalive.<glibc|musl>.node, prebuilds/<platform>-<arch>/tcp-keepalive.node
//
// Usage: npm run prebuild [-- [--allow-unavailable] [--if-stale] [target ...]]
//   target: an arch of this platform (x64, arm64) or platform-arch (win32-x64).
//   Default: this platform-arch; on linux-x64 also linux-arm64 (Debian's
//   g++-aarch64-linux-gnu) and win32-x64 (Debian's mingw-w64 against the
//   node-api-headers package). As root on Debian the missing cross toolchain
//   is installed with apt-get.
//   --allow-unavailable: a target whose toolchain is missing and cannot be
//   installed (not root, no apt-get) is reported and does not fail the run;
//   a target that fails to compile always does.
//   --if-stale: a target whose prebuild is newer than every build input is
//   left as it is (npm test's pretest uses both flags).
//
// Each target builds in its own scratch copy of the package (the developer's
// build/, which the test suite loads, is never touched) and lands in
// prebuilds/ as soon as it is built, so one failing target loses no other.
// (The TypeScript build is called "compile", so npm never runs this as the
// pre-hook of a "build" script.)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const PACKAGE = 'tcp-keepalive';
// What a compile needs; nothing else is copied to the scratch folder.
const BUILD_INPUTS = ['package.json', 'binding.gyp', 'src'];
const host = `${process.platform}-${process.arch}`;

/** A toolchain this host lacks and cannot get; reported, not a build failure. */
class Unavailable extends Error {}

// Cross toolchains from a Linux x64 host: the command that proves it is there
// and the Debian package that provides it.
const CROSS = {
  'linux-arm64': { prefix: 'aarch64-linux-gnu-', probe: 'aarch64-linux-gnu-g++', pkg: 'g++-aarch64-linux-gnu' },
  'win32-x64': { prefix: 'x86_64-w64-mingw32-', probe: 'x86_64-w64-mingw32-g++-posix', pkg: 'g++-mingw-w64-x86-64-posix' },
};

function defaultTargets() {
  return host === 'linux-x64' ? ['linux-x64', 'linux-arm64', 'win32-x64'] : [host];
}

function onPath(command) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => fs.existsSync(path.join(dir, command)));
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${path.basename(command)} ${args[0] ?? ''} exited ${result.status}`);
}

/** Installs the cross toolchain with apt-get when missing (root only). */
function ensureCrossToolchain(target) {
  const tool = CROSS[target];
  if (onPath(tool.probe)) return tool;
  const canInstall = process.getuid?.() === 0 && onPath('apt-get');
  if (!canInstall) {
    throw new Unavailable(`${tool.probe} is not on the PATH: on Debian/Ubuntu run "apt-get install -y ${tool.pkg}" as root`);
  }
  run('bash', [path.join(__dirname, 'apt-ensure.sh'), `${tool.probe} ${tool.pkg}`]);
  if (!onPath(tool.probe)) throw new Error(`apt-get installed ${tool.pkg} but ${tool.probe} is still not on the PATH`);
  return tool;
}

/** A scratch copy of the build inputs, with node_modules linked in. */
function scratchCopy() {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-keepalive-prebuild-'));
  for (const entry of BUILD_INPUTS) fs.cpSync(path.join(root, entry), path.join(scratch, entry), { recursive: true });
  // node-addon-api and prebuildify resolve from here; a junction needs no admin rights on Windows.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'), 'junction');
  return scratch;
}

/** node-gyp through prebuildify, natively or with a gcc cross prefix. */
function buildWithGyp(target, scratch) {
  const [platform, arch] = target.split('-');
  if (platform !== process.platform) throw new Unavailable(`no toolchain known for ${target} on ${host}`);
  let env = {};
  let flags = [];
  if (target !== host) {
    if (CROSS[target] && host === 'linux-x64') {
      const { prefix } = ensureCrossToolchain(target);
      env = { CC: `${prefix}gcc`, CXX: `${prefix}g++`, LINK: `${prefix}g++`, AR: `${prefix}ar` };
      flags = [`--strip-bin=${prefix}strip`];
    } else if (process.platform !== 'darwin' && process.platform !== 'win32') {
      // macOS clang and MSVC cross-compile through node-gyp's own --arch.
      throw new Unavailable(`no cross toolchain known for ${host} -> ${target}`);
    }
  }
  const prebuildify = require.resolve('prebuildify/bin.js', { paths: [root] });
  // N-API: one binary per platform-arch serves every Node; the running Node's
  // headers are as good as any: the user's nodedir (npm run passes it), else
  // this Node's own install when it ships them (offline), else a download.
  const ownHeaders = path.resolve(process.execPath, '..', '..');
  if (!process.env.npm_config_nodedir && fs.existsSync(path.join(ownHeaders, 'include', 'node', 'node_api.h'))) {
    env.npm_config_nodedir = ownHeaders;
  }
  // Only Linux has two libcs; prebuildify would tag macOS and Windows "glibc" too.
  const libc = platform === 'linux' ? ['--tag-libc'] : [];
  const args = [prebuildify, '--napi', '--strip', ...libc, `--target=${process.versions.node}`, `--arch=${arch}`, ...flags, `--cwd=${scratch}`];
  run(process.execPath, args, { cwd: scratch, env: { ...process.env, ...env } });
  return path.join(scratch, 'prebuilds', target);
}

// The libuv functions addon.cc calls; node.exe exports them beside N-API.
const UV_EXPORTS = ['uv_err_name', 'uv_strerror', 'uv_translate_sys_error'];

/**
 * Windows x64 with mingw-w64: node-gyp cannot generate for Windows on
 * Linux, so the sources binding.gyp names for Windows are compiled here by
 * hand, against the node-api-headers package and an import library
 * for node.exe made from its .def file.
 */
function buildWithMingw(target, scratch) {
  const { prefix, probe } = ensureCrossToolchain(target);
  const headers = path.dirname(require.resolve('node-api-headers/package.json', { paths: [root] }));
  const addonApi = path.dirname(require.resolve('node-addon-api/package.json', { paths: [root] }));
  // The shipped .def lacks a final newline: join, never append blindly.
  const napiDef = fs.readFileSync(path.join(headers, 'def', 'node_api.def'), 'utf8').trimEnd();
  const def = path.join(scratch, 'node.def');
  fs.writeFileSync(def, `${napiDef}\n${UV_EXPORTS.join('\n')}\n`);
  const importLib = path.join(scratch, 'libnode.a');
  run(`${prefix}dlltool`, ['-d', def, '-l', importLib, '-m', 'i386:x86-64']);

  const out = path.join(scratch, 'prebuilds', target);
  fs.mkdirSync(out, { recursive: true });
  // The sources and defines binding.gyp gives node-gyp for Windows.
  const [gyp] = JSON.parse(fs.readFileSync(path.join(scratch, 'binding.gyp'), 'utf8')).targets;
  const forWindows = gyp.conditions.find(([condition]) => condition === "OS=='win'")[1];
  const sources = [...gyp.sources, ...forWindows.sources].map((file) => path.join(scratch, file));
  const defines = [...gyp.defines, 'NAPI_CPP_EXCEPTIONS', 'WIN32_LEAN_AND_MEAN'].map((name) => `-D${name}`);
  run(probe, [
    '-shared', '-O2', '-std=c++17', '-fvisibility=hidden', ...defines,
    '-I', path.join(headers, 'include'), '-I', addonApi, '-I', path.join(scratch, 'src'),
    ...sources, importLib,
    // Static libgcc, libstdc++ and winpthread: the DLL needs only what Windows has.
    '-static', '-s', '-ladvapi32', '-lws2_32',
    '-o', path.join(out, `${PACKAGE}.node`),
  ]);
  return out;
}

/** Newest modification time of the files a prebuild is made from. */
function newestInput() {
  const files = [__filename, path.join(root, 'binding.gyp'), ...fs.readdirSync(path.join(root, 'src')).map((f) => path.join(root, 'src', f))];
  return Math.max(...files.map((file) => fs.statSync(file).mtimeMs));
}

function upToDate(target) {
  const dir = path.join(root, 'prebuilds', target);
  if (!fs.existsSync(dir)) return false;
  const built = fs.readdirSync(dir).map((file) => fs.statSync(path.join(dir, file)).mtimeMs);
  return built.length > 0 && Math.min(...built) > newestInput();
}

function buildTarget(target) {
  const scratch = scratchCopy();
  try {
    const built = target.startsWith('win32-') && process.platform !== 'win32' ? buildWithMingw(target, scratch) : buildWithGyp(target, scratch);
    const dest = path.join(root, 'prebuilds', target);
    fs.rmSync(dest, { recursive: true, force: true });
    fs.cpSync(built, dest, { recursive: true });
    return fs.readdirSync(dest).map((file) => `prebuilds/${target}/${file}`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function parse(argv) {
  const flags = argv.filter((arg) => arg.startsWith('--'));
  const unknown = flags.filter((flag) => flag !== '--allow-unavailable' && flag !== '--if-stale');
  if (unknown.length > 0) throw new Error(`unknown option ${unknown[0]}; the options are --allow-unavailable, --if-stale`);
  const named = argv.filter((arg) => !arg.startsWith('--'));
  const targets = named.length > 0 ? named.map((t) => (t.includes('-') ? t : `${process.platform}-${t}`)) : defaultTargets();
  return { allowUnavailable: flags.includes('--allow-unavailable'), ifStale: flags.includes('--if-stale'), targets };
}

function main() {
  const { allowUnavailable, ifStale, targets } = parse(process.argv.slice(2));
  let failed = false;
  for (const target of targets) {
    if (ifStale && upToDate(target)) {
      console.log(`prebuild: ${target} up to date`);
      continue;
    }
    console.log(`prebuild: ${target}`);
    const started = process.hrtime.bigint();
    try {
      const files = buildTarget(target);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      console.log(`prebuild: ${target} done in ${seconds.toFixed(1)} s: ${files.join(', ')}`);
    } catch (error) {
      const skip = error instanceof Unavailable && allowUnavailable;
      console.error(`prebuild: ${target} ${skip ? 'skipped' : 'FAILED'}: ${error.message}`);
      if (!skip) failed = true;
    }
  }
  process.exitCode = failed ? 1 : 0;
}

module.exports = { newestInput };

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(`prebuild: ${error.message}`);
    process.exitCode = 2;
  }
}
