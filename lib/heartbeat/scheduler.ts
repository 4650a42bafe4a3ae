// One timer for every monitor in the process. A monitor is filed under the
// time it must next be looked at, rounded up to its resolution; signs of life
// only move a timestamp, and the monitor works out at that visit whether the
// deadline really passed (it can only have moved later). So a packet costs a
// field write, not a timer refresh, and 100 000 idle connections cost one
// wake-up per RESOLUTION at most, not 100 000 timers.
import { MAX_TIMER_MS } from '../time';

/**
 * What the scheduler needs from a monitor. A monitor is filed at most once
 * at a time: when created, then again only from its own visit, so the
 * entry needs no bookkeeping field of its own.
 */
export interface Scheduled {
  /** false once stopped */
  readonly active: boolean;
  /**
   * Look at the monitor now; it files itself again if it goes on, and does
   * nothing once stopped. `settled`: called again after the poll phase, see defer().
   */
  visit(now: number, settled: boolean): void;
}

/** Stopped monitors tolerated in the buckets before a sweep. */
const SWEEP_AFTER = 1024;

/** ms; the finest resolution: a PING may go out up to this much after its time. */
export const RESOLUTION = 10;


/**
 * Whole ms on a monotonic clock. Signs of life read it too, each when it is
 * received: a clock cached for a turn of the event loop would stamp data read
 * after a long handler with the time before it.
 */
export const clock = (): number => Math.floor(performance.now());

/**
 * How late a monitor may be looked at: 1/20 of its shorter period, at
 * least 10 ms and at most 1 s. Monitors due within that much of each other
 * share a wake-up, so a server with 100 000 connections wakes up a few
 * dozen times a second at most, not once per connection.
 */
export function resolutionFor(idle: number, interval: number): number {
  return Math.min(1000, Math.max(RESOLUTION, Math.floor(Math.min(idle, interval) / 20)));
}

export class Scheduler {
  private readonly buckets = new Map<number, Scheduled[]>();
  /** min-heap of the bucket times in `buckets` */
  private readonly heap: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerBucket = Infinity;
  /** monitors filed or being visited; at 0 the timer goes away */
  private live = 0;
  /** stopped monitors still filed, holding on to their connections until swept */
  private stale = 0;
  /** monitors whose verdict waits for the poll phase, see defer() */
  private deferred: Scheduled[] = [];

  /** monitors running */
  get size(): number {
    return this.live;
  }

  /** entries in the buckets, stopped monitors not yet dropped included */
  get filed(): number {
    let total = 0;
    for (const list of this.buckets.values()) total += list.length;
    return total;
  }

  /** whether the one timer is set; false whenever no monitor runs */
  get armed(): boolean {
    return this.timer !== null;
  }

  /** Counts a new monitor in; file it with schedule(). */
  enter(): void {
    this.live++;
  }

  /**
   * Counts a monitor out; its entry is dropped at its visit, which does
   * nothing. When stopped monitors outnumber running ones (many short
   * connections), they are swept out at once so closed sockets are not kept.
   */
  leave(): void {
    if (--this.live > 0) {
      if (++this.stale > SWEEP_AFTER && this.stale > this.live) this.sweep();
      return;
    }
    this.live = 0;
    this.stale = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerBucket = Infinity;
    this.buckets.clear();
    this.heap.length = 0;
    this.deferred = [];
  }

  private sweep(): void {
    // A bucket left empty stays in the heap; its visit finds nothing.
    for (const [bucket, list] of this.buckets) this.buckets.set(bucket, list.filter((entry) => entry.active));
    this.stale = 0;
  }

  /** Files the monitor to be visited at `due`, or up to `resolution` ms later. */
  schedule(entry: Scheduled, due: number, resolution: number): void {
    const bucket = Math.ceil(due / resolution) * resolution;
    const list = this.buckets.get(bucket);
    if (list) {
      list.push(entry);
      return;
    }
    this.buckets.set(bucket, [entry]);
    this.push(bucket);
    if (bucket < this.timerBucket) this.arm(bucket);
  }

  private arm(bucket: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerBucket = bucket;
    // Clamped: a longer delay would fire after 1 ms, warning each time. The
    // early wake-up finds nothing due and arms the timer again.
    this.timer = setTimeout(this.run, Math.min(MAX_TIMER_MS, Math.max(0, bucket - clock())));
    // The connections keep the process alive, not their watchdog.
    this.timer.unref();
  }

  private readonly run = (): void => {
    this.timer = null;
    this.timerBucket = Infinity;
    const now = clock();
    const failures: unknown[] = [];
    while (this.heap.length > 0 && this.heap[0] <= now) {
      const bucket = this.pop();
      const list = this.buckets.get(bucket)!;
      this.buckets.delete(bucket);
      for (const entry of list) {
        if (!entry.active) {
          this.stale--;
          continue;
        }
        visitSafely(entry, now, false, failures);
      }
    }
    if (this.heap.length > 0 && this.live > 0) this.arm(this.heap[0]);
    rethrow(failures);
  };

  /**
   * Visits the monitor again once the event loop has read what is pending.
   * Timers run before the poll phase: after our own stall (a blocked event
   * loop, a SIGSTOP) a PONG that arrived meanwhile waits in the socket, and a
   * verdict reached now would not have seen it. An immediate runs right
   * after the poll phase, which does not block while one is pending.
   */
  defer(entry: Scheduled): void {
    if (this.deferred.push(entry) === 1) setImmediate(this.runDeferred);
  }

  private readonly runDeferred = (): void => {
    const entries = this.deferred;
    this.deferred = [];
    const now = clock();
    const failures: unknown[] = [];
    for (const entry of entries) if (entry.active) visitSafely(entry, now, true, failures);
    rethrow(failures);
  };

  private push(value: number): void {
    const heap = this.heap;
    let i = heap.push(value) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent] <= value) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = value;
  }

  private pop(): number {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const child = left + 1 < heap.length && heap[left + 1] < heap[left] ? left + 1 : left;
        if (heap[child] >= last) break;
        heap[i] = heap[child];
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function visitSafely(entry: Scheduled, now: number, settled: boolean, failures: unknown[]): void {
  try {
    entry.visit(now, settled);
  } catch (error) {
    // A throwing user listener must not starve the other monitors.
    failures.push(error);
  }
}

function rethrow(failures: unknown[]): void {
  for (const error of failures) {
    process.nextTick(() => {
      throw error;
    });
  }
}

/** The process-wide scheduler every monitor uses. */
export const scheduler = new Scheduler();
