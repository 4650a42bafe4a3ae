// The live protected sockets: a list threaded through the sockets themselves.
//
// Not a Set. In a connection churn, a Set holding each socket from its
// protection to its destroy made V8's young-generation collections keep
// the closed connections alive until a full collection (Node 24: 4.6 to
// 11 MB survived each scavenge instead of 34 KB; Node 20 and 26 too), and
// the floor of bench/preload.js with a Set added did the same; with two
// links on each socket, neither does (docs/protect.md, "Cost"). Adding or
// removing is a few stores: no hashing, no table to grow or shrink.
const kNext = Symbol('tcp-keepalive.live-next');
const kPrev = Symbol('tcp-keepalive.live-prev');

// One set of link keys: an object is in at most one LiveSockets list (the
// process has one, protect.ts's), and constant keys keep the accesses cheap.
interface Link {
  [kNext]?: Link;
  [kPrev]?: Link;
}

export class LiveSockets<T extends object> {
  /** The ring's sentinel: its next is the oldest socket, its previous the newest. */
  private readonly ends: Link = {};
  private count = 0;

  constructor() {
    this.ends[kNext] = this.ends;
    this.ends[kPrev] = this.ends;
  }

  get size(): number {
    return this.count;
  }

  has(socket: T): boolean {
    return (socket as Link)[kNext] !== undefined;
  }

  /** Appends the socket; false if it is listed already. */
  add(socket: T): boolean {
    const link = socket as Link;
    if (link[kNext] !== undefined) return false;
    const newest = this.ends[kPrev]!;
    link[kPrev] = newest;
    link[kNext] = this.ends;
    newest[kNext] = link;
    this.ends[kPrev] = link;
    this.count++;
    return true;
  }

  /** Unlinks the socket (its links become undefined, not deleted: deleting would change its hidden class); false if it was not listed. */
  delete(socket: T): boolean {
    const link = socket as Link;
    const next = link[kNext];
    if (next === undefined) return false;
    const previous = link[kPrev]!;
    previous[kNext] = next;
    next[kPrev] = previous;
    link[kNext] = undefined;
    link[kPrev] = undefined;
    this.count--;
    return true;
  }

  /** Oldest first, from a copy taken now: the loop may delete what it visits. */
  [Symbol.iterator](): IterableIterator<T> {
    const sockets: T[] = [];
    for (let link = this.ends[kNext]!; link !== this.ends; link = link[kNext]!) sockets.push(link as T);
    return sockets.values();
  }
}
