// The heartbeat logic, the same shape as the kernel's keepalive: after
// `idle` ms with nothing received, a PING; then one every `interval` ms
// while unanswered; after `count` unanswered PINGs, dead.
import { EventEmitter } from 'node:events';
import { invalidType, outOfRange } from '../errors';
import { timeoutError, type HeartbeatTimeoutError } from './errors';
import { clock, scheduler, type Scheduled } from './scheduler';

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
}

export interface PongInfo {
  /** ms from the latest PING to this PONG */
  rtt: number;
}

const MAX_MS = 2 ** 31 - 1;
/** PINGs whose send time is kept for the rtt of a late PONG (a power of 2) */
const SENT_RING = 8;
const TIMING_FIELDS = ['idle', 'interval', 'count'] as const;
/** Dead after 30 s of silence: 15 s idle, then 3 PINGs 5 s apart. */
export const DEFAULT_TIMING = { idle: 15_000, interval: 5_000, count: 3 } as const;

export function checkTiming(options: unknown, name = 'options'): Required<MonitorTiming> {
  if (options === null || typeof options !== 'object') throw invalidType(name, 'an object with idle, interval and count', options);
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
  return {
    idle: out.idle,
    interval: out.interval,
    count: out.count,
    onlyPong: o.onlyPong === true,
    destroyOnDead: o.destroyOnDead !== false,
  };
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
 */
export class Monitor implements Scheduled {
  declare _events: unknown;
  declare _eventsCount: number;
  declare _maxListeners: number | undefined;

  readonly idle: number;
  readonly interval: number;
  readonly count: number;
  readonly onlyPong: boolean;
  readonly destroyOnDead: boolean;
  /** last time (scheduler clock, ms) something counting as life was received */
  lastSeen: number;
  /** PINGs sent since the last sign of life */
  probes = 0;
  /** PINGs sent in all */
  seq = 0;
  /** @internal scheduler bucket */
  bucket = -1;
  private firstPingAt = -1;
  private lastPingAt = -1;
  /** when the latest PINGs went out (precise ms), by seq; made at the first PING */
  private sentAt: number[] | null = null;
  private lastProgress = -1;
  private stopped = false;
  private readonly pingFn: (() => unknown) | undefined;
  private readonly destroyFn: ((error: HeartbeatTimeoutError) => void) | undefined;
  private readonly progressFn: (() => number) | undefined;

  constructor(options: MonitorOptions);
  /** @internal subclasses that send their own PING */
  constructor(options: MonitorTiming, internal: true);
  constructor(options: MonitorOptions | MonitorTiming, internal?: true) {
    this._events = undefined;
    this._eventsCount = 0;
    this._maxListeners = undefined;
    const timing = checkTiming(options);
    this.idle = timing.idle;
    this.interval = timing.interval;
    this.count = timing.count;
    this.onlyPong = timing.onlyPong;
    this.destroyOnDead = timing.destroyOnDead;
    if (internal !== true) {
      const o = options as MonitorOptions;
      checkFunction(o.ping, 'options.ping', false);
      checkFunction(o.destroy, 'options.destroy', true);
      checkFunction(o.progress, 'options.progress', true);
      this.pingFn = o.ping;
      this.destroyFn = o.destroy;
      this.progressFn = o.progress;
      if (o.progress) this.lastProgress = o.progress();
    }
    this.lastSeen = clock();
    scheduler.enter();
    scheduler.schedule(this, this.lastSeen + this.idle);
  }

  get active(): boolean {
    return !this.stopped;
  }

  /** Anything was received. Costs a field write. */
  alive(): void {
    if (!this.onlyPong) this.lastSeen = clock();
  }

  /**
   * A PONG (or the protocol's answer to ping()) was received. `seq`, when
   * the peer echoed it, names the PING it answers, for a true rtt; without
   * it the rtt runs from the latest PING.
   */
  pong(seq?: number): void {
    if (this.stopped) return;
    this.lastSeen = clock();
    this.probes = 0;
    this.firstPingAt = -1;
    if (this.seq === 0) return;
    const known = seq !== undefined && seq > 0 && seq <= this.seq && this.seq - seq < SENT_RING;
    const sentAt = known ? this.sentAt![seq & (SENT_RING - 1)] : this.sentAt![this.seq & (SENT_RING - 1)];
    this.emit('pong', { rtt: performance.now() - sentAt } satisfies PongInfo);
  }

  /** Stops watching: no timer, no listener of its own is left. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    scheduler.leave(this);
    this.detach();
  }

  /** Subclasses remove the listeners they added to their connection. */
  protected detach(): void {}

  /** Subclasses write their own PING. */
  protected sendPing(): void {
    const result = this.pingFn!();
    if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
      // A rejected ping is an unanswered ping: the next PING or death follows.
      (result as PromiseLike<unknown>).then(
        () => this.pong(),
        () => {},
      );
    }
  }

  protected destroyConnection(error: HeartbeatTimeoutError): void {
    this.destroyFn?.(error);
  }

  /** @internal called by the scheduler when this monitor's time may have come */
  visit(now: number): void {
    if (this.stopped) return;
    if (this.progressFn) {
      const progress = this.progressFn();
      if (progress !== this.lastProgress) {
        // Data came since the last look; when exactly is unknown, so count it as now.
        this.lastSeen = now;
        this.lastProgress = progress;
      }
    }
    if (this.probes > 0 && this.lastSeen >= this.firstPingAt) {
      // Heard from since the PINGs began: back to idle.
      this.probes = 0;
      this.firstPingAt = -1;
    }
    if (this.probes === 0) {
      const due = this.lastSeen + this.idle;
      if (now < due) return scheduler.schedule(this, due);
    } else {
      const due = this.lastPingAt + this.interval;
      if (now < due) return scheduler.schedule(this, due);
      if (this.probes >= this.count) return this.die(now);
    }
    this.ping(now);
  }

  private ping(now: number): void {
    if (this.probes === 0) this.firstPingAt = now;
    this.probes++;
    this.seq++;
    this.lastPingAt = now;
    (this.sentAt ??= new Array<number>(SENT_RING).fill(0))[this.seq & (SENT_RING - 1)] = performance.now();
    scheduler.schedule(this, now + this.interval);
    this.sendPing();
    this.emit('ping', this.seq);
  }

  private die(now: number): void {
    const error = timeoutError(this.probes, now - this.lastSeen);
    this.stop();
    this.emit('dead', error);
    if (this.destroyOnDead) this.destroyConnection(error);
  }
}
Object.setPrototypeOf(Monitor.prototype, EventEmitter.prototype);

/** @internal A Monitor whose listeners on the connection go away when it stops. */
export class AttachedMonitor extends Monitor {
  private readonly attached: [string, (...args: any[]) => void][] = [];

  constructor(
    options: MonitorOptions,
    private readonly target: { on: (event: string, listener: (...args: any[]) => void) => unknown; off: (event: string, listener: (...args: any[]) => void) => unknown },
  ) {
    super(options);
  }

  listen(event: string, listener: (...args: any[]) => void): void {
    this.target.on(event, listener);
    this.attached.push([event, listener]);
  }

  protected override detach(): void {
    for (const [event, listener] of this.attached) this.target.off(event, listener);
    this.attached.length = 0;
  }
}

/** A monitor for a protocol with its own ping: call alive() on any sign of life, pong() on its answer. */
export function monitor(options: MonitorOptions): Monitor {
  return new Monitor(options);
}
