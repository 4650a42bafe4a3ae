// The heartbeat logic, the same shape as the kernel's keepalive: after
// `idle` ms with nothing received, a PING; then one every `interval` ms
// while unanswered; after `count` unanswered PINGs, dead.
//
// A server may run 100 000 of these, so a monitor is kept small: settings
// are shared between monitors made from the same options object, the
// timer is the shared scheduler's, and a sign of life is one field write.
import { EventEmitter } from 'node:events';
import { timeoutError, type HeartbeatTimeoutError } from './errors';
import { checkHooks, checkObject, timingFor, type MonitorHooks, type MonitorOptions, type Timing } from './options';
import { clock, RESOLUTION, scheduler } from './scheduler';

export { DEFAULT_TIMING } from './options';
export type { MonitorOptions, MonitorTiming, Timing } from './options';

/** What the 'pong' event carries. */
export interface PongInfo {
  /** ms from the PING to this PONG; null when it cannot be known */
  rtt: number | null;
}

/** `sent` of a stopped monitor */
const STOPPED = -1;

/** The events of a Monitor, each with its listener's arguments. */
export interface MonitorEvents {
  /** a PING went out: its sequence number */
  ping: [seq: number];
  /** the answer to a PING */
  pong: [info: PongInfo];
  /** no answer within the budget; the connection is destroyed after it unless destroyOnDead is false */
  dead: [error: HeartbeatTimeoutError];
}

/** Each event name with its listener's arguments. */
export type EventMap<Events> = { [E in keyof Events]: unknown[] };

/**
 * EventEmitter's methods with the event names and arguments of `Events`:
 * a listener gets typed arguments, and an event name the emitter never
 * emits is a type error.
 */
export interface TypedEmitter<Events extends EventMap<Events>> {
  /** Calls `listener` with the event's arguments each time `event` is emitted. */
  on<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  /** Calls `listener` the next time `event` is emitted only. */
  once<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  /** Removes a listener added with on() or once(). */
  off<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  /** The same as on(). */
  addListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  /** The same as off(). */
  removeListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  /** on(), ahead of the listeners already there. */
  prependListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  /** once(), ahead of the listeners already there. */
  prependOnceListener<E extends keyof Events>(event: E, listener: (...args: Events[E]) => void): this;
  /** Calls the listeners of `event` with `args`; true if there were any. */
  emit<E extends keyof Events>(event: E, ...args: Events[E]): boolean;
  /** How many listeners `event` has. */
  listenerCount(event: keyof Events): number;
  /** The listeners of `event`. */
  listeners<E extends keyof Events>(event: E): ((...args: Events[E]) => void)[];
  /** The listeners of `event`, once() wrappers included. */
  rawListeners<E extends keyof Events>(event: E): ((...args: Events[E]) => void)[];
  /** Removes every listener of `event`, or of every event. */
  removeAllListeners(event?: keyof Events): this;
}

// Monitor is an EventEmitter that skips EventEmitter's constructor: the
// constructor gives every instance a listener table (about 500 bytes) that
// Node otherwise creates on the first on(). At 100 000 connections most
// monitors never get a listener, and that table would be most of their cost.
export interface Monitor<Events extends MonitorEvents & EventMap<Events> = MonitorEvents> extends Omit<EventEmitter, keyof TypedEmitter<Events>>, TypedEmitter<Events> {}

/**
 * Watches one connection. Events: 'ping' (seq), 'pong' ({ rtt }), 'dead'
 * (error with code ERR_HEARTBEAT_TIMEOUT, .probes, .sinceLastReceived).
 * Made by monitor(), heartbeat() and the adapters.
 *
 * (A Scheduled for the shared scheduler, without `implements`: those members
 * are internal and stripped from the typings, where the clause would not hold.)
 */
export abstract class Monitor<Events extends MonitorEvents & EventMap<Events> = MonitorEvents> {
  /** @internal shared between monitors made from the same options */
  readonly timing: Timing;
  /**
   * @internal When >= 0: the time (ms, scheduler clock) something counting
   * as life was last received. When < 0: probes are out, the latest counted
   * at -seen - 1; a sign of life writes a time >= 0 over it, which is how
   * the next visit learns of it. One field instead of two: at 100 000
   * connections each field is 800 KB.
   */
  seen: number;
  /** PINGs sent in all; the latest PING's sequence number */
  seq = 0;
  /** @internal probes since the last sign of life; STOPPED once stopped */
  sent = 0;

