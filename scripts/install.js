#!/usr/bin/env node
'use strict';
// The package's install script. It never breaks the user's install: when no
// prebuild loads and the addon cannot be compiled, it prints one line saying
// what is missing and how to get it, and exits 0. The package then works
// through Node's own API (see docs/platforms.md).
//
// In a git checkout of this repository a failed compile does fail, with
// node-gyp's output shown: there the addon is what is being developed.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const isCheckout = fs.existsSync(path.join(root, '.git'));
const say = (line) => console.error(`tcp-keepalive: ${line}`);

/** The runtime's own loader when compiled (a tarball always has dist/), else the source build's path. */
function tryLoad() {
  const native = path.join(root, 'dist', 'native.js');
  if (fs.existsSync(native)) {
    try {
      return require(native).loadAddon();
    } catch (error) {
      // A dist/ left from another version of the sources: judge the build alone.
      say(`dist/native.js cannot be used (${error.message.split('\n')[0]}); checking the build directly`);
    }
  }
  const built = path.join(root, 'build', 'Release', 'tcp_keepalive.node');
  if (!fs.existsSync(built)) return { binding: null, reason: 'no build of the native addon' };
  try {
    process.dlopen({ exports: {} }, built);
    return { binding: {}, path: built };
  } catch (error) {
    return { binding: null, reason: `${built} cannot be loaded: ${error.message.split('\n')[0]}` };
  }
}

function onPath(command) {
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  return (process.env.PATH || '').split(path.delimiter).some((dir) => exts.some((ext) => fs.existsSync(path.join(dir, command + ext))));
}

/** What node-gyp needs and this machine lacks (MSVC on Windows is node-gyp's to find). */
function missingTools() {
  const missing = [];
  if (!['python3', 'python'].some(onPath)) missing.push('python3');
  if (process.platform !== 'win32') {
    if (!onPath('make')) missing.push('make');
    if (!['c++', 'g++', 'clang++'].some(onPath)) missing.push('a C++ compiler');
  }
  return missing;
}

function nodeGyp() {
  // npm passes the node-gyp it bundles; a dev checkout has its own.
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  } catch {
    return undefined;
  }
}

function fallBack(why) {
  say(
    `${why}; using Node's own keepalive (idle only before Node 24.19/26.4; no getKeepAlive, userTimeout or tcpInfo). ` +
      'For the native addon: install python3, make and a C++ compiler, then run "npm rebuild tcp-keepalive".',
  );
}

function main() {
  const first = tryLoad();
  if (first.binding) return 0;
  const missing = missingTools();
  const gyp = nodeGyp();
  if (!isCheckout && (missing.length > 0 || !gyp)) {
    fallBack(`${first.reason}, and it cannot be compiled here: no ${missing.length ? missing.join(', ') : 'node-gyp'}`);
    return 0;
  }
  const log = path.join(os.tmpdir(), `tcp-keepalive-build-${process.pid}.log`);
  const out = isCheckout ? 'inherit' : fs.openSync(log, 'w');
  const build = spawnSync(process.execPath, [gyp ?? 'node-gyp', 'rebuild'], { cwd: root, stdio: ['ignore', out, out] });
  if (typeof out === 'number') fs.closeSync(out);
  if (build.status !== 0) {
    if (isCheckout) return build.status ?? 1;
    fallBack(`${first.reason}, and compiling it failed (node-gyp exited ${build.status ?? build.signal}; its output is in ${log})`);
    return 0;
  }
  if (!isCheckout) fs.rmSync(log, { force: true });
  const second = tryLoad();
  if (second.binding) return 0;
  if (isCheckout) {
    say(`the addon compiled but does not load: ${second.reason}`);
    return 1;
  }
  fallBack(`the addon compiled but does not load: ${second.reason}`);
  return 0;
}

process.exitCode = main();
