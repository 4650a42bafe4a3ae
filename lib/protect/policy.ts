// What protect() applies: a base policy and rules, validated once and
// compiled to what the kernel layer takes, so reaching a socket costs no
// parsing. The TCP_KEEPALIVE variable is the same options as text.
import { INT32_MAX, parseDuration } from '../time';
import { planFor } from '../plan';
import { describeValue, invalidType, invalidValue, outOfRange } from '../errors';
import { systemDefaults, toRequest, type KeepAliveOptions, type KernelRequest } from '../kernel/keepalive';
import { nodeTakesIntervalAndCount } from '../kernel/platform';

/** A keepalive policy: the kernel options (ms), or a detection budget `within` that `tcp-keepalive plan` turns into them. */
export interface PolicyOptions extends KeepAliveOptions {
  /** ms: take idle, interval, count and userTimeout from `tcp-keepalive plan` for this budget */
  within?: number;
}

/** 'client': a socket this process connected; 'server': one a server of this process accepted. */
export type Direction = 'client' | 'server';

/** A rule of `protect()`: the sockets it matches (every field given must match) get its own policy, or none. */
export interface Rule {
  /** the remote address, or the host name the client connected to */
  host?: string | RegExp;
  /** the service port: the remote port of a client, the local (listening) port of an accepted socket */
  port?: number;
  /** clients this process connected, or sockets its servers accepted */
  direction?: Direction;
  /** the policy for matching sockets; false leaves them alone */
  keepalive: PolicyOptions | false;
}

/** Options of `protect()`: a base policy for every socket, and rules that choose another for some. */
export interface ProtectOptions extends PolicyOptions {
  /** checked in order; the first match decides; sockets no rule matches get the base policy */
  rules?: Rule[];
}

/** A policy ready to apply: shared by every socket it protects. */
export interface CompiledPolicy {
  /** the options as given (within expanded) */
  options: KeepAliveOptions;
  request: KernelRequest;
  /** ms: idle + interval x count as the kernel will hold them: how long a dead idle peer can go unnoticed */
  budgetMs: number;
  /** idle as the kernel will hold it, ms: silence longer than this means probes were due */
  idleMs: number;
  /** index of the rule that chose it, null for the base policy */
  rule: number | null;
  /** all four options known, 'auto' worked out: the addon's arguments for a connected socket, or null */
  native: [idleS: number, intervalS: number, count: number, userTimeoutMs: number] | null;
}

interface CompiledRule {
  host?: string | RegExp;
  port?: number;
  direction?: Direction;
  policy: CompiledPolicy | false;
}

export interface CompiledProtection {
  base: CompiledPolicy | null;
  rules: CompiledRule[];
  /** a rule tells accepted sockets apart by their remote host: one listener's sockets may get different policies */
  serverRulesByHost: boolean;
}

const POLICY_KEYS = ['idle', 'interval', 'count', 'userTimeout', 'within'] as const;

function expandWithin(options: PolicyOptions, name: string): KeepAliveOptions {
  const { within, ...rest } = options;
  if (within === undefined) return rest;
  if (rest.idle !== undefined || rest.interval !== undefined || rest.count !== undefined || rest.userTimeout !== undefined) {
    throw invalidValue(`${name}.within`, 'sets idle, interval, count and userTimeout itself: give either within or those');
  }
  if (typeof within !== 'number' || !Number.isFinite(within)) throw invalidType(`${name}.within`, 'a duration in ms', within);
  const kernel = planFor(within).kernel;
  if (!kernel) throw outOfRange(`${name}.within`, 'at least 2000 ms: kernel keepalive counts in whole seconds', within);
  const planned: KeepAliveOptions = { idle: kernel.idle, interval: kernel.interval, count: kernel.count };
  if (kernel.userTimeout !== null) planned.userTimeout = kernel.userTimeout;
  return planned;
}

/**
 * The fields Node's own socket.setKeepAlive() cannot set, so that without
 * the native addon a policy is reduced to what it can: the idle delay, and
 * interval and count on Node 24.19+ and 26.4+.
 */
export function fieldsNodeCannotSet(): Array<keyof KeepAliveOptions> {
  return nodeTakesIntervalAndCount() ? ['userTimeout'] : ['interval', 'count', 'userTimeout'];
}

// libuv 1.46+ (every Node this package supports) sets TCP_KEEPINTVL 1 s and
// TCP_KEEPCNT 10 on Linux, macOS and FreeBSD whenever Node turns keepalive on.
const NODE_INTERVAL_MS = 1000;
const NODE_COUNT = 10;

