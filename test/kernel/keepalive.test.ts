import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { getKeepAlive, setKeepAlive, systemDefaults } from '../../lib';
import { connectedPair, isLinux, isRoot, type Pair } from '../support/sockets';
import { ROOT } from '../support/paths';

let pair: Pair | undefined;
afterEach(async () => {
  await pair?.close();
  pair = undefined;
});

describe('setKeepAlive / getKeepAlive on a connected socket', () => {
  it('sets all four options and reads back what it set', async () => {
    pair = await connectedPair();
    const state = setKeepAlive(pair.client, { idle: 30_000, interval: 5_000, count: 4, userTimeout: 45_000 });
    expect(state).toEqual({ enabled: true, idle: 30_000, interval: 5_000, count: 4, userTimeout: 45_000 });
    expect(getKeepAlive(pair.client)).toEqual(state);
  });

  it('rounds sub-second and fractional-second times up to whole seconds, never to zero', async () => {
    pair = await connectedPair();
    expect(setKeepAlive(pair.client, { idle: 1, interval: 1_001 })).toMatchObject({ idle: 1_000, interval: 2_000 });
    expect(getKeepAlive(pair.client)).toMatchObject({ idle: 1_000, interval: 2_000 });
    expect(setKeepAlive(pair.client, { idle: 500 })).toMatchObject({ idle: 1_000 });
  });

  it('keeps fields left out at their current value (the system default on a fresh socket)', async () => {
    pair = await connectedPair();
    const defaults = systemDefaults();
    const state = setKeepAlive(pair.client, { count: 3 });
    expect(state).toEqual({ enabled: true, idle: defaults.idle, interval: defaults.interval, count: 3, userTimeout: 0 });
    expect(setKeepAlive(pair.client, { idle: 10_000 })).toMatchObject({ idle: 10_000, count: 3 });
  });

  it("computes userTimeout 'auto' as idle + interval x count of the effective values", async () => {
    pair = await connectedPair();
    expect(setKeepAlive(pair.client, { idle: 1_500, interval: 1_000, count: 3, userTimeout: 'auto' })?.userTimeout).toBe(5_000);
    // With fields left out, 'auto' uses what the socket already holds.
    expect(setKeepAlive(pair.client, { interval: 2_000, userTimeout: 'auto' })?.userTimeout).toBe(2_000 + 2_000 * 3);
    expect(getKeepAlive(pair.client).userTimeout).toBe(8_000);
  });

  it("caps userTimeout 'auto' at the kernel's bound when idle + interval x count is larger", async () => {
    pair = await connectedPair();
    const state = setKeepAlive(pair.client, { idle: 32_767_000, interval: 32_767_000, count: 127, userTimeout: 'auto' });
    expect(state?.userTimeout).toBe(2 ** 31 - 1);
    expect(getKeepAlive(pair.client).userTimeout).toBe(2 ** 31 - 1);
  });

  it('turns keepalive off with false, and on again with true keeping the values', async () => {
    pair = await connectedPair();
    setKeepAlive(pair.client, { idle: 20_000 });
    expect(setKeepAlive(pair.client, false)).toMatchObject({ enabled: false });
    expect(getKeepAlive(pair.client).enabled).toBe(false);
    expect(setKeepAlive(pair.client, true)).toMatchObject({ enabled: true, idle: 20_000 });
  });

  it('reports keepalive off on a socket nobody configured', async () => {
    pair = await connectedPair();
    expect(getKeepAlive(pair.client).enabled).toBe(false);
  });

  it('takes a raw file descriptor number', async () => {
    pair = await connectedPair();
    const fd = (pair.client as unknown as { _handle: { fd: number } })._handle.fd;
    setKeepAlive(fd, { idle: 7_000 });
    expect(getKeepAlive(pair.client)).toMatchObject({ enabled: true, idle: 7_000 });
  });

  it("gives 1 s where Node's own setKeepAlive(true, 500) leaves the system's 2 h idle", async () => {
    pair = await connectedPair();
    pair.client.setKeepAlive(true, 500);
    expect(getKeepAlive(pair.client).idle).toBe(systemDefaults().idle);
    expect(setKeepAlive(pair.accepted, { idle: 500, interval: 500 })).toMatchObject({ idle: 1_000, interval: 1_000 });
  });

  it("leaves our values in force when Node's own setKeepAlive ran first", async () => {
    pair = await connectedPair();
    pair.client.setKeepAlive(true, 60_000);
    setKeepAlive(pair.client, { idle: 3_000, interval: 2_000, count: 2 });
    expect(getKeepAlive(pair.client)).toMatchObject({ idle: 3_000, interval: 2_000, count: 2 });
  });
});

