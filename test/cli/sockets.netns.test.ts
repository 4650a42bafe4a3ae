// `tcp-keepalive sockets --pid` for a process in another network namespace:
// its connections are read from /proc/<pid>/net/tcp, not ours.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readlinkSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { SocketsReport } from '../../lib/cli/commands/sockets';
import { runJson } from '../support/cli';
import { isLinux, isRoot } from '../support/sockets';

const namespace = `tka-preload-cli-${process.pid}`;
const reason = !isLinux ? 'needs Linux /proc' : !isRoot ? 'not root: ip netns add needs root' : undefined;

describe.skipIf(reason)(`sockets --pid of a process in another network namespace${reason ? ` (skipped: ${reason})` : ''}`, () => {
  afterAll(() => {
    execFileSync('ip', ['netns', 'delete', namespace], { stdio: 'ignore' });
  });

  it('lists its connections, with keepalive on where it set it', async () => {
    execFileSync('ip', ['netns', 'add', namespace]);
    execFileSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    // In there: a server and a client over loopback, keepalive on the client only.
    const script = `
      const net = require('net');
      const server = net.createServer(() => {}).listen(0, '127.0.0.1', () => {
        const client = net.connect(server.address().port, '127.0.0.1', () => {
          client.setKeepAlive(true, 60000);
          console.log(JSON.stringify({ server: server.address().port, client: client.localPort }));
        });
      });`;
    const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      const ports = JSON.parse(String(line)) as { server: number; client: number };
      const pid = child.pid!; // ip netns exec execs node in place
      expect(readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'));
      const report = await runJson<SocketsReport>(['sockets', '--pid', String(pid)]);
      expect(report.namespace).toBe(readlinkSync(`/proc/${pid}/ns/net`));
      const client = report.connections.find((c) => c.local.port === ports.client);
      const accepted = report.connections.find((c) => c.local.port === ports.server);
      expect(client).toMatchObject({ state: 'ESTABLISHED', keepalive: true, remote: { port: ports.server } });
      expect(accepted).toMatchObject({ state: 'ESTABLISHED', keepalive: false });
      expect(report.summary.total).toBe(2);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
});
