// protect() in this process: rules, scope (tls, http2), unprotect(), the
// heartbeat cause, sockets(), stats() and the OpenTelemetry adapter.
import * as dc from 'node:diagnostics_channel';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { getKeepAlive, keepAlive, parsePolicyText, protect, sockets, stats, type DeadMessage } from '../../lib';
import { exportMetrics } from '../../lib/protect/otel';
import { FIXTURES } from '../support/paths';
import { listen } from '../support/sockets';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function guarded(options: Parameters<typeof protect>[0]): void {
  cleanup.push(protect(options));
}

async function serve(server: net.Server = net.createServer()): Promise<{ port: number; accepted: Promise<net.Socket> }> {
  const port = await listen(server);
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  const accepted = once(server, 'connection').then(([socket]) => {
    (socket as net.Socket).on('error', () => {});
    cleanup.push(() => (socket as net.Socket).destroy());
    return socket as net.Socket;
  });
  return { port, accepted };
}

async function connect(port: number): Promise<net.Socket> {
  const socket = new net.Socket();
  socket.on('error', () => {});
  cleanup.push(() => socket.destroy());
  await new Promise<void>((resolve) => socket.connect(port, '127.0.0.1', resolve));
  return socket;
}

describe('protect() options', () => {
  it.each([
    [undefined, 'ERR_INVALID_ARG_TYPE', /"options" argument must be an object/],
    [{}, 'ERR_INVALID_ARG_VALUE', /protects nothing/],
    [{ idel: 2000 }, 'ERR_INVALID_ARG_VALUE', /options.idel.*the options are idle, interval, count, userTimeout, within and rules/],
    [{ idle: 0 }, 'ERR_OUT_OF_RANGE', /options.idle/],
    [{ within: 1000 }, 'ERR_OUT_OF_RANGE', /options.within/],
    [{ idle: 2000, rules: {} }, 'ERR_INVALID_ARG_TYPE', /options.rules/],
    [{ rules: [{ port: 70000, keepalive: false }] }, 'ERR_OUT_OF_RANGE', /options.rules\[0\].port/],
    [{ rules: [{ direction: 'in', keepalive: false }] }, 'ERR_INVALID_ARG_VALUE', /options.rules\[0\].direction/],
    [{ rules: [{ port: 80 }] }, 'ERR_INVALID_ARG_TYPE', /options.rules\[0\].keepalive/],
    [{ rules: [{ port: 80, keepalive: { count: 0 } }] }, 'ERR_OUT_OF_RANGE', /options.rules\[0\].keepalive.count/],
  ])('%j is refused with %s', (options, code, message) => {
    expect(() => protect(options as never)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
    expect(stats().live).toBe(0);
  });
});

describe('rules', () => {
  it('the first matching rule decides: the database gets its policy, the metrics endpoint is left alone, the rest the base policy', async () => {
    const db = await serve();
    const metrics = await serve();
    const other = await serve();
    const before = stats();
    guarded({
      within: 30_000,
      rules: [
        { port: metrics.port, direction: 'server', keepalive: false },
        { port: db.port, direction: 'client', keepalive: { idle: 3000, interval: 1000, count: 2 } },
      ],
    });
    const toDb = await connect(db.port);
    const toMetrics = await connect(metrics.port);
    const toOther = await connect(other.port);
    expect(getKeepAlive(toDb)).toMatchObject({ enabled: true, idle: 3000, interval: 1000, count: 2 });
    // the server-side rule does not match the client end of the metrics connection: base policy
    expect(getKeepAlive(toMetrics)).toMatchObject({ idle: 21_000, interval: 3000, count: 3, userTimeout: 30_000 });
    expect(getKeepAlive(await metrics.accepted).enabled).toBe(false);
    expect(getKeepAlive(toOther)).toMatchObject({ idle: 21_000, interval: 3000, count: 3 });
    expect(getKeepAlive(await db.accepted)).toMatchObject({ idle: 21_000 });
    const after = stats();
    expect(after.unprotected.rule - before.unprotected.rule).toBe(1);
    expect(after.protected - before.protected).toBe(5);
    const listed = sockets().find((s) => s.socket === toDb)!;
    expect(listed).toMatchObject({ direction: 'client', rule: 1, policy: { idle: 3000, interval: 1000, count: 2 }, remotePort: db.port });
    expect(listed.keepalive).toMatchObject({ idle: 3000 });
    expect(listed.tcp).toMatchObject({ rttMs: expect.any(Number), retransmits: 0, unacked: 0, probes: 0, lastDataReceivedMs: expect.any(Number) });
  });

  it('a rule by host matches the name the client connected to', async () => {
    const db = await serve();
    guarded({ rules: [{ host: 'localhost', keepalive: { idle: 4000 } }] });
    const byName = net.connect(db.port, 'localhost');
    byName.on('error', () => {});
    cleanup.push(() => byName.destroy());
    await once(byName, 'connect');
    expect(getKeepAlive(byName).idle).toBe(4000);
    const byAddress = await connect(db.port);
    expect(getKeepAlive(byAddress).enabled).toBe(false); // no rule matched and no base policy
  });

  it('a host RegExp with the g flag matches every socket, not every other one', async () => {
    const db = await serve();
    const rule = /^127\.0\.0\.1$/g;
    guarded({ rules: [{ host: rule, direction: 'client', keepalive: { idle: 4000 } }] });
    const clients = [];
    for (let i = 0; i < 4; i++) clients.push(await connect(db.port));
    expect(clients.map((socket) => getKeepAlive(socket).idle)).toEqual([4000, 4000, 4000, 4000]);
    expect(rule.lastIndex).toBe(0); // the user's RegExp is left as it was
  });
});

describe('scope', () => {
  const key = readFileSync(join(FIXTURES, 'key.pem'));
  const cert = readFileSync(join(FIXTURES, 'cert.pem'));

  it('tls.connect and a tls server', async () => {
    guarded({ idle: 5000, interval: 1000, count: 4 });
    const server = tls.createServer({ key, cert }, (socket) => socket.on('error', () => {}));
    const { port, accepted } = await serve(server);
    const client = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
    client.on('error', () => {});
    cleanup.push(() => client.destroy());
    await once(client, 'secureConnect');
    expect(getKeepAlive(client)).toMatchObject({ enabled: true, idle: 5000, interval: 1000, count: 4 });
    expect(getKeepAlive(await accepted)).toMatchObject({ enabled: true, idle: 5000, interval: 1000, count: 4 });
  });

  it('an http2 server and client', async () => {
    guarded({ idle: 6000, interval: 2000, count: 3 });
    const server = http2.createServer((_req, res) => res.end('ok'));
    const { port, accepted } = await serve(server);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    cleanup.push(() => session.destroy());
    await once(session, 'connect');
    expect(getKeepAlive(session.socket as net.Socket)).toMatchObject({ enabled: true, idle: 6000, interval: 2000, count: 3 });
    expect(getKeepAlive(await accepted)).toMatchObject({ enabled: true, idle: 6000 });
  });
});

describe('listeners', () => {
  it('a server that closes and listens again: its new listening socket passes the policy on too', async () => {
    guarded({ idle: 7000, userTimeout: 11000 });
    const server = net.createServer();
    const acceptedSockets: net.Socket[] = [];
    server.on('connection', (socket) => acceptedSockets.push(socket.on('error', () => {})));
    cleanup.push(() => acceptedSockets.forEach((socket) => socket.destroy()));
    for (let round = 0; round < 2; round++) {
      const { port } = await serve(server);
      await connect(port);
      await connect(port);
      await new Promise((resolve) => setImmediate(resolve));
      for (const socket of acceptedSockets.splice(0)) {
        const listed = sockets().some((s) => s.socket === socket);
        expect({ round, listed, keepalive: getKeepAlive(socket) }).toMatchObject({ round, listed: true, keepalive: { enabled: true, idle: 7000, userTimeout: 11000 } });
        socket.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('unprotect()', () => {
  it('leaves new sockets alone, stops listing the old ones and restores net.Socket', async () => {
    const proto = { ...Object.getOwnPropertyDescriptors(net.Socket.prototype) };
    const server = net.createServer();
    const acceptedSockets: net.Socket[] = [];
    server.on('connection', (socket) => acceptedSockets.push(socket.on('error', () => {})));
    const { port } = await serve(server);
    cleanup.push(() => acceptedSockets.forEach((socket) => socket.destroy()));
    const unprotect = protect({ idle: 5000, userTimeout: 9000 });
    const kept = await connect(port);
    // the second accepted socket takes the policy from its listener
    await connect(port);
    await new Promise((resolve) => setImmediate(resolve));
    expect(acceptedSockets.map((socket) => getKeepAlive(socket))).toMatchObject([
      { enabled: true, idle: 5000, userTimeout: 9000 },
      { enabled: true, idle: 5000, userTimeout: 9000 },
    ]);
    expect(sockets().map((s) => s.socket)).toContain(kept);
    unprotect();
    expect(sockets()).toHaveLength(0);
    const fresh = await connect(port);
    await new Promise((resolve) => setImmediate(resolve));
    expect(getKeepAlive(fresh).enabled).toBe(false);
    // and the listener passes nothing on any more
    expect(getKeepAlive(acceptedSockets[2])).toMatchObject({ enabled: false, userTimeout: 0 });
    expect(getKeepAlive(kept).idle).toBe(5000); // what the kernel holds stays
    for (const name of ['connect', 'setKeepAlive', '_destroy'] as const) {
      expect(net.Socket.prototype[name as keyof net.Socket]).toBe(proto[name].value);
    }
  });
});

describe('tcp-keepalive:dead', () => {
  it("a heartbeat death is published with cause 'heartbeat'", async () => {
    guarded({ idle: 5000 });
    const silent = await serve(); // reads, never answers a PING
    const socket = await connect(silent.port);
    const messages: DeadMessage[] = [];
    const onDead = (message: unknown) => messages.push(message as DeadMessage);
    dc.subscribe('tcp-keepalive:dead', onDead);
    cleanup.push(() => dc.unsubscribe('tcp-keepalive:dead', onDead));
    const before = stats().deaths.heartbeat;
    const layers = keepAlive(socket, { idle: 200, interval: 100, count: 2, fallback: 'always', heartbeat: { framing: 'compact' } });
    cleanup.push(() => layers.heartbeat?.stop());
    await new Promise((resolve) => socket.once('close', resolve));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ socket, cause: 'heartbeat', remotePort: silent.port, localPort: expect.any(Number), budgetMs: expect.any(Number) });
    expect(messages[0].silentMs).toBeGreaterThanOrEqual(300);
    expect(stats().deaths.heartbeat - before).toBe(1);
  });

  it('an ordinary close is no death', async () => {
    guarded({ idle: 5000 });
    const { port, accepted } = await serve();
    const before = stats();
    const socket = await connect(port);
    const peer = await accepted;
    socket.destroy();
    await Promise.all([once(socket, 'close'), once(peer, 'close')]);
    expect(stats().deaths).toEqual(before.deaths);
    expect(stats().live).toBe(before.live);
  });
});

describe('OpenTelemetry adapter', () => {
  class Reader extends MetricReader {
    protected async onForceFlush() {}
    protected async onShutdown() {}
  }

  it('exports the counters as metrics', async () => {
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    cleanup.push(() => provider.shutdown());
    const stop = exportMetrics(provider.getMeter('test'));
    cleanup.push(stop);
    guarded({ idle: 5000 });
    const { port } = await serve();
    await connect(port);
    const { resourceMetrics } = await reader.collect();
    const metrics = new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m.dataPoints]));
    const value = (name: string, attributes: Record<string, string> = {}) =>
      metrics.get(name)!.find((p) => JSON.stringify(p.attributes) === JSON.stringify(attributes))!.value;
    const now = stats();
    expect(value('tcp_keepalive.sockets.protected')).toBe(now.protected);
    expect(value('tcp_keepalive.sockets.live')).toBe(now.live);
    expect(value('tcp_keepalive.sockets.unprotected', { reason: 'unix' })).toBe(now.unprotected.unix);
    expect(value('tcp_keepalive.deaths', { cause: 'heartbeat' })).toBe(now.deaths.heartbeat);
    expect(now.live).toBe(2);
  });
});

describe('TCP_KEEPALIVE text', () => {
  it.each([
    ['idle=1m30s, interval=1500ms ,count=3,userTimeout=auto', { idle: 90_000, interval: 1500, count: 3, userTimeout: 'auto' }],
    ['within=30s', { within: 30_000 }],
    ['userTimeout=10s', { userTimeout: 10_000 }],
    ['userTimeout=0ms', { userTimeout: 0 }],
    ['userTimeout=0', { userTimeout: 0 }],
  ])('%j is %j', (text, options) => {
    expect(parsePolicyText(text)).toEqual(options);
  });

  it('takes time linear in its length: a megabyte of spaces inside a value is read at once, not after an hour', () => {
    // The old pattern backtracked quadratically over spaces inside a value:
    // 1.7 s for 20 000, so over an hour for a million.
    const spaces = ' '.repeat(1_000_000);
    expect(parsePolicyText(`idle=2${spaces}s`)).toEqual({ idle: 2000 });
    for (const text of [`idle=1${spaces}x`, `count=3${spaces}x`, `idle=2s,within=2s${spaces}x`, spaces]) {
      expect(() => parsePolicyText(text)).toThrow(/^TCP_KEEPALIVE: /);
    }
  });

  it.each([['idle=2\nx'], ['idle=2s,inter\nval=1s'], ['count=3\n4'], ['idle=2s\n,count=x\ny'], [`idle=${'9'.repeat(100_000)}x`]])(
    'bad value %# is named on one short line',
    (text) => {
      const error = (() => {
        try {
          parsePolicyText(text);
        } catch (thrown) {
          return thrown as Error;
        }
      })();
      expect(error?.message).toMatch(/^TCP_KEEPALIVE: /);
      expect(error!.message).not.toMatch(/[\r\n]/);
      expect(error!.message.length).toBeLessThan(400);
    },
  );
});
