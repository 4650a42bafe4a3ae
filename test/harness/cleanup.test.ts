// No peer outlives the program that started it: not when a test fails
// (uncaught error), not when it is interrupted (SIGINT, SIGTERM), not even
// when it is killed outright (SIGKILL), and not a frozen peer either.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, liveChildren, namespaceSupport, startPeer } from '../../lib/harness';
import { cli, distHarness, goneWithin, processesMarked } from '../support/harness';
import { unprivileged } from '../support/nobody';
import { isLinux } from '../support/sockets';

const nobody = unprivileged();

afterEach(async () => {
  await killAll();
});

// A user's program: starts a peer, connects, freezes the peer (the hardest
// to clean up: it handles nothing), reports its pid, then fails or waits.
const PROGRAM = `
const net = require('node:net');
const { startPeer } = require(${JSON.stringify(distHarness)});
(async () => {
  const peer = await startPeer();
  const socket = net.connect(peer.port, peer.host).on('error', () => {});
  await new Promise((resolve) => socket.once('connect', resolve));
  await peer.kill('hang');
  process.stdout.write(JSON.stringify({ peer: peer.pid, frozen: peer.frozen }) + '\\n');
  if (process.argv[1] === 'throw') throw new Error('a test failing with the peer frozen');
  setInterval(() => {}, 1000);
})();
`;

async function startProgram(mode: 'throw' | 'wait') {
  const marker = `TCPKA_CLEANUP_TEST=${randomUUID()}`;
  const [name, value] = marker.split('=');
  const child = spawn(process.execPath, ['-e', PROGRAM, mode], {
    env: { ...process.env, [name]: value },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const report = JSON.parse(line.toString()) as { peer: number; frozen: boolean };
  return { child, marker, report, stderr: () => stderr };
}

describe.skipIf(!isLinux)('cleanup', () => {
  it('a program that fails with an uncaught error leaves no peer behind, frozen or not', async () => {
    const { child, marker, report, stderr } = await startProgram('throw');
    expect(report.frozen).toBe(true);
    const [code] = await once(child, 'exit');
    expect(code).not.toBe(0);
    expect(stderr()).toMatch(/a test failing with the peer frozen/);
    expect(await goneWithin(report.peer, 2000)).toBe(true);
    expect(processesMarked(marker)).toEqual([]);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`a program interrupted with ${signal} kills its peers and still dies of the signal`, async () => {
      const { child, marker, report } = await startProgram('wait');
      child.kill(signal);
      const [code, died] = await once(child, 'exit');
      expect({ code, died }).toEqual({ code: null, died: signal });
      expect(await goneWithin(report.peer, 2000)).toBe(true);
      expect(processesMarked(marker)).toEqual([]);
    });
  }

  it('a program killed with SIGKILL (no handler runs) still takes its peers with it', async () => {
    const { child, marker, report } = await startProgram('wait');
    child.kill('SIGKILL');
    await once(child, 'exit');
    // The kernel's parent-death signal, set through setpriv, does the work.
    expect(await goneWithin(report.peer, 2000)).toBe(true);
    expect(processesMarked(marker)).toEqual([]);
  });

  it('killAll(), as a failing test\'s afterEach calls it, ends frozen peers', async () => {
    const peers = await Promise.all([startPeer(), startPeer()]);
    await peers[0].kill('hang');
    expect(liveChildren().sort()).toEqual(peers.map((p) => p.pid).sort());
    await killAll();
    expect(liveChildren()).toEqual([]);
    for (const peer of peers) expect(await goneWithin(peer.pid, 1000)).toBe(true);
  });

  it('an interrupted drill leaves no peer and no namespace process behind', async () => {
    const marker = `TCPKA_CLEANUP_TEST=${randomUUID()}`;
    const [name, value] = marker.split('=');
    // hang freezes a peer; restart runs in a user+network namespace when
    // unprivileged, so as root the drill runs as nobody to take that path too.
    const asNobody = nobody.reason === undefined;
    const command = asNobody ? [...nobody.prefix, nobody.node, nobody.cli] : [process.execPath, cli];
    const [file, ...args] = [...command, 'drill', '--scenario', 'hang,restart'];
    const drill = spawn(file, args, {
      env: { ...process.env, [name]: value },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let progress = '';
    drill.stderr.on('data', (chunk) => (progress += chunk));
    const deadline = Date.now() + 10_000;
    while (!/hang: the peer died/.test(progress) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(progress).toMatch(/hang: the peer died/);
    if (asNobody && namespaceSupport().ok) {
      while (!/restart: the peer died/.test(progress) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(progress).toMatch(/restart: clients connected \(in a user\+network namespace\)/);
    }
    expect(processesMarked(marker).length).toBeGreaterThan(1);
    drill.kill('SIGINT');
    const [, died] = await once(drill, 'exit');
    expect(died).toBe('SIGINT');
    const leftAt = Date.now() + 2000;
    while (processesMarked(marker).length > 0 && Date.now() < leftAt) await new Promise((r) => setTimeout(r, 50));
    expect(processesMarked(marker)).toEqual([]);
  });
});
