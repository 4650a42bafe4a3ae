// Every option of the heartbeat in one place: the types, their checks, the
// defaults, and the cache that lets 100 000 connections opened with the
// same options object share one validated settings object.
import { describeValue, invalidType, invalidValue, outOfRange } from '../errors';
import type { HeartbeatTimeoutError } from './errors';
import { checkFraming, checkMessageType, type Framing } from './framing';
import { MAX_TIMER_MS } from '../time';
import { resolutionFor } from './scheduler';

/** Every time option is at most what setTimeout takes (longer ones fire after 1 ms, with a warning). */
const MAX_MS = MAX_TIMER_MS;

/** When a heartbeat declares a connection dead: after idle + interval × count ms without a sign of life. */
export interface MonitorTiming {
  /** ms with nothing received before the first PING (default 15000) */
  idle?: number;
  /** ms between unanswered PINGs (default 5000) */
  interval?: number;
  /** unanswered PINGs after which the connection is dead (default 3) */
  count?: number;
  /** only a PONG counts as a sign of life, not any data received */
  onlyPong?: boolean;
  /** on death, close the connection with the error (default true) */
  destroyOnDead?: boolean;
}

/** What a monitor that uses the protocol's own ping needs besides its timing. */
export interface MonitorHooks {
  /**
   * Sends the protocol's own ping. If it returns a promise, its fulfilment
   * counts as the PONG (`ping: () => redis.ping()`), and ping() is not
   * called again while it is pending.
   */
  ping: () => unknown;
  /** How to close the connection on death, when destroyOnDead is true. */
  destroy?: (error: HeartbeatTimeoutError) => void;
  /**
   * A count that grows whenever data arrives, such as `() => socket.bytesRead`,
   * for connections where the monitor cannot be told of every packet
   * without taking over the stream. Read every `poll` ms (see Timing).
   */
  progress?: () => number;
  /**
   * True while the connection is running a request of its own (a BLPOP, a
   * slow query). While it returns true the monitor sends no PING and reaches
   * no verdict; any time spent busy counts as a sign of life, so the silence
   * clock starts again when the request ends.
   */
  busy?: () => boolean;
}

/** Options of `monitor()`: its timing (ms) and the protocol's own ping. */
export interface MonitorOptions extends MonitorTiming, MonitorHooks {}

/** Options of `heartbeat()`: its timing (ms) and this package's framing. */
export interface HeartbeatOptions extends MonitorTiming {
  /** wire framing both ends speak (default 'classic', the 1028-byte frames) */
  framing?: Framing;
  /** a frame of a type nobody declared: 'error' event (default) or skipped silently */
  unknownTypes?: 'error' | 'ignore';
  /** application message types accepted (default: 3..65535 classic, 3..255 compact) */
  messageTypes?: Iterable<number>;
}

/** Options of `respond()`. */
export interface RespondOptions {
  /** ms to wait before a PONG, for tests and demonstrations (default 0) */
  delay?: number;
  /** wire framing both ends speak (default 'classic') */
  framing?: Framing;
  /** every frame received, PINGs included: for logging (the CLI prints them) */
  onFrame?: (type: number, payload: Buffer) => void;
}

/** Validated timing, shared by every monitor made from the same options object. */
export interface Timing {
  idle: number;
  interval: number;
  count: number;
  onlyPong: boolean;
  destroyOnDead: boolean;
  /** ms a visit may come late, see resolutionFor() */
  resolution: number;
  /** ms between reads of progress() and busy(): 1/20 of the budget, at least the resolution */
  poll: number;
}

/** Validated heartbeat() settings. */
export interface HeartbeatSettings extends Timing {
  framing: Framing;
  ignoreUnknown: boolean;
  messageTypes: ReadonlySet<number> | null;
  /** the iterable given, to tell whether a reused options object changed */
  messageTypesGiven: Iterable<number> | undefined;
}

const TIMING_FIELDS = ['idle', 'interval', 'count'] as const;
/** Dead after 30 s of silence: 15 s idle, then 3 PINGs 5 s apart. */
export const DEFAULT_TIMING = { idle: 15_000, interval: 5_000, count: 3 } as const;

export function checkObject(value: unknown, name: string, expected: string): void {
  if (value === null || typeof value !== 'object') throw invalidType(name, expected, value);
}

export function checkFunction(value: unknown, name: string, optional: boolean): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'function') throw invalidType(name, 'a function', value);
}

