#!/usr/bin/env node
'use strict';
// `npm run idle-limit:harness -- <forget after> <drop|reset> [idle-limit options]`:
// runs `tcp-keepalive idle-limit` against the harness's middlebox (Linux
// conntrack in network namespaces) forgetting idle connections after a
// known time, with a harness peer behind it: the figures of
// docs/middleboxes.md come from here. Needs root, or unprivileged user
// namespaces; the namespaces go with this process.
const { spawn } = require('node:child_process');
const path = require('node:path');
const { parseDuration } = require('../dist/time');
const { startMiddlebox, startPeer } = require('../dist/harness');

const [forgetAfter, forgets, ...options] = process.argv.slice(2);
if (!forgetAfter || !['drop', 'reset'].includes(forgets)) {
  process.stderr.write('usage: npm run idle-limit:harness -- <forget after, e.g. 3s> <drop|reset> [idle-limit options, e.g. --max 8s --resolution 1s]\n');
  process.exit(2);
}

(async () => {
  const box = await startMiddlebox({ forgetAfter: parseDuration(forgetAfter, '<forget after>'), forgets });
  const peer = await startPeer({ host: box.serverAddress, prefix: box.serverPrefix });
  const args = ['idle-limit', `${box.serverAddress}:${peer.port}`, ...options];
  process.stderr.write(`middlebox: forgets after ${box.forgetAfter / 1000} s, then ${forgets === 'drop' ? 'drops' : 'resets'}; $ tcp-keepalive ${args.join(' ')}\n`);
  const argv = [...box.clientPrefix, process.execPath, path.join(__dirname, '..', 'bin', 'tcp-keepalive.js'), ...args];
  const cli = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
  const [code] = await new Promise((resolve) => cli.on('exit', (...result) => resolve(result)));
  await peer.close();
  await box.close();
  process.exit(code ?? 1);
})().catch((error) => {
  process.stderr.write(`idle-limit:harness: ${error.message}\n`);
  process.exit(1);
});