describe('a socket that is still connecting', () => {
  it('returns null and applies the options when the socket connects, after Node re-applies its own', async () => {
    pair = await connectedPair();
    const port = (pair.server.address() as net.AddressInfo).port;
    // 'localhost' goes through DNS lookup: no fd exists yet.
    const client = net.connect(port, 'localhost');
    client.setKeepAlive(true, 90_000); // Node stores this and applies it at connect
    expect(setKeepAlive(client, { idle: 4_000, interval: 3_000, count: 5 })).toBeNull();
    await once(client, 'connect');
    expect(getKeepAlive(client)).toMatchObject({ enabled: true, idle: 4_000, interval: 3_000, count: 5 });
    client.destroy();
  });

  it('a failure at connect time is emitted as the socket error', async () => {
    pair = await connectedPair('::1').catch(() => undefined);
    if (!pair) return; // no IPv6 loopback: nothing to assert here
    const port = (pair.server.address() as net.AddressInfo).port;
    const client = net.connect(port, '::1');
    expect(setKeepAlive(client, { idle: 1_000 })).toBeNull();
    // Replace the handle's fd with one that is not a socket before connect fires.
    const errors: Error[] = [];
    client.on('error', (e) => errors.push(e));
    const fd = openSync('/dev/null', 'r');
    const handle = (client as unknown as { _handle: object })._handle;
    Object.defineProperty(handle, 'fd', { value: fd, configurable: true });
    await new Promise((resolve) => client.on('close', resolve));
    closeSync(fd);
    expect(errors[0]).toMatchObject({ code: 'ENOTSOCK', syscall: 'setsockopt' });
  });
});

