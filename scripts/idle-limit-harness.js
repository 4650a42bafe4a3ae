#!/usr/bin/env node
'use strict';
// `npm run idle-limit:harness -- <forget after> <drop|reset> [--redis-timeout <s>] [idle-limit options]`:
// runs `tcp-keepalive idle-limit` against the harness's middlebox (Linux
// conntrack in network namespaces) forgetting idle connections after a
// known time, with a harness peer behind it, or with --redis-timeout a real
// redis-server that closes clients idle that many seconds itself: the
// figures of docs/middleboxes.md come from here. Needs root, or
// unprivileged user namespaces; the namespaces go with this process.
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { parseDuration } = require('../dist/time');
const { startMiddlebox, startPeer } = require('../dist/harness');

const [forgetAfter, forgets, ...rest] = process.argv.slice(2);
const redisAt = rest.indexOf('--redis-timeout');
const redisTimeout = redisAt === -1 ? null : rest[redisAt + 1];
const options = redisAt === -1 ? rest : rest.filter((_, i) => i !== redisAt && i !== redisAt + 1);
if (!forgetAfter || !['drop', 'reset'].includes(forgets)) {
  process.stderr.write('usage: npm run idle-limit:harness -- <forget after, e.g. 3s> <drop|reset> [idle-limit options, e.g. --max 8s --resolution 1s]\n');
  process.exit(2);
}

(async () => {
  const box = await startMiddlebox({ forgetAfter: parseDuration(forgetAfter, '<forget after>'), forgets });
  const server = redisTimeout === null ? await startPeer({ host: box.serverAddress, prefix: box.serverPrefix }) : await redis(box, redisTimeout);
  const args = ['idle-limit', `${box.serverAddress}:${server.port}`, ...options];
  process.stderr.write(`middlebox: forgets after ${box.forgetAfter / 1000} s, then ${forgets === 'drop' ? 'drops' : 'resets'}; $ tcp-keepalive ${args.join(' ')}\n`);
  const argv = [...box.clientPrefix, process.execPath, path.join(__dirname, '..', 'bin', 'tcp-keepalive.js'), ...args];
  const cli = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
  const [code] = await new Promise((resolve) => cli.on('exit', (...result) => resolve(result)));
  await server.close();
  await box.close();
  process.exit(code ?? 1);
})().catch((error) => {
  process.stderr.write(`idle-limit:harness: ${error.message}\n`);
  process.exit(1);
});

/** redis-server in the middlebox's server namespace, closing clients idle for `timeout` seconds. */
async function redis(box, timeout) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tka-idle-limit-redis-'));
  const argv = [...box.serverPrefix, '/usr/bin/redis-server', '--bind', box.serverAddress, '--port', '6379', '--timeout', timeout,
    '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    let log = '';
    child.stdout.on('data', (chunk) => (log += chunk) && /Ready to accept connections/.test(log) && resolve());
    child.on('exit', () => reject(new Error(`redis-server exited: ${log.trim().split('\n').pop()}`)));
  });
  process.stderr.write(`redis-server behind it closes clients idle for ${timeout} s\n`);
  return {
    port: 6379,
    close: async () => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
