#!/usr/bin/env node
'use strict';
// npm test's pretest, the same on every OS: on Linux the system tools the
// tests use (scripts/install-test-deps.sh: apt-get as root), then the
// TypeScript (compiled, and type-checked with the tests), then the prebuilds that test/package/ runs (up-to-date ones are
// kept; a cross toolchain that cannot be installed skips its target, and the
// tests of that target say so), then Bun and Deno for test/runtimes/.
// A Node script rather than a shell line: on Windows, npm runs scripts with
// cmd.exe, where `bash` may be WSL's.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const run = (command, args) => execFileSync(command, args, { cwd: root, stdio: 'inherit' });
const npm = (...args) => run(process.execPath, [process.env.npm_execpath, ...args]);

if (process.platform === 'linux') run('bash', [path.join(__dirname, 'install-test-deps.sh')]);
// The suite loads the developer's build/Release (node-gyp-build looks there
// first), and `npm install` keeps one that still loads: after src/ changes it
// would test the old addon, so it is rebuilt whenever a build input is newer.
const fs = require('node:fs');
const { newestInput } = require('./prebuild.js');
const addon = path.join(root, 'build', 'Release', 'tcp_keepalive.node');
if (!fs.existsSync(addon) || fs.statSync(addon).mtimeMs < newestInput()) npm('run', 'build:native');
npm('run', 'compile');
npm('run', 'typecheck');
npm('run', 'prebuild', '--', '--allow-unavailable', '--if-stale');
run(process.execPath, [path.join(__dirname, 'install-runtimes.js')]);