  /** @internal `polls`: the monitor must ask for life (see heardFrom()) every timing.poll ms */
  constructor(timing: Timing, polls = false) {
    this.timing = timing;
    this.seen = clock();
    scheduler.enter();
    scheduler.schedule(this, this.seen + (polls ? Math.min(timing.idle, timing.poll) : timing.idle), timing.resolution);
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
    if (this.seen >= 0) return this.seen;
    // Probes on time are idle, then interval apart, after it. A probe sent
    // late (after our own stall) moves this later: then it says less
    // silence than there was, never more.
    return this.probeAt - this.timing.idle - (this.sent - 1) * this.timing.interval;
  }
  /** @internal when the latest probe went out (or was due, if it went out on time); while probes are out */
  private get probeAt(): number {
    return -this.seen - 1;
  }

  /** Anything was received. Costs a field write. */
  alive(): void {
    if (!this.timing.onlyPong) this.seen = clock();
  }

  /**
   * @internal The connection has just been made (its 'connect'): the
   * budget runs from now, whatever the monitor saw before.
   */
  connected(): void {
    if (this.sent === STOPPED) return;
    this.seen = clock();
    this.sent = 0;
  }

  /**
   * A PONG (or the protocol's answer to ping()) was received. `rtt`, when
   * the caller knows it, is reported as is; else it runs from when the
   * latest PING went out, or is null if no PING is outstanding.
   */
  pong(rtt?: number): void {
    if (this.sent === STOPPED) return;
    const now = clock();
    const probeAt = this.seen < 0 && this.sent > 0 ? this.probeAt : -1;
    this.seen = now;
    this.sent = 0;
    if (this.seq > 0 && this.listenerCount('pong') > 0) {
      (this as Monitor).emit('pong', { rtt: rtt ?? (probeAt >= 0 ? Math.max(0, now - probeAt) : null) } satisfies PongInfo);
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
  /** An earlier PING is still in flight and counts as this probe too. */
  protected pingPending(): boolean {
    return false;
  }
  /** Closes the connection on death. */
  protected abstract destroyConnection(error: HeartbeatTimeoutError): void;
  /** Life the monitor must ask for (bytes read, a request running): true if any since the last visit. */
  protected heardFrom(): boolean {
    return false;
  }
  /** Files the next visit: at `due`, sooner for monitors that must poll. */
  protected file(due: number): void {
    // The visit that may find the connection dead comes at its time, not up
    // to a resolution step after it, so the death keeps to the budget. Only
    // dying connections get there: sharing those wake-ups saves nothing.
    const verdict = this.seen < 0 && this.sent >= this.timing.count;
    scheduler.schedule(this, due, verdict ? Math.min(RESOLUTION, this.timing.resolution) : this.timing.resolution);
  }

  /**
   * @internal called by the scheduler when this monitor's time may have
   * come, and again with `settled` after the poll phase when the visit came
   * late: then what arrived meanwhile has been read before any verdict.
   */
  visit(now: number, settled: boolean): void {
    if (this.sent === STOPPED) return;
    if (this.heardFrom()) this.seen = now;
    const { idle, interval, count, resolution } = this.timing;
    // Heard from (since the PINGs began, if any): back to idle. Else the
    // latest probe gets its interval.
    const due = this.seen >= 0 ? this.seen + idle : this.probeAt + interval;
    if (this.seen >= 0) this.sent = 0;
    if (now < due) return this.file(due);
    // Late by more than the resolution: our own process stalled, and a
    // PONG may wait unread in the socket. Look again after the poll phase.
    const late = now - due > resolution;
    if (late && !settled) return scheduler.defer(this);
    if (this.seen < 0 && this.sent >= count) return this.die(now - this.lastSeen);
    // One probe per visit: after a stall, one PING, not every overdue one
    // at once. A PING that goes out late gets a full interval from now to
    // be answered; a probe that sends nothing (our PING still pending) keeps
    // to the schedule, so visits a little late on a loaded machine do not
    // push the death later each time, past the budget.
    const pending = this.pingPending();
    const probeAt = late && !pending ? now : due;
    this.seen = -probeAt - 1;
    this.sent++;
    this.file(probeAt + interval);
    if (pending) return;
    this.seq++;
    this.sendPing();
    (this as Monitor).emit('ping', this.seq);
  }

  private die(silentFor: number): void {
    const error = timeoutError(this.sent, silentFor);
    this.stop();
    (this as Monitor).emit('dead', error);
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
  private readonly hooks: MonitorHooks;
  private lastProgress: number;
  private pingSentAt = 0;
  /** a promise from ping() is pending: ping() is not called again until it settles */
  private pending = false;
  private readonly attached: [Listenable, string, Listener][] = [];

  /** `timing` from timingFor() on the options the user passed, `hooks` from checkHooks(). */
  constructor(timing: Timing, hooks: MonitorHooks) {
    super(timing, hooks.busy !== undefined || hooks.progress !== undefined);
    this.hooks = hooks;
    this.lastProgress = hooks.progress ? hooks.progress() : -1;
  }

  /** @internal listens on the connection until the monitor stops */
  listen(target: Listenable, event: string, listener: Listener): void {
    target.on(event, listener);
    this.attached.push([target, event, listener]);
  }

  override pong(rtt?: number): void {
    // The bytes that carried this PONG were read just now and count with it,
    // once: the next read of progress() must not take them for new life,
    // stamped up to a poll later than they came.
    if (this.hooks.progress && this.sent !== STOPPED) this.lastProgress = this.hooks.progress();
    super.pong(rtt ?? (this.pingSentAt > 0 ? performance.now() - this.pingSentAt : undefined));
  }

  protected override detach(): void {
    for (const [target, event, listener] of this.attached) target.off(event, listener);
    this.attached.length = 0;
  }

  protected override pingPending(): boolean {
    // Single flight: a pipelined protocol gains nothing from a second PING
    // queued behind the first, and some clients warn about it. The pending
    // one counts as unanswered at each interval, so death comes on time.
    return this.pending;
  }

  protected override sendPing(): void {
    const sentAt = performance.now();
    this.pingSentAt = sentAt;
    try {
      const result = this.hooks.ping();
      if (!result || typeof (result as PromiseLike<unknown>).then !== 'function') return;
      this.pending = true;
      // Settles once, however often the thenable calls back. A rejected
      // ping is an unanswered ping: the next PING or death follows.
      let settled = false;
      (result as PromiseLike<unknown>).then(
        () => {
          if (settled) return;
          settled = true;
          this.pending = false;
          this.pong(performance.now() - sentAt);
        },
        () => {
          if (settled) return;
          settled = true;
          this.pending = false;
        },
      );
    } catch {
      // A ping() that throws (or a then() that does) is a PING that went
      // unanswered, like a rejected one: it must not take the scheduler,
      // and with it every other monitor, down. The next interval calls
      // ping() again, and a connection that stays silent dies on time.
      this.pending = false;
    }
  }

  protected override destroyConnection(error: HeartbeatTimeoutError): void {
    this.hooks.destroy?.(error);
  }

  protected override heardFrom(): boolean {
    const { progress, busy } = this.hooks;
    // Busy: the connection's own request is running; that time counts as
    // life. Not while our PING is pending: requests sent after it queue
    // behind it (the protocols that have busy() answer in order), so they
    // cannot excuse its answer coming late.
    if (!this.pending && busy?.()) return true;
    if (!progress) return false;
    const value = progress();
    if (value === this.lastProgress) return false;
    this.lastProgress = value;
    return true;
  }

  protected override file(due: number): void {
    // Bytes read and requests running are only seen when asked for: ask
    // every `poll` ms, so a byte is noticed at most that late.
    const { busy, progress } = this.hooks;
    super.file(busy || progress ? Math.min(due, clock() + this.timing.poll) : due);
  }
}

/**
 * A monitor for a protocol with its own ping: call alive() on any sign of
 * life, pong() on its answer. After `idle` ms without either it calls
 * `ping()`, then every `interval` ms while unanswered; after `count`
 * unanswered pings it emits 'dead' with an `ERR_HEARTBEAT_TIMEOUT` error and
 * calls `destroy` (when destroyOnDead). Times in ms.
 *
 * @throws TypeError `ERR_INVALID_ARG_TYPE` naming the option (a missing
 *   `ping`, a hook that is not a function); RangeError `ERR_OUT_OF_RANGE`
 *   for a time out of range (1 to 2 147 483 647 ms).
 * @example
 * ```js
 * const m = monitor({ idle: 5_000, interval: 1_000, count: 3, ping: () => redis.ping(), destroy: (err) => redis.disconnect() });
 * ```
 */
export function monitor(options: MonitorOptions): Monitor {
  checkObject(options, 'options', 'an object with ping, idle, interval and count');
  const hooks = checkHooks(options);
  return new ProtocolMonitor(timingFor(options), hooks);
}
