// Property tests: every public function, random values of every JS type for
// every option, and sockets in every state. Each call must either give the
// documented result or throw the documented error class with a `code`.
// fast-check prints the seed and the shrunk counterexample of a failure.
import { once } from 'node:events';
import * as dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyToAgent, applyToServer, getKeepAlive, setKeepAlive, systemDefaults, tcpInfo, type KeepAliveState } from '../../lib';
import { limitsFor } from '../../lib/kernel/platform';
import { connectedPair, isLinux, listen, type Pair } from '../support/sockets';

const limits = limitsFor();
const INT32_MAX = 2 ** 31 - 1;
const FIELDS = ['idle', 'interval', 'count', 'userTimeout'] as const;
type Field = (typeof FIELDS)[number];
/** Documented option ranges in the JS unit (ms for times). */
const RANGE: Record<Field, { min: number; max: number }> = {
  idle: { min: 1, max: limits.idle.max * 1000 },
  interval: { min: 1, max: limits.interval.max * 1000 },
  count: limits.count,
  userTimeout: limits.userTimeout ?? { min: 0, max: -1 },
};

// ---------------------------------------------------------------- values

/** Any JS value except a non-negative integer (which would name a real fd of this process). */
const anyValue = fc
  .oneof(
    fc.anything({ withBigInt: true, withBoxedValues: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }),
    fc.constantFrom<unknown>(Symbol('s'), () => 1, NaN, Infinity, -Infinity, -0, 'auto', true, false, null, undefined, [], {}, new Error('x')),
  )
  .filter((v) => !(typeof v === 'number' && Number.isInteger(v) && v >= 0));

/** Values for one numeric option: in range, on and past each edge, non-integers, and everything else. */
function optionValue(field: Field): fc.Arbitrary<unknown> {
  const { min, max } = RANGE[field];
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min, max: Math.max(min, max) }) },
    { weight: 2, arbitrary: fc.constantFrom(min, max, min - 1, max + 1, 0, -1, -0, 1.5, 999.999, INT32_MAX, INT32_MAX + 1, 2 ** 32, 2 ** 53, NaN, Infinity, -Infinity) },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.constantFrom('1000', '', 'auto', 1000n, true, null) },
    { weight: 1, arbitrary: anyValue },
  );
}

const optionsRecord = fc.record(
  {
    idle: optionValue('idle'),
    interval: optionValue('interval'),
    count: optionValue('count'),
    userTimeout: fc.oneof(optionValue('userTimeout'), fc.constant('auto')),
  },
  { requiredKeys: [] },
);

/** setKeepAlive's second argument: mostly option objects, some with unknown keys, some not objects at all. */
const optionsArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: optionsRecord },
  { weight: 1, arbitrary: fc.tuple(optionsRecord, fc.string({ minLength: 1 }).filter((k) => !(FIELDS as readonly string[]).includes(k)), anyValue).map(([o, k, v]) => ({ ...o, [k]: v })) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(true, false, undefined) },
  { weight: 1, arbitrary: anyValue },
);

// ---------------------------------------------------------------- oracle

interface Failure {
  /** TypeError, RangeError or Error */
  cls: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;
  codes: string[];
  /** the message must name this */
  names?: string;
}
type Judged = { ok: true; request: Partial<Record<Field, unknown>> | false } | { ok: false; failures: Failure[] };

/**
 * What the documentation promises for an options argument, independent of
 * the socket. setKeepAlive's options default to {}; applyToServer and
 * applyToAgent require them.
 */
function judgeOptions(options: unknown, optional = true): Judged {
  if ((optional && options === undefined) || options === true) return { ok: true, request: {} };
  if (options === false) return { ok: true, request: false };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return { ok: false, failures: [{ cls: TypeError, codes: ['ERR_INVALID_ARG_TYPE'], names: '"options"' }] };
  }
  const failures: Failure[] = [];
  for (const key of Object.keys(options)) {
    if (!(FIELDS as readonly string[]).includes(key)) failures.push({ cls: TypeError, codes: ['ERR_INVALID_ARG_VALUE'], names: `options.${key}` });
  }
  const o = options as Record<Field, unknown>;
  for (const field of FIELDS) {
    const v = o[field];
    if (v === undefined || (field === 'userTimeout' && v === 'auto')) continue;
    const names = `options.${field}`;
    if (typeof v !== 'number') failures.push({ cls: TypeError, codes: ['ERR_INVALID_ARG_TYPE'], names });
    else if (!Number.isInteger(v) || v < RANGE[field].min || v > RANGE[field].max) failures.push({ cls: RangeError, codes: ['ERR_OUT_OF_RANGE'], names });
  }
  return failures.length ? { ok: false, failures } : { ok: true, request: o };
}