function compilePolicy(options: unknown, name: string, rule: number | null, nodeOnly: boolean): CompiledPolicy {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidType(name, 'an object with idle, interval, count, userTimeout or within', options);
  }
  const expanded = expandWithin(options as PolicyOptions, name);
  if (nodeOnly) for (const field of fieldsNodeCannotSet()) delete expanded[field];
  let request: KernelRequest;
  try {
    request = toRequest(expanded) as KernelRequest;
  } catch (error) {
    // toRequest names its fields options.x; here they sit under `name`.
    (error as Error).message = (error as Error).message.replaceAll('"options.', `"${name}.`);
    throw error;
  }
  const defaults = systemDefaults();
  const nodeSetsIntervalAndCount = nodeOnly && process.platform !== 'win32';
  const idleMs = request.idleS > 0 ? request.idleS * 1000 : defaults.idle;
  const intervalMs = request.intervalS > 0 ? request.intervalS * 1000 : nodeSetsIntervalAndCount ? NODE_INTERVAL_MS : defaults.interval;
  const count = request.count > 0 ? request.count : nodeSetsIntervalAndCount ? NODE_COUNT : defaults.count;
  let native: CompiledPolicy['native'] = null;
  if (!nodeOnly && request.idleS > 0 && request.intervalS > 0 && request.count > 0 && request.userTimeoutMs !== -1) {
    // as applyToFd works out 'auto', once here instead of at every socket
    const userTimeoutMs = request.userTimeoutMs === 'auto' ? Math.min((request.idleS + request.intervalS * request.count) * 1000, INT32_MAX) : request.userTimeoutMs;
    native = [request.idleS, request.intervalS, request.count, userTimeoutMs];
  }
  return { options: expanded, request, budgetMs: idleMs + intervalMs * count, idleMs, rule, native };
}

const hasPolicyKey = (options: object) => POLICY_KEYS.some((key) => (options as Record<string, unknown>)[key] !== undefined);

function compileRule(rule: unknown, index: number, nodeOnly: boolean): CompiledRule {
  const name = `options.rules[${index}]`;
  if (rule === null || typeof rule !== 'object') throw invalidType(name, 'an object with host, port or direction, and keepalive', rule);
  const { host, port, direction, keepalive, ...extra } = rule as Rule;
  for (const key in extra) throw invalidValue(`${name}.${key}`, 'is not a rule field; the fields are host, port, direction and keepalive');
  if (host !== undefined && typeof host !== 'string' && !(host instanceof RegExp)) throw invalidType(`${name}.host`, 'a string or a RegExp', host);
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw typeof port === 'number' ? outOfRange(`${name}.port`, 'an integer from 1 to 65535', port) : invalidType(`${name}.port`, 'an integer from 1 to 65535', port);
  }
  if (direction !== undefined && direction !== 'client' && direction !== 'server') {
    throw invalidValue(`${name}.direction`, `must be 'client' or 'server'. Received ${describeValue(direction)}`);
  }
  if (keepalive === undefined) throw invalidType(`${name}.keepalive`, 'a policy object, or false to leave matching sockets alone', keepalive);
  const policy = keepalive === false ? false : compilePolicy(keepalive, `${name}.keepalive`, index, nodeOnly);
  // RegExp.test() with the g or y flag starts at lastIndex, left over from the previous socket.
  const matcher = host instanceof RegExp && (host.global || host.sticky) ? new RegExp(host.source, host.flags.replace(/[gy]/g, '')) : host;
  return { host: matcher, port, direction, policy };
}

/**
 * Validates protect() options. With `nodeOnly` (no native addon), each
 * policy keeps only the fields Node's own setKeepAlive() can set.
 */
export function compileProtection(options: unknown, nodeOnly = false): CompiledProtection {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidType('options', 'an object with idle, interval, count, userTimeout or within, and optional rules', options);
  }
  const { rules, ...base } = options as ProtectOptions;
  for (const key in base) {
    if (!(POLICY_KEYS as readonly string[]).includes(key)) {
      throw invalidValue(`options.${key}`, `is not a protect() option; the options are ${POLICY_KEYS.join(', ')} and rules`);
    }
  }
  if (rules !== undefined && !Array.isArray(rules)) throw invalidType('options.rules', 'an array of rules', rules);
  if (!hasPolicyKey(base) && !rules?.length) {
    throw invalidValue('options', 'protects nothing: give idle, interval, count, userTimeout or within, or rules');
  }
  const compiled = (rules ?? []).map((rule, index) => compileRule(rule, index, nodeOnly));
  return {
    base: hasPolicyKey(base) ? compilePolicy(base, 'options', null, nodeOnly) : null,
    rules: compiled,
    serverRulesByHost: compiled.some((rule) => rule.host !== undefined && rule.direction !== 'client'),
  };
}

/** The service port of a socket, as rules match it. */
export const servicePort = (remotePort: number | undefined, localPort: number | undefined, direction: Direction) =>
  direction === 'client' ? remotePort : localPort;

