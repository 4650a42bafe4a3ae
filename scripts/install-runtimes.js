#!/usr/bin/env node
'use strict';
// Bun and Deno for test/runtimes/, from their npm packages (each ships its
// binary as an optional dependency per platform, so this needs only the npm
// registry). Pinned to the versions the docs' figures were measured with;
// installed once into node_modules/.cache (not committed), kept while the
// versions match. Where no binary fits this platform, nothing is installed
// and the tests say so.
const { execFileSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const VERSIONS = { bun: '1.4.5', deno: '2.9.6' };
const dir = path.join(__dirname, '..', 'node_modules', '.cache', 'tcp-keepalive-tests', 'runtimes');
const stamp = path.join(dir, 'versions.json');
const wanted = JSON.stringify(VERSIONS);

// The platforms both packages ship a binary for.
const SUPPORTED = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64'];
const here = `${process.platform}-${process.arch}`;

if (!SUPPORTED.includes(here)) {
  console.log(`install-runtimes: no Bun and Deno binaries for ${here}; test/runtimes/ will say so`);
} else if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) {
  console.log(`install-runtimes: bun ${VERSIONS.bun} and deno ${VERSIONS.deno} already in ${path.relative(process.cwd(), dir)}`);
} else {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n');
  const npm = process.env.npm_execpath;
  const specs = Object.entries(VERSIONS).map(([name, version]) => `${name}@${version}`);
  const args = ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', '--loglevel', 'error', ...specs];
  if (npm) execFileSync(process.execPath, [npm, ...args], { stdio: 'inherit' });
  else execFileSync('npm', args, { stdio: 'inherit', shell: process.platform === 'win32' });
  writeFileSync(stamp, wanted);
  console.log(`install-runtimes: installed ${specs.join(' and ')}`);
}