const wholeSeconds = (ms: number) => Math.ceil(ms / 1000) * 1000;

/**
 * The state the kernel must hold after a successful setKeepAlive, from the
 * state before it. `auto` past the userTimeout range is capped at the range's
 * end, the closest the kernel can do.
 */
function expectedAfter(before: KeepAliveState, request: Partial<Record<Field, unknown>> | false): KeepAliveState {
  if (request === false) return { ...before, enabled: false };
  const idle = request.idle === undefined ? before.idle : wholeSeconds(request.idle as number);
  const interval = request.interval === undefined ? before.interval : wholeSeconds(request.interval as number);
  const count = request.count === undefined ? before.count : (request.count as number);
  let userTimeout = request.userTimeout === undefined ? before.userTimeout : (request.userTimeout as number | 'auto');
  if (userTimeout === 'auto') userTimeout = Math.min(idle + interval * count, RANGE.userTimeout.max);
  return { enabled: true, idle, interval, count, userTimeout };
}

/** Field by field with ===, so -0 and 0 are the same number of ms. */
function expectState(actual: unknown, expected: KeepAliveState): void {
  expect(actual).toBeTypeOf('object');
  const a = actual as KeepAliveState;
  expect(Object.keys(a).sort()).toEqual(Object.keys(expected).sort());
  for (const key of Object.keys(expected) as (keyof KeepAliveState)[]) {
    if (a[key] !== expected[key]) expect({ [key]: a[key] }).toEqual({ [key]: expected[key] });
  }
}

function expectFailure(error: unknown, allowed: Failure[]): void {
  const e = error as Error & { code?: unknown };
  expect(e).toBeInstanceOf(Error);
  const match = allowed.find((f) => e instanceof f.cls && f.codes.includes(e.code as string) && (!f.names || e.message.includes(f.names)));
  if (!match) expect({ name: e.constructor?.name, code: e.code, message: e.message }).toEqual({ oneOf: allowed.map((f) => `${f.cls.name} ${f.codes.join('|')} naming ${f.names ?? '-'}`) });
}

/** A system error as Node shapes them: code, negative errno, syscall. */
function expectSystemError(error: unknown, codes?: string[]): void {
  const e = error as Error & { code?: unknown; errno?: unknown; syscall?: unknown };
  expect(e).toBeInstanceOf(Error);
  expect(e.code).toMatch(/^E[A-Z0-9]+$/);
  if (codes) expect(codes).toContain(e.code);
  expect(e.errno).toBeTypeOf('number');
  expect(e.errno as number).toBeLessThan(0);
  expect(['getsockopt', 'setsockopt']).toContain(e.syscall);
}

function outcome<T>(call: () => T): { value: T } | { error: unknown } {
  try {
    return { value: call() };
  } catch (error) {
    return { error };
  }
}

// ---------------------------------------------------------------- sockets

/** What a target is, hence what every call on it must do. */
type Kind =
  | { kind: 'tcp'; socket: () => net.Socket; tcpState: number }
  | { kind: 'pending' }
  | { kind: 'destroyed' }
  | { kind: 'system'; codes?: string[] }
  | { kind: 'bad-type'; code: string }
  /** a number that is no fd: negative, fractional, NaN, infinite, past int32 */
  | { kind: 'bad-fd' }
  /** a number past int32 whose low bits are the fd of a live TCP socket */
  | { kind: 'alias'; socket: () => net.Socket };
interface Target {
  name: string;
  [fc.toStringMethod]?: () => string;
  make: () => unknown;
  /** sockets made per case are destroyed after it */
  fresh?: boolean;
  is: Kind;
}

const TCP_ESTABLISHED = 1;
const TCP_FIN_WAIT2 = 5;
const TCP_CLOSE_WAIT = 8;
const fdOf = (s: { _handle?: { fd?: number } | null }) => s._handle!.fd!;

