// The heartbeat logic, the same shape as the kernel's keepalive: after
// `idle` ms with nothing received, a PING; then one every `interval` ms
// while unanswered; after `count` unanswered PINGs, dead.
//
// A server may run 100 000 of these, so a monitor is kept small: settings
// are shared between monitors made from the same options object, the
// timer is the shared scheduler's, and a sign of life is one field write.
import { EventEmitter } from 'node:events';
import { invalidType, outOfRange } from '../errors';
import { MAX_TIMER_MS } from '../time';
import { timeoutError, type HeartbeatTimeoutError } from './errors';
import { clock, resolutionFor, scheduler } from './scheduler';

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

export interface MonitorOptions extends MonitorTiming {
  /**
   * Sends the protocol's own ping. If it returns a promise, its fulfilment
   * counts as the PONG (`ping: () => redis.ping()`).
   */
  ping: () => unknown;
  /** How to close the connection on death, when destroyOnDead is true. */
  destroy?: (error: HeartbeatTimeoutError) => void;
  /**
   * A count that grows whenever data arrives, such as `() => socket.bytesRead`;
   * read at each check, for connections where the monitor cannot be told of
   * every packet without taking over the stream.
   */
  progress?: () => number;
  /**
   * True while the connection runs a request of its own (a BLPOP, a slow
   * query). While true no PING is sent and no verdict reached; time spent
   * busy counts as a sign of life.
   */
  busy?: () => boolean;
}

export interface PongInfo {
  /** ms from the PING to this PONG; null when it cannot be known */
  rtt: number | null;
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
}

const TIMING_FIELDS = ['idle', 'interval', 'count'] as const;
/** Dead after 30 s of silence: 15 s idle, then 3 PINGs 5 s apart. */
export const DEFAULT_TIMING = { idle: 15_000, interval: 5_000, count: 3 } as const;
/** `sent` of a stopped monitor */
const STOPPED = -1;

export function checkTiming(options: unknown, name = 'options'): Timing {
  if (options === null || typeof options !== 'object') throw invalidType(name, 'an object with idle, interval and count', options);
  const o = options as Record<string, unknown>;
  const out: Record<string, number> = {};
  for (const field of TIMING_FIELDS) {
    const value = o[field] ?? DEFAULT_TIMING[field];
    const text = field === 'count' ? `an integer from 1 to ${MAX_TIMER_MS}` : `an integer from 1 to ${MAX_TIMER_MS} (ms)`;
    if (typeof value !== 'number') throw invalidType(`${name}.${field}`, text, value);
    if (!Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) throw outOfRange(`${name}.${field}`, text, value);
    out[field] = value;
  }
  for (const flag of ['onlyPong', 'destroyOnDead'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw invalidType(`${name}.${flag}`, 'a boolean', o[flag]);
  }
  return {
    idle: out.idle,
    interval: out.interval,
    count: out.count,
    onlyPong: o.onlyPong === true,
    destroyOnDead: o.destroyOnDead !== false,
    resolution: resolutionFor(out.idle, out.interval),
  };
}

/**
 * Validates once per options object: a server passing the same options for
 * every connection gets one shared settings object. Any field changed since
 * the last call is validated afresh.
 */
export function cachedSettings<S extends object>(cache: WeakMap<object, S>, options: object, check: () => S, same: (s: S) => boolean): S {
  const cached = cache.get(options);
  if (cached && same(cached)) return cached;
  const settings = check();
  cache.set(options, settings);
  return settings;
}

const timingCache = new WeakMap<object, Timing>();
export function sameTiming(t: Timing, o: MonitorTiming): boolean {
  return (
    t.idle === (o.idle ?? DEFAULT_TIMING.idle) &&
    t.interval === (o.interval ?? DEFAULT_TIMING.interval) &&
    t.count === (o.count ?? DEFAULT_TIMING.count) &&
    t.onlyPong === (o.onlyPong === true) &&
    t.destroyOnDead === (o.destroyOnDead !== false)
  );
}

function checkFunction(value: unknown, name: string, optional: boolean): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'function') throw invalidType(name, 'a function', value);
}