/** The first rule that matches decides; else the base policy; null: leave the socket alone. */
export function policyFor(
  protection: CompiledProtection,
  direction: Direction,
  addresses: string[],
  port: number | undefined,
): { policy: CompiledPolicy | null; byRule: boolean } {
  for (const rule of protection.rules) {
    if (rule.direction !== undefined && rule.direction !== direction) continue;
    if (rule.port !== undefined && rule.port !== port) continue;
    if (rule.host !== undefined) {
      const host = rule.host;
      if (!addresses.some((address) => (typeof host === 'string' ? address === host : host.test(address)))) continue;
    }
    return { policy: rule.policy === false ? null : rule.policy, byRule: true };
  }
  return { policy: protection.base, byRule: false };
}

/** A bad TCP_KEEPALIVE: the message names the key and what it allows, on one line. */
export class PolicyTextError extends Error {
  constructor(message: string) {
    // 'The value of "options.count" is out of range' reads as 'count is out of range' here.
    const plain = message.replace(/The (?:value of )?"(?:options\.)?(\w+)"(?: argument)?/g, '$1');
    super(`TCP_KEEPALIVE: ${plain.replace(/[\r\n]+/g, ' ')}`);
    this.name = 'PolicyTextError';
  }
}

const TEXT_KEYS =
  'idle, interval, count, userTimeout (durations such as 2s, 1500ms, 1m30s; userTimeout also auto or 0) or within (a duration), and addon (required or optional)';

/** A piece of the user's text in a message: quoted, escaped, and short. */
const quote = (text: string) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);

/** What the preload does where the native addon is missing: apply what Node can (optional) or exit (required). */
export type AddonSetting = 'required' | 'optional';

/**
 * Parses TCP_KEEPALIVE="idle=2s,interval=1s,count=3,userTimeout=auto" or
 * "within=30s" (and the preload's own `addon=required`) into protect()
 * options (ms), validated as protect() will take them. Durations take a
 * unit: `1500ms`, `2s`, `1m30s`. Linear in the text's length: the text
 * comes from the environment, of any size.
 *
 * @throws an Error whose message starts with `TCP_KEEPALIVE:` and names the
 *   key and what it allows, on one line, for a missing or empty text, an
 *   unknown key, a bad duration or a value out of range.
 */
export function parsePolicySettings(text: string | undefined): { options: PolicyOptions; addon: AddonSetting } {
  if (text === undefined || text.trim() === '') {
    throw new PolicyTextError(`is not set; the preload needs a policy, for example TCP_KEEPALIVE=within=30s. Keys: ${TEXT_KEYS}`);
  }
  const options: Record<string, number | 'auto'> = {};
  let addon: AddonSetting | undefined;
  for (const pair of text.split(',')) {
    const equals = pair.indexOf('=');
    const key = (equals < 0 ? pair : pair.slice(0, equals)).trim();
    if (equals < 0 || !/^[A-Za-z]+$/.test(key)) throw new PolicyTextError(`${quote(pair.trim())} is not key=value; keys: ${TEXT_KEYS}`);
    const value = pair.slice(equals + 1).trim();
    if (key === 'addon') {
      if (addon !== undefined) throw new PolicyTextError('addon is given twice');
      if (value !== 'required' && value !== 'optional') throw new PolicyTextError(`addon must be required or optional; got ${quote(value)}`);
      addon = value;
      continue;
    }
    if (!(POLICY_KEYS as readonly string[]).includes(key)) throw new PolicyTextError(`unknown key ${quote(key)}; keys: ${TEXT_KEYS}`);
    if (key in options) throw new PolicyTextError(`${key} is given twice`);
    try {
      if (key === 'count') {
        if (!/^\d+$/.test(value)) throw new Error(`count must be a whole number of probes, as in count=3; got ${quote(value)}`);
        options.count = Number(value);
      } else if (key === 'userTimeout' && value === 'auto') {
        options.userTimeout = 'auto';
      } else if (key === 'userTimeout' && /^0+(?:\.0*)?\s*(?:ms|s|m|h|d)?$/.test(value)) {
        // 0 restores the kernel's default, as in the API; a zero needs no unit.
        options.userTimeout = 0;
      } else {
        options[key] = parseDuration(value, key);
      }
    } catch (error) {
      throw new PolicyTextError((error as Error).message);
    }
  }
  try {
    compileProtection(options);
  } catch (error) {
    throw new PolicyTextError((error as Error).message);
  }
  return { options: options as PolicyOptions, addon: addon ?? 'optional' };
}

/** The protect() options of a TCP_KEEPALIVE text (see parsePolicySettings). */
export function parsePolicyText(text: string | undefined): PolicyOptions {
  return parsePolicySettings(text).options;
}