const open: { close(): unknown }[] = [];
const targets: Target[] = [];
let pair: Pair;
let server6: Pair | undefined;
let tmp: string;

/** A connect that stays in the connecting state: its DNS lookup never answers. */
const connectingSocket = () => net.connect({ host: 'never.invalid', port: 1, lookup: () => {} });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tcp-keepalive-fuzz-'));
  pair = await connectedPair();
  try {
    server6 = await connectedPair('::1');
  } catch {
    server6 = undefined; // no IPv6 loopback on this host
  }

  // Half-closed both ways: the client sent FIN (FIN_WAIT2), the server got it (CLOSE_WAIT).
  const halfServer = net.createServer({ allowHalfOpen: true });
  open.push(halfServer);
  const port = await listen(halfServer);
  const accepted = once(halfServer, 'connection') as Promise<[net.Socket]>;
  const halfClient = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(halfClient, 'connect');
  const [halfAccepted] = await accepted;
  halfAccepted.resume();
  halfClient.end();
  await once(halfAccepted, 'end');

  // http: both ends of a request whose response is still open.
  const httpServer = http.createServer();
  open.push(httpServer);
  const httpPort = await listen(httpServer);
  const serverSide = once(httpServer, 'request') as Promise<[http.IncomingMessage, http.ServerResponse]>;
  const clientRequest = http.request({ port: httpPort, host: '127.0.0.1', agent: false });
  clientRequest.end();
  const [serverRequest, serverResponse] = await serverSide;
  serverResponse.writeHead(200).write('open');
  const [clientResponse] = (await once(clientRequest, 'response')) as [http.IncomingMessage];

  const destroyed = net.connect((pair.server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(destroyed, 'connect');
  destroyed.destroy();

  const udp = dgram.createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  open.push(udp);
  // dgram exposes its handle only under a symbol (or the deprecated _handle).
  const udpState = Object.getOwnPropertySymbols(udp).find((s) => String(s) === 'Symbol(state symbol)')!;
  const udpFd = (udp as unknown as Record<symbol, { handle: { fd: number } }>)[udpState].handle.fd;
  expect(udpFd).toBeGreaterThan(2);

  const unixServer = net.createServer();
  open.push(unixServer);
  unixServer.listen(join(tmp, 'sock'));
  await once(unixServer, 'listening');
  const unixClient = net.connect(join(tmp, 'sock'));
  await once(unixClient, 'connect');

  const fileFd = openSync(__filename, 'r');
  open.push({ close: () => closeSync(fileFd) });
  // A FIFO opened read-write is a pipe fd that never blocks on open.
  execFileSync('mkfifo', [join(tmp, 'fifo')]);
  const pipeFd = openSync(join(tmp, 'fifo'), constants.O_RDWR | constants.O_NONBLOCK);
  open.push({ close: () => closeSync(pipeFd) });
  // Closed right before the call, so no socket opened later can take its number.
  const closedFd = () => {
    const fd = openSync(__filename, 'r');
    closeSync(fd);
    return fd;
  };

  const tcp = (name: string, socket: () => net.Socket, tcpState: number): Target[] => [
    { name, make: socket, is: { kind: 'tcp', socket, tcpState } },
    { name: `${name} (fd number)`, make: () => fdOf(socket() as never), is: { kind: 'tcp', socket, tcpState } },
  ];
  targets.push(
    ...tcp('connected client', () => pair.client, TCP_ESTABLISHED),
    ...tcp('accepted server socket', () => pair.accepted, TCP_ESTABLISHED),
    ...tcp('half-closed client (sent FIN)', () => halfClient, TCP_FIN_WAIT2),
    ...tcp('half-closed server socket (got FIN)', () => halfAccepted, TCP_CLOSE_WAIT),
    { name: 'http ClientRequest', make: () => clientRequest, is: { kind: 'tcp', socket: () => clientRequest.socket!, tcpState: TCP_ESTABLISHED } },
    { name: 'http client IncomingMessage', make: () => clientResponse, is: { kind: 'tcp', socket: () => clientRequest.socket!, tcpState: TCP_ESTABLISHED } },
    { name: 'http server IncomingMessage', make: () => serverRequest, is: { kind: 'tcp', socket: () => serverRequest.socket, tcpState: TCP_ESTABLISHED } },
    { name: 'http ServerResponse', make: () => serverResponse, is: { kind: 'tcp', socket: () => serverRequest.socket, tcpState: TCP_ESTABLISHED } },
    { name: 'connecting socket', make: connectingSocket, fresh: true, is: { kind: 'pending' } },
    { name: 'socket never told to connect', make: () => new net.Socket(), fresh: true, is: { kind: 'pending' } },
    {
      name: 'ClientRequest before it has a socket',
      make: () => http.request({ host: 'never.invalid', port: 1, agent: false, lookup: () => {} }).on('error', () => {}),
      fresh: true,
      is: { kind: 'pending' },
    },
    { name: 'destroyed socket', make: () => destroyed, is: { kind: 'destroyed' } },
    { name: 'UDP socket fd', make: () => udpFd, is: { kind: 'system' } },
    { name: 'dgram.Socket object', make: () => udp, is: { kind: 'bad-type', code: 'ERR_INVALID_ARG_TYPE' } },
    { name: 'Unix-domain socket', make: () => unixClient, is: { kind: 'system' } },
    { name: 'Unix-domain socket fd', make: () => fdOf(unixClient as never), is: { kind: 'system' } },
    { name: 'closed fd', make: closedFd, is: { kind: 'system', codes: ['EBADF'] } },
    { name: 'fd never opened (2^24)', make: () => 2 ** 24, is: { kind: 'system', codes: ['EBADF'] } },
    { name: 'file fd', make: () => fileFd, is: { kind: 'system', codes: ['ENOTSOCK'] } },
    { name: 'pipe fd', make: () => pipeFd, is: { kind: 'system', codes: ['ENOTSOCK'] } },
    { name: 'net.Server', make: () => pair.server, is: { kind: 'bad-type', code: 'ERR_INVALID_ARG_VALUE' } },
    { name: 'negative fd', make: () => -1, is: { kind: 'bad-fd' } },
    { name: 'fractional fd', make: () => fdOf(pair.client as never) + 0.5, is: { kind: 'bad-fd' } },
  );
  if (server6) targets.push(...tcp('IPv6 connected client', () => server6!.client, TCP_ESTABLISHED));
  for (const t of targets) t[fc.toStringMethod] = () => t.name;
  open.push(
    { close: () => [halfClient, halfAccepted, unixClient, clientRequest.socket!].forEach((s) => s.destroy()) },
    { close: () => rmSync(tmp, { recursive: true, force: true }) },
  );
});