// Monitor is an EventEmitter that skips EventEmitter's constructor: the
// constructor gives every instance a listener table (about 500 bytes) that
// Node otherwise creates on the first on(). At 100 000 connections most
// monitors never get a listener, and that table would be most of their cost.
export interface Monitor extends EventEmitter {}

/**
 * Watches one connection. Events: 'ping' (seq), 'pong' ({ rtt }), 'dead'
 * (error with code ERR_HEARTBEAT_TIMEOUT, .probes, .sinceLastReceived).
 * Made by monitor(), heartbeat() and the adapters.
 *
 * (A Scheduled for the shared scheduler, without `implements`: those members
 * are internal and stripped from the typings, where the clause would not hold.)
 */
export abstract class Monitor {
  /** @internal shared between monitors made from the same options */
  readonly timing: Timing;
  /**
   * @internal When >= 0: the time (ms, scheduler clock) something counting
   * as life was last received. When < 0: PINGs are out, for the silence that
   * began at -seen - 1; a sign of life writes a time >= 0 over it, which is
   * how the next visit learns of it. One field instead of two: at 100 000
   * connections each field is 800 KB.
   */
  seen: number;
  /** PINGs sent in all; the latest PING's sequence number */
  seq = 0;
  /** @internal PINGs sent since the last sign of life; STOPPED once stopped */
  sent = 0;

  /** @internal */
  constructor(timing: Timing) {
    this.timing = timing;
    this.seen = clock();
    scheduler.enter();
    scheduler.schedule(this, this.seen + timing.idle, timing.resolution);
  }

  get idle(): number {
    return this.timing.idle;
  }
  get interval(): number {
    return this.timing.interval;
  }
  get count(): number {
    return this.timing.count;
  }
  get active(): boolean {
    return this.sent !== STOPPED;
  }
  /** PINGs sent since the last sign of life */
  get probes(): number {
    return Math.max(0, this.sent);
  }
  /** when (ms, on performance.now()'s clock, whole ms) something counting as life was last received */
  get lastSeen(): number {
    return this.seen >= 0 ? this.seen : -this.seen - 1;
  }

  /** Anything was received. Costs a field write. */
  alive(): void {
    if (!this.timing.onlyPong) this.seen = clock();
  }

  /**
   * A PONG (or the protocol's answer to ping()) was received. `rtt`, when
   * the caller knows it, is reported as is; else it runs from when the
   * latest PING was due, or is null if no PING is outstanding.
   */
  pong(rtt?: number): void {
    if (this.sent === STOPPED) return;
    const now = clock();
    const { idle, interval } = this.timing;
    const latestDue = this.seen < 0 && this.sent > 0 ? -this.seen - 1 + idle + (this.sent - 1) * interval : -1;
    this.seen = now;
    this.sent = 0;
    if (this.seq > 0 && this.listenerCount('pong') > 0) {
      this.emit('pong', { rtt: rtt ?? (latestDue >= 0 ? Math.max(0, now - latestDue) : null) } satisfies PongInfo);
    }
  }

  /** Stops watching: no timer, no listener of its own is left. Idempotent. */
  stop(): void {
    if (this.sent === STOPPED) return;
    this.sent = STOPPED;
    scheduler.leave();
    this.detach();
  }

  /** Removes the listeners the monitor added to its connection. */
  protected abstract detach(): void;
  /** Writes one PING. */
  protected abstract sendPing(): void;
  /** Closes the connection on death. */
  protected abstract destroyConnection(error: HeartbeatTimeoutError): void;
  /** Bytes-read style progress, for monitors that watch it. */
  protected progressed(): boolean {
    return false;
  }
  /** A request of the connection's own in flight, for monitors told of it. */
  protected busy(): boolean {
    return false;
  }