describe('every socket a user holds', () => {
  it('http request and response sockets on both ends, and a ClientRequest before it has a socket', async () => {
    const http = await import('node:http');
    const seen: Record<string, unknown> = {};
    const server = http.createServer((req, res) => {
      seen.req = setKeepAlive(req, { idle: 11_000 });
      seen.res = getKeepAlive(res);
      res.end('ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const request = http.get({ port, host: '127.0.0.1', agent: false });
    expect(setKeepAlive(request, { idle: 12_000 })).toBeNull();
    const [response] = (await once(request, 'response')) as [import('node:http').IncomingMessage];
    expect(getKeepAlive(response)).toMatchObject({ enabled: true, idle: 12_000 });
    response.resume();
    await once(response, 'end');
    expect(seen.req).toMatchObject({ enabled: true, idle: 11_000 });
    expect(seen.res).toMatchObject({ enabled: true, idle: 11_000 });
    server.close();
  });

  it('rejects a net.Server with a pointer to applyToServer', () => {
    expect(() => setKeepAlive(net.createServer() as never, {})).toThrow(/applyToServer/);
  });
});

describe('bad input', () => {
  it.each([
    [{ idle: '1000' }, TypeError, 'ERR_INVALID_ARG_TYPE', /options\.idle.*1 to 32767000/],
    [{ interval: null }, TypeError, 'ERR_INVALID_ARG_TYPE', /options\.interval/],
    [{ count: 2n }, TypeError, 'ERR_INVALID_ARG_TYPE', /options\.count.*1 to 127/],
    [{ idle: 0 }, RangeError, 'ERR_OUT_OF_RANGE', /options\.idle.*1 to 32767000.*Received number 0/],
    [{ idle: 32_767_001 }, RangeError, 'ERR_OUT_OF_RANGE', /options\.idle/],
    [{ interval: 1.5 }, RangeError, 'ERR_OUT_OF_RANGE', /options\.interval/],
    [{ count: 0 }, RangeError, 'ERR_OUT_OF_RANGE', /options\.count.*1 to 127/],
    [{ count: 128 }, RangeError, 'ERR_OUT_OF_RANGE', /options\.count/],
    [{ idle: Number.NaN }, RangeError, 'ERR_OUT_OF_RANGE', /options\.idle/],
    [{ idle: Infinity }, RangeError, 'ERR_OUT_OF_RANGE', /options\.idle/],
    [{ userTimeout: -1 }, RangeError, 'ERR_OUT_OF_RANGE', /options\.userTimeout.*0 to 2147483647/],
    [{ userTimeout: 'soon' }, TypeError, 'ERR_INVALID_ARG_TYPE', /options\.userTimeout.*'auto'/],
    [{ idel: 1000 }, TypeError, 'ERR_INVALID_ARG_VALUE', /options\.idel.*not a keepalive option/],
    [null, TypeError, 'ERR_INVALID_ARG_TYPE', /"options"/],
    [[], TypeError, 'ERR_INVALID_ARG_TYPE', /"options"/],
    [1000, TypeError, 'ERR_INVALID_ARG_TYPE', /"options"/],
  ])('%o throws %o %s', async (options, Class, code, message) => {
    pair = await connectedPair();
    const before = getKeepAlive(pair.client);
    let error: unknown;
    try {
      setKeepAlive(pair.client, options as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Class);
    expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
    // Validation happens before any syscall: nothing changed.
    expect(getKeepAlive(pair.client)).toEqual(before);
  });

  it.each([[undefined], [null], ['3'], [{}]])('a socket argument of %o is a TypeError', (socket) => {
    expect(() => setKeepAlive(socket as never, {})).toThrow(TypeError);
    expect(() => getKeepAlive(socket as never)).toThrow(TypeError);
  });

  it('an fd number past int32 is a RangeError, not a wrap onto a live fd', async () => {
    pair = await connectedPair();
    const fd = (pair.client as unknown as { _handle: { fd: number } })._handle.fd;
    for (const bad of [-1, 1.5, 2 ** 32 + fd]) {
      expect(() => setKeepAlive(bad, { idle: 9_000 })).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    }
    expect(getKeepAlive(fd).enabled).toBe(false);
  });

  it('a destroyed socket gets ERR_SOCKET_CLOSED', async () => {
    pair = await connectedPair();
    pair.client.destroy();
    expect(() => setKeepAlive(pair!.client, { idle: 1_000 })).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
    expect(() => getKeepAlive(pair!.client)).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
  });

  it('a closed fd is EBADF, a file is ENOTSOCK, with errno and syscall like Node', () => {
    const fd = openSync('/dev/null', 'r');
    expect(() => setKeepAlive(fd, { idle: 1_000 })).toThrow(
      expect.objectContaining({ code: 'ENOTSOCK', syscall: 'setsockopt', errno: -88, option: 'TCP_KEEPIDLE', message: expect.stringContaining('TCP_KEEPIDLE') }),
    );
    closeSync(fd);
    expect(() => getKeepAlive(fd)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'getsockopt', errno: -9 }));
  });

  it('a UDP socket fails with the kernel error instead of silently succeeding', async () => {
    const udp = dgram.createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    const fd = (udp as unknown as { [key: symbol]: { handle: { fd: number } } })[
      Object.getOwnPropertySymbols(udp).find((s) => s.description === 'state symbol')!
    ].handle.fd;
    expect(() => setKeepAlive(fd, { idle: 1_000 })).toThrow(expect.objectContaining({ code: 'ENOPROTOOPT', syscall: 'setsockopt' }));
    expect(() => getKeepAlive(fd)).toThrow(expect.objectContaining({ syscall: 'getsockopt' }));
    udp.close();
  });
});

describe.skipIf(!isLinux)('systemDefaults', () => {
  const read = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'));

  it('matches the sysctls of this network namespace', () => {
    const idle = read('tcp_keepalive_time') * 1000;
    const interval = read('tcp_keepalive_intvl') * 1000;
    const count = read('tcp_keepalive_probes');
    expect(systemDefaults()).toEqual({ idle, interval, count, detectAfter: idle + interval * count });
  });

  it.skipIf(!isRoot)('reads the values of the namespace it runs in (needs root for unshare -n)', () => {
    const script =
      'echo 600 > /proc/sys/net/ipv4/tcp_keepalive_time; echo 10 > /proc/sys/net/ipv4/tcp_keepalive_intvl; ' +
      'echo 4 > /proc/sys/net/ipv4/tcp_keepalive_probes; ' +
      `exec "${process.execPath}" -e 'process.stdout.write(JSON.stringify(require("./dist").systemDefaults()))'`;
    const out = execFileSync('unshare', ['-n', 'sh', '-c', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ idle: 600_000, interval: 10_000, count: 4, detectAfter: 640_000 });
  });
});