afterAll(async () => {
  await pair?.close();
  await server6?.close();
  for (const thing of open.reverse()) thing.close();
});

/** Objects that print as their label in a counterexample. */
function labelled<T extends object>(things: Record<string, T>): T[] {
  return Object.entries(things).map(([label, thing]) => Object.assign(thing, { [fc.toStringMethod]: () => label }));
}

const anyTarget = () =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...targets) },
    { weight: 1, arbitrary: anyValue.map((v): Target => ({ name: 'a value that is no socket', [fc.toStringMethod]: () => fc.stringify(v), make: () => v, is: typeof v === 'number' ? { kind: 'bad-fd' } : { kind: 'bad-type', code: 'ERR_INVALID_ARG_TYPE' } })) },
  );

/** Runs one call on a target made for it, then tidies a socket made for this case only. */
function onTarget<T>(target: Target, call: (socket: unknown) => T): { value: T } | { error: unknown } {
  const socket = target.make();
  try {
    return outcome(() => call(socket));
  } finally {
    if (target.fresh) (socket as { destroy(): void }).destroy();
  }
}

const tcpFailure = (t: Target): Failure[] => {
  switch (t.is.kind) {
    case 'destroyed':
      return [{ cls: Error, codes: ['ERR_SOCKET_CLOSED'] }];
    case 'bad-type':
      return [{ cls: TypeError, codes: [t.is.code], names: '"socket"' }];
    case 'bad-fd':
    case 'alias':
      return [{ cls: RangeError, codes: ['ERR_OUT_OF_RANGE'], names: '"socket"' }];
    default:
      return [];
  }
};