  /** @internal called by the scheduler when this monitor's time may have come */
  visit(now: number): void {
    if (this.sent === STOPPED) return;
    if (this.progressed() || this.busy()) this.seen = now;
    const { idle, interval, count, resolution } = this.timing;
    let silenceBegan: number;
    if (this.seen >= 0) {
      // Heard from (since the PINGs began, if any): back to idle.
      this.sent = 0;
      const due = this.seen + idle;
      if (now < due) return scheduler.schedule(this, due, resolution);
      silenceBegan = this.seen;
      this.seen = -silenceBegan - 1;
    } else {
      silenceBegan = -this.seen - 1;
      // PING k is due at silenceBegan + idle + (k - 1) x interval, death after the last one's interval.
      const due = silenceBegan + idle + this.sent * interval;
      if (now < due) return scheduler.schedule(this, due, resolution);
      if (this.sent >= count) return this.die(now - silenceBegan);
    }
    this.sent++;
    this.seq++;
    scheduler.schedule(this, silenceBegan + idle + this.sent * interval, resolution);
    this.sendPing();
    this.emit('ping', this.seq);
  }

  private die(silentFor: number): void {
    const error = timeoutError(this.sent, silentFor);
    this.stop();
    this.emit('dead', error);
    if (this.timing.destroyOnDead) this.destroyConnection(error);
  }
}
Object.setPrototypeOf(Monitor.prototype, EventEmitter.prototype);

type Listener = (...args: any[]) => void;
interface Listenable {
  on(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
}

/** A monitor driven by the protocol's own ping(); its listeners go away when it stops. */
export class ProtocolMonitor extends Monitor {
  private readonly hooks: { ping: () => unknown; destroy?: (error: HeartbeatTimeoutError) => void; progress?: () => number; busy?: () => boolean };
  private lastProgress: number;
  private pingSentAt = 0;
  private readonly attached: [Listenable, string, Listener][] = [];

  constructor(options: MonitorOptions) {
    if (options === null || typeof options !== 'object') throw invalidType('options', 'an object with ping, idle, interval and count', options);
    checkFunction(options.ping, 'options.ping', false);
    checkFunction(options.destroy, 'options.destroy', true);
    checkFunction(options.progress, 'options.progress', true);
    checkFunction(options.busy, 'options.busy', true);
    super(cachedSettings(timingCache, options, () => checkTiming(options), (t) => sameTiming(t, options)));
    this.hooks = { ping: options.ping, destroy: options.destroy, progress: options.progress, busy: options.busy };
    this.lastProgress = options.progress ? options.progress() : -1;
  }

  /** @internal listens on the connection until the monitor stops */
  listen(target: Listenable, event: string, listener: Listener): void {
    target.on(event, listener);
    this.attached.push([target, event, listener]);
  }

  override pong(rtt?: number): void {
    super.pong(rtt ?? (this.pingSentAt > 0 ? performance.now() - this.pingSentAt : undefined));
  }

  protected override detach(): void {
    for (const [target, event, listener] of this.attached) target.off(event, listener);
    this.attached.length = 0;
  }

  protected override sendPing(): void {
    const sentAt = performance.now();
    this.pingSentAt = sentAt;
    const result = this.hooks.ping();
    if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
      // A rejected ping is an unanswered ping: the next PING or death follows.
      (result as PromiseLike<unknown>).then(
        () => this.pong(performance.now() - sentAt),
        () => {},
      );
    }
  }

  protected override destroyConnection(error: HeartbeatTimeoutError): void {
    this.hooks.destroy?.(error);
  }

  protected override busy(): boolean {
    return this.hooks.busy?.() === true;
  }

  protected override progressed(): boolean {
    if (!this.hooks.progress) return false;
    const progress = this.hooks.progress();
    if (progress === this.lastProgress) return false;
    this.lastProgress = progress;
    return true;
  }
}

/** A monitor for a protocol with its own ping: call alive() on any sign of life, pong() on its answer. */
export function monitor(options: MonitorOptions): Monitor {
  return new ProtocolMonitor(options);
}
