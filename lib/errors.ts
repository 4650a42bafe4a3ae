// Errors shaped like Node's own: a class users can test with instanceof and
// a `code` they can switch on. Every coded error of the package, in every
// layer, is made by coded().

export type ErrorCode =
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_SOCKET_CLOSED'
  | 'ERR_TCP_KEEPALIVE_BUNDLE'
  | 'ERR_TCP_KEEPALIVE_NO_FD'
  | 'ERR_TCP_KEEPALIVE_UNSUPPORTED';

/** The one factory: an error with its `code` and any fields that explain it. */
export function coded<E extends Error, C extends string, F extends object = object>(error: E, code: C, fields?: F): E & { code: C } & F {
  return Object.assign(error, fields, { code });
}

export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  return `type ${typeof value}`;
}

export function invalidType(name: string, expected: string, value: unknown): TypeError {
  return coded(new TypeError(`The "${name}" argument must be ${expected}. Received ${describeValue(value)}`), 'ERR_INVALID_ARG_TYPE');
}

export function outOfRange(name: string, range: string, value: unknown): RangeError {
  return coded(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${describeValue(value)}`), 'ERR_OUT_OF_RANGE');
}

export function invalidValue(name: string, reason: string): TypeError {
  return coded(new TypeError(`The "${name}" argument ${reason}`), 'ERR_INVALID_ARG_VALUE');
}

export function socketClosed(): Error {
  return coded(new Error('The socket is destroyed or closed: keepalive options cannot be read or set'), 'ERR_SOCKET_CLOSED');
}

export function noFd(what: string): Error {
  return coded(new Error(`${what} has no file descriptor this process can reach, so kernel keepalive cannot be set on it`), 'ERR_TCP_KEEPALIVE_NO_FD');
}

export function unsupported(message: string): Error {
  return coded(new Error(message), 'ERR_TCP_KEEPALIVE_UNSUPPORTED');
}

/** How to run the package from a bundle; docs/platforms.md ("Bundlers") has each bundler's lines. */
export const BUNDLE_FIX =
  'mark tcp-keepalive external (esbuild --external:tcp-keepalive, ncc -e tcp-keepalive, webpack externals), ' +
  'or bundle to CommonJS, or define require, __filename and __dirname in a banner (docs/platforms.md, "Bundlers")';

/**
 * What a bundler's ES module output throws where CommonJS code needs Node's
 * require: esbuild's "Dynamic require of "node:net" is not supported", or a
 * ReferenceError for require, __filename or __dirname. Other errors: undefined.
 */
export function bundleError(error: unknown): Error | undefined {
  const message = error instanceof Error ? error.message : '';
  if (!/^Dynamic require of ".*" is not supported$|^(require|__filename|__dirname) is not defined$/.test(message)) return undefined;
  return coded(
    new Error(`tcp-keepalive cannot run inside this ES module bundle, which gives CommonJS code no require ("${message}"): ${BUNDLE_FIX}`, { cause: error }),
    'ERR_TCP_KEEPALIVE_BUNDLE',
  );
}
