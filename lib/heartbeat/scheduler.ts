// One timer for every monitor in the process. A monitor is filed under the
// time it must next be looked at, rounded up to RESOLUTION ms; signs of life
// only move a timestamp, and the monitor works out at that visit whether the
// deadline really passed (it can only have moved later). So a packet costs a
// field write, not a timer refresh, and 100 000 idle connections cost one
// wake-up per RESOLUTION at most, not 100 000 timers.

/** What the scheduler needs from a monitor. */
export interface Scheduled {
  /** bucket the monitor is filed under; -1 when none */
  bucket: number;
  /** look at the monitor now; it files itself again if it goes on */
  visit(now: number): void;
}

/** ms; a PING may go out up to this much after its time. */
export const RESOLUTION = 10;

/** Whole ms on a monotonic clock. */
export const preciseClock = (): number => Math.floor(performance.now());

// Signs of life read the clock once per turn of the event loop, as libuv's
// own loop time does: the packets of one poll share a timestamp. A 1 ms
// timer forgets it before the loop can block again (poll waits no longer
// than the nearest timer), so it is early by at most the turn's length plus
// 1 ms, and early only: a PING or a death can come early by that, never late.
let cachedNow = -1;
let forgetter: NodeJS.Timeout | null = null;
const forget = (): void => {
  cachedNow = -1;
};

/** Whole ms, read once per event loop turn: for signs of life. */
export function clock(): number {
  if (cachedNow < 0) {
    cachedNow = preciseClock();
    if (forgetter) forgetter.refresh();
    else {
      forgetter = setTimeout(forget, 1);
      forgetter.unref();
    }
  }
  return cachedNow;
}

export class Scheduler {
  private readonly buckets = new Map<number, Scheduled[]>();
  /** min-heap of the bucket numbers in `buckets` */
  private readonly heap: number[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerBucket = Infinity;
  /** monitors filed or being visited; at 0 the timer goes away */
  private live = 0;

  /** monitors running */
  get size(): number {
    return this.live;
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
   * Counts a monitor out. The caller marks it so that its bucket entry reads
   * as stale (bucket no longer matching); the entry is dropped on the visit.
   */
  leave(): void {
    if (--this.live > 0) return;
    this.live = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerBucket = Infinity;
    this.buckets.clear();
    this.heap.length = 0;
  }

  schedule(entry: Scheduled, due: number): void {
    const bucket = Math.ceil(due / RESOLUTION);
    if (entry.bucket === bucket) return;
    entry.bucket = bucket;
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
    this.timer = setTimeout(this.run, Math.max(0, bucket * RESOLUTION - preciseClock()));
    // The connections keep the process alive, not their watchdog.
    this.timer.unref();
  }

  private readonly run = (): void => {
    this.timer = null;
    this.timerBucket = Infinity;
    const now = preciseClock();
    const failures: unknown[] = [];
    while (this.heap.length > 0 && this.heap[0] * RESOLUTION <= now) {
      const bucket = this.pop();
      const list = this.buckets.get(bucket)!;
      this.buckets.delete(bucket);
      for (const entry of list) {
        // Filed again elsewhere, or stopped: a stale entry.
        if (entry.bucket !== bucket) continue;
        entry.bucket = -1;
        try {
          entry.visit(now);
        } catch (error) {
          // A throwing user listener must not starve the other monitors.
          failures.push(error);
        }
      }
    }
    if (this.heap.length > 0 && this.live > 0) this.arm(this.heap[0]);
    for (const error of failures) {
      process.nextTick(() => {
        throw error;
      });
    }
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

/** The process-wide scheduler every monitor uses. */
export const scheduler = new Scheduler();