/**
 * Progress is read every 1/20 of the budget: a byte is noticed at most that
 * late, and each visit may come one resolution late, so death comes within
 * budget + 10% of the last byte (the resolution is at most 1/40 of the budget).
 */
export function pollFor(idle: number, interval: number, count: number, resolution: number): number {
  return Math.min(MAX_MS, Math.max(resolution, Math.floor((idle + interval * count) / 20)));
}

export function checkTiming(options: unknown, name = 'options'): Timing {
  checkObject(options, name, 'an object with idle, interval and count');
  const o = options as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const field of TIMING_FIELDS) {
    const value = o[field] ?? DEFAULT_TIMING[field];
    const text = field === 'count' ? `an integer from 1 to ${MAX_MS}` : `an integer from 1 to ${MAX_MS} (ms)`;
    if (typeof value !== 'number') throw invalidType(`${name}.${field}`, text, value);
    if (!Number.isInteger(value) || value < 1 || value > MAX_MS) throw outOfRange(`${name}.${field}`, text, value);
    out[field] = value;
  }
  for (const flag of ['onlyPong', 'destroyOnDead'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw invalidType(`${name}.${flag}`, 'a boolean', o[flag]);
  }
  const resolution = resolutionFor(out.idle, out.interval);
  return {
    idle: out.idle,
    interval: out.interval,
    count: out.count,
    onlyPong: o.onlyPong === true,
    destroyOnDead: o.destroyOnDead !== false,
    resolution,
    poll: pollFor(out.idle, out.interval, out.count, resolution),
  };
}

function sameTiming(t: Timing, o: MonitorTiming): boolean {
  return (
    t.idle === (o.idle ?? DEFAULT_TIMING.idle) &&
    t.interval === (o.interval ?? DEFAULT_TIMING.interval) &&
    t.count === (o.count ?? DEFAULT_TIMING.count) &&
    t.onlyPong === (o.onlyPong === true) &&
    t.destroyOnDead === (o.destroyOnDead !== false)
  );
}

/**
 * Validates once per options object the user passed (`key`): a server
 * passing the same options for every connection gets one shared settings
 * object, even through an adapter that copies them (`view`, the options as
 * the monitor sees them). Any field changed since the last call is
 * validated afresh.
 */
function cached<S extends object, V>(cache: WeakMap<object, S>, key: object, view: V, check: (view: V) => S, same: (s: S, view: V) => boolean): S {
  const settings = cache.get(key);
  if (settings && same(settings, view)) return settings;
  const fresh = check(view);
  cache.set(key, fresh);
  return fresh;
}

const timingCache = new WeakMap<object, Timing>();
/** The timing of monitor(), the adapters and keepAlive(); `view` defaults to the options themselves. */
export function timingFor(key: unknown, view: MonitorTiming = key as MonitorTiming): Timing {
  checkObject(key, 'options', 'an object with idle, interval and count');
  return cached(timingCache, key as object, view, (v) => checkTiming(v), sameTiming);
}

function checkHeartbeatOptions(o: HeartbeatOptions): HeartbeatSettings {
  const timing = checkTiming(o);
  const framing = checkFraming(o.framing, 'options.framing');
  if (o.unknownTypes !== undefined && o.unknownTypes !== 'error' && o.unknownTypes !== 'ignore') {
    throw invalidValue('options.unknownTypes', `must be 'error' or 'ignore'. Received ${describeValue(o.unknownTypes)}`);
  }
  let messageTypes: Set<number> | null = null;
  if (o.messageTypes !== undefined) {
    if (o.messageTypes === null || typeof (o.messageTypes as Iterable<number>)[Symbol.iterator] !== 'function') {
      throw invalidType('options.messageTypes', 'an iterable of integers', o.messageTypes);
    }
    messageTypes = new Set([...o.messageTypes].map((t) => checkMessageType(framing, t, 'options.messageTypes[]')));
  }
  return { ...timing, framing, ignoreUnknown: o.unknownTypes === 'ignore', messageTypes, messageTypesGiven: o.messageTypes };
}

function sameHeartbeat(s: HeartbeatSettings, o: HeartbeatOptions): boolean {
  return (
    sameTiming(s, o) &&
    s.framing === (o.framing ?? 'classic') &&
    s.ignoreUnknown === (o.unknownTypes === 'ignore') &&
    s.messageTypesGiven === o.messageTypes &&
    // A Set given once and changed in place since.
    (!(o.messageTypes instanceof Set) || o.messageTypes.size === s.messageTypes?.size)
  );
}

