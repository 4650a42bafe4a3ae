'use strict';
// Runs one documentation block: starts the local servers that stand in for
// the remote hosts the block names (listening on the ports it uses), runs
// the block's command in a process group of its own, and stops the whole
// group when the command exits or its time is up. code-blocks.test.ts starts
// this inside a user, network and mount namespace of the test's own, where
// /etc/hosts maps the remote host names to loopback, so that nothing the
// block does reaches or collides with anything outside.
//
// argv: <config JSON> <command> [args…]
//   config: { ports: number[], holdMs: number, limitMs: number }
// Prints one last line on stderr: `[sandbox] {"code":…,"signal":…,"timedOut":…}`.
const net = require('node:net');
const { spawn } = require('node:child_process');

const [configText, command, ...args] = process.argv.slice(2);
const config = JSON.parse(configText);

/** A server that accepts, stays silent, and ends each connection after holdMs (as a server that closes idle clients does). */
function sink(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      setTimeout(() => socket.end(), config.holdMs).unref();
    });
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function main() {
  const servers = await Promise.all(config.ports.map(sink));
  for (const server of servers) server.unref();
  const child = spawn(command, args, { stdio: 'inherit', detached: true });
  let timedOut = false;
  const stopGroup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stopGroup();
  }, config.limitMs);
  child.on('exit', (code, signal) => {
    clearTimeout(timer);
    // Background jobs of a shell block (`ping-server &`) end with it.
    stopGroup();
    process.stderr.write(`\n[sandbox] ${JSON.stringify({ code, signal, timedOut })}\n`);
    process.exit(0);
  });
}

main().catch((error) => {
  process.stderr.write(`\n[sandbox] ${JSON.stringify({ code: null, signal: null, timedOut: false, error: String(error) })}\n`);
  process.exit(0);
});
