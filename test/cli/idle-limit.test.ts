// `tcp-keepalive idle-limit` as a user runs it: the built CLI, in front of
// the harness's middlebox (real conntrack) at a known idle timeout X, in
// front of a real server that closes idle connections itself, and on a
// path that never forgets.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { FORGETS, killAll, startMiddlebox, startPeer } from '../../lib/harness';
import { MAX_CONNECTIONS, measureIdleLimit, PROBE_COUNT, PROBE_INTERVAL_MS, type IdleLimitResult } from '../../lib/idle-limit';
import { BIN, ensureBuilt, ROOT, run } from '../support/cli';
import { middleboxSkipReason, pathThrough, REDIS, redisBehind } from '../support/middlebox';
import { isLinux } from '../support/sockets';
import { existsSync } from 'node:fs';

ensureBuilt();

afterAll(async () => {
  await killAll();
});

/** The middlebox's idle timeout in these tests: seconds, so each run takes seconds. */
const X = 3000;
const noMiddlebox = middleboxSkipReason();
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));

const parse = (stdout: string) => JSON.parse(stdout) as IdleLimitResult;

describe.skipIf(!isLinux)('tcp-keepalive idle-limit', () => {
  describe.skipIf(noMiddlebox !== undefined)(`through the harness middlebox forgetting after ${X / 1000} s (${noMiddlebox ?? 'conntrack'})`, () => {
    for (const forgets of FORGETS) {
      it.concurrent(`finds X within one resolution step when the middlebox ${forgets === 'drop' ? 'drops' : 'resets'} the forgotten connection's packets`, async () => {
        const path = await pathThrough(X, forgets);
        try {
          const started = Date.now();
          const result = await path.cli(['idle-limit', `${path.box.serverAddress}:${path.peer.port}`, '--max', '8s', '--resolution', '1s', '--json']);
          const took = Date.now() - started;
          expect(result.stderr).toBe('');
          expect(result.code).toBe(0);
          const found = parse(result.stdout);
          // The probe at exactly X races conntrack's expiry: kept just before it, or forgotten just after.
          expect(found).toMatchObject({ target: `10.77.2.1:${path.peer.port}`, forgets, serverClosedMs: null, resolutionMs: 1000, maxMs: 8000, connections: 8 });
          expect([X - 1000, X]).toContain(found.keptMs);
          expect(found.forgotMs).toBe(found.keptMs! + 1000);
          const forgotten = found.tests.find((t) => t.idleMs === found.forgotMs)!;
          expect(forgotten).toMatchObject({ outcome: 'forgot', how: forgets === 'drop' ? 'ETIMEDOUT' : 'ECONNRESET' });
          // Every shorter idle had its first probe answered.
          for (const test of found.tests.filter((t) => t.idleMs < found.forgotMs!)) {
            expect(test.outcome).toBe('kept');
            expect(test.atMs).toBeGreaterThanOrEqual(test.idleMs - 300);
          }
          // It stopped once the limit was known, not at --max: after the probes of the forgotten one.
          const forgottenBy = found.forgotMs! + (forgets === 'drop' ? PROBE_INTERVAL_MS * PROBE_COUNT : 0);
          expect(found.elapsedMs).toBeGreaterThanOrEqual(forgottenBy - 300);
          expect(found.elapsedMs).toBeLessThan(forgottenBy + 2000);
          expect(took).toBeLessThan(8000 + PROBE_INTERVAL_MS * PROBE_COUNT + 5000);
        } finally {
          await path.close();
        }
      }, 30_000);
    }

    it.concurrent('the human output gives the finding and plan values under the kept idle', async () => {
      const path = await pathThrough(X, 'reset');
      try {
        const result = await path.cli(['idle-limit', `${path.box.serverAddress}:${path.peer.port}`, '--max', '5s', '--resolution', '1s']);
        expect(result.code).toBe(0);
        const kept = /kept a connection idle (\d)s; it forgot one idle (\d)s and answered its first probe with a RST/.exec(result.stdout);
        expect(kept, result.stdout).not.toBeNull();
        expect(Number(kept![2])).toBe(Number(kept![1]) + 1);
        expect(result.stdout).toContain(`Keep keepalive idle at or below ${kept![1]}s on this path.`);
        // The plan's values: idle no longer than what was kept.
        const idle = /setKeepAlive\(socket, \{ idle: (\d+),/.exec(result.stdout);
        expect(idle, result.stdout).not.toBeNull();
        expect(Number(idle![1])).toBeLessThanOrEqual(Number(kept![1]) * 1000);
      } finally {
        await path.close();
      }
    }, 30_000);

    it.skipIf(!existsSync(REDIS)).concurrent('a real server that closes idle connections itself (redis timeout 2) bounds the measurement: serverClosedMs', async () => {
      // The middlebox forgets only after a minute: only the server closes anything here.
      const box = await startMiddlebox({ forgetAfter: 60_000, forgets: 'drop' });
      const redis = await redisBehind(box, 2).catch(async (error) => {
        await box.close();
        throw error;
      });
      try {
        const result = await run(['idle-limit', `${box.serverAddress}:${redis.port}`, '--max', '6s', '--resolution', '1s', '--json'], { prefix: box.clientPrefix });
        expect(result.code, result.stderr).toBe(0);
        const found = parse(result.stdout);
        // redis closes a client idle for more than 2 whole seconds of its clock: after 2 to 3.1 s (its cron runs 10 times a second).
        expect(found.serverClosedMs).toBeGreaterThan(2000);
        expect(found.serverClosedMs).toBeLessThan(3500);
        expect(found.forgotMs).toBeNull();
        expect(found.forgets).toBeNull();
        expect(found.keptMs).toBeGreaterThanOrEqual(1000);
        expect(found.keptMs).toBeLessThan(found.serverClosedMs!);
        // Every idle past the server's timeout ended by the server's FIN before its first probe.
        for (const test of found.tests.filter((t) => t.idleMs >= 4000)) expect(test).toMatchObject({ outcome: 'server-closed', how: 'end (FIN)' });
        const human = await run(['idle-limit', `${box.serverAddress}:${redis.port}`, '--max', '4s', '--resolution', '1s'], { prefix: box.clientPrefix });
        expect(human.stdout).toMatch(/The server closes idle connections itself, after [23]\.\ds:/);
      } finally {
        await redis.stop();
        await box.close();
      }
    }, 30_000);

    it.concurrent('a host it cannot reach: exit 1 and one line saying so', async () => {
      const box = await startMiddlebox({ forgetAfter: X, forgets: 'drop' });
      try {
        // The middlebox has no route to 10.77.3.0/24: the SYN is answered with ICMP unreachable.
        const result = await run(['idle-limit', '10.77.3.1:80', '--max', '2s', '--resolution', '1s'], { prefix: box.clientPrefix });
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/^tcp-keepalive idle-limit: 10\.77\.3\.1:80 is unreachable \(no route to (the host|its network)\)\n$/);
        expect(result.stdout).toBe('');
      } finally {
        await box.close();
      }
    }, 30_000);
  });

  it.concurrent('a path that never forgets (loopback): forgotMs null, every idle up to --max kept', async () => {
    const peer = await startPeer();
    try {
      const result = await run(['idle-limit', `127.0.0.1:${peer.port}`, '--max', '3s', '--resolution', '1s', '--json']);
      expect(result.code, result.stderr).toBe(0);
      const found = parse(result.stdout);
      expect(found).toMatchObject({ target: `127.0.0.1:${peer.port}`, keptMs: 3000, forgotMs: null, forgets: null, serverClosedMs: null, connections: 3 });
      expect(found.tests.map((t) => t.outcome)).toEqual(['kept', 'kept', 'kept']);
      expect(found.elapsedMs).toBeLessThan(3000 + 1500);
      // Each kept connection is closed as soon as its probe is answered: none is left open at the server.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await peer.stats()).filter((c) => c.open)).toEqual([]);
      const human = await run(['idle-limit', `127.0.0.1:${peer.port}`, '--max', '2s', '--resolution', '1s']);
      expect(human.stdout).toContain('The path kept every idle length up to 2s: nothing on it forgot a connection within that.');
    } finally {
      await peer.close();
    }
  }, 30_000);

  it.concurrent('a refused target: exit 1 and one line saying so, before any waiting', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const started = Date.now();
    const result = await run(['idle-limit', `127.0.0.1:${port}`, '--max', '20s', '--resolution', '10s']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`tcp-keepalive idle-limit: 127.0.0.1:${port} refused the connection: nothing listens there\n`);
    // Before the shortest idle tested: it waited for no probe.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it.concurrent('the bound on connections: --max / --resolution over it is a usage error naming the bound and a resolution that fits', async () => {
    const result = await run(['idle-limit', '127.0.0.1:1', '--max', '15m', '--resolution', '1s']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`needs 900 connections; the bound is ${MAX_CONNECTIONS}`);
    expect(result.stderr).toContain('use --resolution 9s or more');
    for (const [args, message] of [
      [['idle-limit'], /<host>:<port> is required/],
      [['idle-limit', 'localhost'], /'localhost' is not <host>:<port>/],
      [['idle-limit', 'h:70000'], /port from 1 to 65535/],
      [['idle-limit', 'h:1', '--max', '500ms'], /--max must be at least 1s/],
      [['idle-limit', 'h:1', '--max', '30'], /"--max" argument must be a duration with a unit/],
    ] as const) {
      const bad = await run([...args]);
      expect({ args, code: bad.code }).toEqual({ args, code: 2 });
      expect(bad.stderr).toMatch(message);
    }
  });

  it.concurrent('the library refuses bad options with coded errors naming the field, before connecting', async () => {
    for (const [options, code, field] of [
      [{ host: '', port: 1 }, 'ERR_INVALID_ARG_TYPE', 'options.host'],
      [{ host: '127.0.0.1', port: 0 }, 'ERR_OUT_OF_RANGE', 'options.port'],
      [{ host: '127.0.0.1', port: 1, max: 500 }, 'ERR_OUT_OF_RANGE', 'options.max'],
      [{ host: '127.0.0.1', port: 1, max: 10_000, resolution: 20_000 }, 'ERR_OUT_OF_RANGE', 'options.resolution'],
      [{ host: '127.0.0.1', port: 1, max: 900_000, resolution: 1000 }, 'ERR_OUT_OF_RANGE', 'options.resolution'],
    ] as const) {
      await expect(measureIdleLimit(options), JSON.stringify(options)).rejects.toMatchObject({ code, message: expect.stringContaining(field) });
    }
  });

  it.concurrent('SIGINT: exit 130, one line, and every connection it opened closed at the server', async () => {
    const peer = await startPeer();
    try {
      const child = spawn(process.execPath, [BIN, 'idle-limit', `127.0.0.1:${peer.port}`, '--max', '30s', '--resolution', '1s'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await peer.waitForConnections(30);
      // Some connections are still waiting for their first probe.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await peer.stats()).filter((c) => c.open).length).toBeGreaterThan(20);
      child.kill('SIGINT');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(130);
      expect(stderr).toBe('tcp-keepalive idle-limit: interrupted; every connection it opened is closed\n');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await peer.stats()).filter((c) => c.open)).toEqual([]);
    } finally {
      await peer.close();
    }
  }, 30_000);

  it.skipIf(!SCRIPT).concurrent('shows its progress on a terminal (and not when stderr is not one)', async () => {
    const peer = await startPeer();
    try {
      // util-linux script gives the command a pseudo-terminal.
      const command = `${process.execPath} ${BIN} idle-limit 127.0.0.1:${peer.port} --max 3s --resolution 1s`;
      const onTty = await new Promise<string>((resolve) => {
        const child = spawn(SCRIPT!, ['-qec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('exit', () => resolve(out));
      });
      expect(onTty).toMatch(/\r\x1b\[Kidle-limit: \d+(ms|s) of at most \d+s: \d kept, 0 forgotten, 0 closed by the server, \d waiting for their first probe/);
      expect(onTty).toContain('The path kept every idle length up to 3s');
      const piped = await run(['idle-limit', `127.0.0.1:${peer.port}`, '--max', '2s', '--resolution', '1s']);
      expect(piped.stderr).toBe('');
    } finally {
      await peer.close();
    }
  }, 30_000);
});