/** A read (getKeepAlive, tcpInfo) of anything but a connected TCP socket throws the documented error. */
function expectReadRefused(result: { value: unknown } | { error: unknown }, target: Target): void {
  expect(result).toHaveProperty('error');
  const { error } = result as { error: unknown };
  if (target.is.kind === 'pending') expectFailure(error, [{ cls: Error, codes: ['ERR_TCP_KEEPALIVE_UNSUPPORTED'] }]);
  else if (target.is.kind === 'system') expectSystemError(error, target.is.codes);
  else expectFailure(error, tcpFailure(target));
}


// ---------------------------------------------------------------- properties

describe.skipIf(!isLinux)('fuzz (Linux: the system errors checked are Linux errnos)', () => {
  it('a number past int32 never reaches the fd its low 32 bits name: 300 random multiples of 2^32 over a live socket', () => {
    const fd = fdOf(pair.client as never);
    const alias: Target = { name: 'fd + k x 2^32', make: () => 0, is: { kind: 'alias', socket: () => pair.client } };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 20 }), fc.constantFrom('set', 'get', 'tcpInfo'), (k, call) => {
        const number = fd + k * 2 ** 32;
        const before = getKeepAlive(pair.client);
        const other = before.idle === 4_000 ? 5_000 : 4_000;
        const result = outcome(() => (call === 'set' ? setKeepAlive(number, { idle: other }) : call === 'get' ? getKeepAlive(number) : tcpInfo(number)));
        expect(result).toHaveProperty('error');
        expectFailure((result as { error: unknown }).error, tcpFailure(alias));
        expectState(getKeepAlive(pair.client), before);
      }),
      { numRuns: 300 },
    );
  });

  it('setKeepAlive: 5 000 random options x sockets in every state', () => {
    fc.assert(
      fc.property(anyTarget(), optionsArg, (target, options) => {
        const judged = judgeOptions(options);
        const tcpSocket = target.is.kind === 'tcp' || target.is.kind === 'alias' ? target.is.socket() : undefined;
        const before = tcpSocket && getKeepAlive(tcpSocket);
        const result = onTarget(target, (s) => setKeepAlive(s as never, options as never));
        const after = tcpSocket && getKeepAlive(tcpSocket);

        if (!judged.ok) {
          // Options are checked before the socket is looked at; a bad socket may be named first.
          expect(result).toHaveProperty('error');
          expectFailure((result as { error: unknown }).error, [...judged.failures, ...tcpFailure(target)]);
          if (tcpSocket) expectState(after, before!);
          return;
        }
        switch (target.is.kind) {
          case 'tcp': {
            const expected = expectedAfter(before!, judged.request);
            expect(result).not.toHaveProperty('error');
            expectState((result as { value: unknown }).value, expected);
            expectState(after, expected);
            return;
          }
          case 'pending':
            expect(result).toEqual({ value: null });
            return;
          case 'system':
            expect(result).toHaveProperty('error');
            expectSystemError((result as { error: unknown }).error, target.is.codes);
            return;
          default:
            expect(result).toHaveProperty('error');
            expectFailure((result as { error: unknown }).error, tcpFailure(target));
            if (target.is.kind === 'alias') expectState(after, before!);
        }
      }),
      { numRuns: 5_000 },
    );
  });

  it("userTimeout 'auto' past the userTimeout range is capped at its end (int32 ms), never an EINVAL: 200 cases", () => {
    const seconds = (field: 'idle' | 'interval') => fc.integer({ min: 1, max: RANGE[field].max / 1000 }).map((s) => s * 1000);
    fc.assert(
      fc.property(seconds('idle'), seconds('interval'), fc.integer(RANGE.count), (idle, interval, count) => {
        fc.pre(idle + interval * count > RANGE.userTimeout.max);
        const expected = { enabled: true, idle, interval, count, userTimeout: RANGE.userTimeout.max };
        expectState(setKeepAlive(pair.client, { idle, interval, count, userTimeout: 'auto' }), expected);
        expectState(getKeepAlive(pair.client), expected);
      }),
      { numRuns: 200 },
    );
  });

  it('getKeepAlive: 2 000 sockets in every state, after Node itself set keepalive to a random delay', () => {
    fc.assert(
      fc.property(anyTarget(), fc.boolean(), fc.integer({ min: 1, max: 7200 }), (target, enable, delayS) => {
        // Node's own socket.setKeepAlive is the independent writer here. Node
        // skips a call that matches what it last set itself, so it is first
        // told the opposite.
        const tcpSocket = target.is.kind === 'tcp' ? target.is.socket() : undefined;
        tcpSocket?.setKeepAlive(!enable, delayS * 1000);
        tcpSocket?.setKeepAlive(enable, delayS * 1000);
        const result = onTarget(target, (s) => getKeepAlive(s as never));
        switch (target.is.kind) {
          case 'tcp': {
            expect(result).not.toHaveProperty('error');
            const state = (result as { value: KeepAliveState }).value;
            expect(state.enabled).toBe(enable);
            if (enable) expect(state.idle).toBe(delayS * 1000);
            expect(state.interval % 1000).toBe(0);
            expect(state.count).toBeGreaterThanOrEqual(1);
            expect(state.userTimeout).toBeTypeOf('number');
            return;
          }
          default:
            expectReadRefused(result, target);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('tcpInfo: 1 500 sockets in every state; the TCP state matches the socket', () => {
    const FIELDS_OF_INFO = ['backoff', 'lastAckRecvMs', 'lastDataRecvMs', 'lastDataSentMs', 'probes', 'retransmits', 'rtoUs', 'rttUs', 'state', 'unacked'];
    fc.assert(
      fc.property(anyTarget(), (target) => {
        const result = onTarget(target, (s) => tcpInfo(s as never));
        switch (target.is.kind) {
          case 'tcp': {
            expect(result).not.toHaveProperty('error');
            const info = (result as unknown as { value: Record<string, unknown> }).value;
            expect(Object.keys(info).sort()).toEqual(FIELDS_OF_INFO);
            for (const v of Object.values(info)) expect(v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 0)).toBe(true);
            expect(info.state).toBe(target.is.tcpState);
            return;
          }
          default:
            expectReadRefused(result, target);
        }
      }),
      { numRuns: 1_500 },
    );
  });

  it('systemDefaults: 300 calls with random arguments all equal the sysctls', () => {
    const sysctl = (name: string) => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8'));
    const idle = sysctl('tcp_keepalive_time') * 1000;
    const interval = sysctl('tcp_keepalive_intvl') * 1000;
    const count = sysctl('tcp_keepalive_probes');
    fc.assert(
      fc.property(fc.array(anyValue, { maxLength: 3 }), (args) => {
        expect((systemDefaults as (...a: unknown[]) => unknown)(...args)).toEqual({ idle, interval, count, detectAfter: idle + interval * count });
      }),
      { numRuns: 300 },
    );
  });

  it('applyToServer: 1 000 random servers x options; stop() removes exactly its listener', () => {
    const servers = labelled({ 'listening net.Server': pair.server, 'http.Server': http.createServer(), 'https.Server': https.createServer(), 'new net.Server()': new net.Server() });
    fc.assert(
      fc.property(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...servers) }, anyValue), optionsArg, (server, options) => {
        const isServer = servers.includes(server as net.Server);
        const listeners = isServer ? (server as net.Server).listenerCount('connection') : 0;
        const result = outcome(() => applyToServer(server as net.Server, options as never));
        const judged = judgeOptions(options, false);
        if (!isServer || !judged.ok) {
          expect(result).toHaveProperty('error');
          const allowed = isServer ? [] : [{ cls: TypeError, codes: ['ERR_INVALID_ARG_TYPE'], names: '"server"' }];
          expectFailure((result as { error: unknown }).error, [...allowed, ...(judged.ok ? [] : judged.failures)]);
          if (isServer) expect((server as net.Server).listenerCount('connection')).toBe(listeners);
          return;
        }
        expect(result).not.toHaveProperty('error');
        const stop = (result as { value: () => void }).value;
        expect(stop).toBeTypeOf('function');
        expect((server as net.Server).listenerCount('connection')).toBe(listeners + 1);
        stop();
        stop();
        expect((server as net.Server).listenerCount('connection')).toBe(listeners);
      }),
      { numRuns: 1_000 },
    );
  });

  it('applyToAgent: 1 000 random agents x options; restore() puts the agent back as it was', () => {
    const agents = labelled({ 'http.Agent': new http.Agent(), 'keepAlive http.Agent': new http.Agent({ keepAlive: true }), 'https.Agent': new https.Agent() });
    type Internals = { createConnection: unknown; keepSocketAlive: unknown };
    fc.assert(
      fc.property(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...agents) }, anyValue), optionsArg, (agent, options) => {
        const isAgent = agents.includes(agent as http.Agent);
        const original = isAgent ? { createConnection: (agent as unknown as Internals).createConnection, keepSocketAlive: (agent as unknown as Internals).keepSocketAlive } : undefined;
        const result = outcome(() => applyToAgent(agent as http.Agent, options as never));
        const judged = judgeOptions(options, false);
        const internals = agent as Internals;
        if (!isAgent || !judged.ok) {
          expect(result).toHaveProperty('error');
          const allowed = isAgent ? [] : [{ cls: TypeError, codes: ['ERR_INVALID_ARG_TYPE'], names: '"agent"' }];
          expectFailure((result as { error: unknown }).error, [...allowed, ...(judged.ok ? [] : judged.failures)]);
          if (isAgent) expect([internals.createConnection, internals.keepSocketAlive]).toEqual([original!.createConnection, original!.keepSocketAlive]);
          return;
        }
        expect(result).not.toHaveProperty('error');
        expect(internals.createConnection).not.toBe(original!.createConnection);
        (result as { value: () => void }).value();
        expect(internals.createConnection).toBe(original!.createConnection);
        expect(internals.keepSocketAlive).toBe(original!.keepSocketAlive);
      }),
      { numRuns: 1_000 },
    );
  });

  describe('applied at connect, on real connections', () => {
    const validOptions = optionsArg.filter((o) => judgeOptions(o, false).ok);
    /** What a fresh socket holds before anyone touches it. */
    const fresh = (): KeepAliveState => {
      const d = systemDefaults();
      return { enabled: false, idle: d.idle, interval: d.interval, count: d.count, userTimeout: 0 };
    };

    const expectedOnFresh = (options: unknown) => expectedAfter(fresh(), (judgeOptions(options) as unknown as { request: never }).request);

    it('a connecting socket: 100 random valid options are what the kernel holds after connect', async () => {
      const port = (pair.server.address() as net.AddressInfo).port;
      await fc.assert(
        fc.asyncProperty(validOptions, async (options) => {
          const expected = expectedOnFresh(options);
          const client = net.connect(port, 'localhost');
          try {
            expect(setKeepAlive(client, options as never)).toBeNull();
            await once(client, 'connect');
            expectState(getKeepAlive(client), expected);
          } finally {
            client.destroy();
          }
        }),
        { numRuns: 100 },
      );
    });

    it('applyToServer: 100 random valid options are what every accepted socket holds', async () => {
      const server = net.createServer();
      const port = await listen(server);
      try {
        await fc.assert(
          fc.asyncProperty(validOptions, async (options) => {
            const expected = expectedOnFresh(options);
            const stop = applyToServer(server, options as never);
            const accepted = once(server, 'connection') as Promise<[net.Socket]>;
            const client = net.connect(port, '127.0.0.1');
            try {
              const [socket] = await accepted;
              expectState(getKeepAlive(socket), expected);
              socket.destroy();
            } finally {
              stop();
              client.destroy();
            }
          }),
          { numRuns: 100 },
        );
      } finally {
        server.close();
      }
    });

    it('applyToAgent: 50 random valid options are what the request socket holds', async () => {
      const server = http.createServer((_req, res) => res.end('ok'));
      const port = await listen(server);
      try {
        await fc.assert(
          fc.asyncProperty(validOptions, async (options) => {
            const expected = expectedOnFresh(options);
            const agent = new http.Agent();
            const restore = applyToAgent(agent, options as never);
            try {
              const req = http.get({ port, host: '127.0.0.1', agent });
              const [socket] = (await once(req, 'socket')) as [net.Socket];
              if (socket.connecting) await once(socket, 'connect');
              expectState(getKeepAlive(socket), expected);
              const [res] = (await once(req, 'response')) as [http.IncomingMessage];
              res.resume();
              await once(res, 'end');
            } finally {
              restore();
              agent.destroy();
            }
          }),
          { numRuns: 50 },
        );
      } finally {
        server.close();
      }
    });
  });
});