const heartbeatCache = new WeakMap<object, HeartbeatSettings>();
/** The settings of heartbeat(); keepAlive() passes its own options as the key and the merged ones as the view. */
export function heartbeatSettingsFor(key: unknown, view: HeartbeatOptions = key as HeartbeatOptions): HeartbeatSettings {
  checkObject(key, 'options', 'an object with idle, interval and count');
  return cached(heartbeatCache, key as object, view, checkHeartbeatOptions, sameHeartbeat);
}

/** The hooks of monitor(), checked; `name` is where they came from. */
export function checkHooks(o: MonitorHooks, name = 'options'): MonitorHooks {
  checkFunction(o.ping, `${name}.ping`, false);
  checkFunction(o.destroy, `${name}.destroy`, true);
  checkFunction(o.progress, `${name}.progress`, true);
  checkFunction(o.busy, `${name}.busy`, true);
  return { ping: o.ping, destroy: o.destroy, progress: o.progress, busy: o.busy };
}

export function checkRespondOptions(options: unknown): { delay: number; framing: Framing; onFrame: RespondOptions['onFrame'] } {
  checkObject(options, 'options', 'an object');
  const o = options as RespondOptions;
  const delay = o.delay ?? 0;
  const delayText = `an integer from 0 to ${MAX_MS} (ms)`;
  if (typeof delay !== 'number') throw invalidType('options.delay', delayText, delay);
  if (!Number.isInteger(delay) || delay < 0 || delay > MAX_MS) throw outOfRange('options.delay', delayText, delay);
  const framing = checkFraming(o.framing, 'options.framing');
  checkFunction(o.onFrame, 'options.onFrame', true);
  return { delay, framing, onFrame: o.onFrame };
}

/**
 * Which layers `keepAlive()` uses: 'auto' the kernel where it can be set as
 * asked, else the heartbeat; 'always' the heartbeat, plus the kernel where it
 * can be set; 'never' the kernel only.
 */
export type Fallback = 'auto' | 'always' | 'never';
const FALLBACKS: readonly Fallback[] = ['auto', 'always', 'never'];

/** Options of `keepAlive()`: one budget (ms) for both layers, and how the heartbeat may speak. */
export interface KeepAliveLayersOptions {
  /** ms of silence before the first probe or PING */
  idle: number;
  /** ms between unanswered probes or PINGs */
  interval: number;
  /** unanswered probes or PINGs before the connection is dead */
  count: number;
  /**
   * 'auto' (default): the kernel where it can be set as asked, else the
   * heartbeat; 'always': the heartbeat, and the kernel too where it can be
   * set; 'never': the kernel only, an error if it cannot be set as asked.
   */
  fallback?: Fallback;
  /**
   * How the heartbeat may speak: `framing` when both ends use this package's
   * framing (then it owns the stream), or `ping` for the protocol's own ping
   * (with `busy` to hold it while a request of the connection's own runs).
   * Without either, the heartbeat is never started.
   */
  heartbeat?: Omit<HeartbeatOptions, 'idle' | 'interval' | 'count'> & { framing?: Framing; ping?: () => unknown; busy?: () => boolean };
}

/** keepAlive()'s options, checked; the heartbeat's own are checked when it starts. */
export function checkKeepAliveOptions(options: unknown): {
  timing: Timing;
  fallback: Fallback;
  heartbeat: KeepAliveLayersOptions['heartbeat'];
  /** the heartbeat's options as a monitor sees them: options.heartbeat with the timing */
  view: HeartbeatOptions & MonitorTiming;
} {
  checkObject(options, 'options', 'an object with idle, interval, count and fallback');
  const o = options as KeepAliveLayersOptions;
  for (const field of TIMING_FIELDS) {
    if (o[field] == null) throw invalidType(`options.${field}`, 'a positive integer', o[field]);
  }
  const hb = o.heartbeat;
  if (hb !== undefined) checkObject(hb, 'options.heartbeat', 'an object with framing or ping');
  const view = { ...hb, idle: o.idle, interval: o.interval, count: o.count };
  // Keyed on the user's object: a server passing one options object to every
  // connection shares one settings object, though the view is new each call.
  const timing = timingFor(o, view);
  const fallback = o.fallback ?? 'auto';
  if (!FALLBACKS.includes(fallback)) throw invalidValue('options.fallback', `must be 'auto', 'always' or 'never'. Received ${describeValue(fallback)}`);
  return { timing, fallback, heartbeat: hb, view };
}
